"""/v1/custom-fields: CRUD of definitions; key, type and object type are fixed; tenant and scope checks."""

from __future__ import annotations

import uuid

import pytest

from tests.kit.rows import assert_problem, error_fields


def _field(key: str = "tier", type: str = "text", object_type: str = "contact", **extra) -> dict:
    return {"object_type": object_type, "key": key, "label": key.title(), "type": type, **extra}


async def _create(tenant, **kwargs) -> dict:
    response = await tenant.post("/v1/custom-fields", json=_field(**kwargs))
    assert response.status_code == 201, response.text
    return response.json()


async def test_create_get_list_patch_delete_restore(tenant):
    response = await tenant.post("/v1/custom-fields", json=_field(
        "segment", "select", options=["smb", "enterprise"], required=False, description="Market segment"))
    assert response.status_code == 201, response.text
    field = response.json()
    assert {k: field[k] for k in ("object_type", "key", "label", "type", "options", "required", "description",
                                  "version")} == {
        "object_type": "contact", "key": "segment", "label": "Segment", "type": "select",
        "options": ["smb", "enterprise"], "required": False, "description": "Market segment", "version": 1}
    assert response.headers["location"] == f"/v1/custom-fields/{field['id']}"
    url = response.headers["location"]

    assert (await tenant.get(url)).json() == field
    company_field = await _create(tenant, key="segment", object_type="company")
    assert [f["id"] for f in (await tenant.get("/v1/custom-fields?object_type=contact")).json()["data"]] == [
        field["id"]]
    assert [f["id"] for f in (await tenant.get("/v1/custom-fields?object_type=company")).json()["data"]] == [
        company_field["id"]]
    assert [f["key"] for f in (await tenant.get("/v1/custom-fields?sort=key")).json()["data"]] == [
        "segment", "segment"]

    patched = await tenant.patch(url, json={"label": "Market", "options": ["smb", "mid", "enterprise"],
                                            "description": None})
    assert patched.status_code == 200, patched.text
    assert patched.json()["label"] == "Market"
    assert patched.json()["options"] == ["smb", "mid", "enterprise"]
    assert patched.json()["description"] is None
    assert patched.json()["version"] == 2

    assert (await tenant.delete(url)).status_code == 204
    assert_problem(await tenant.get(url), 404)
    assert field["id"] not in {f["id"] for f in (await tenant.get("/v1/custom-fields")).json()["data"]}
    restored = await tenant.post(f"{url}/restore")
    assert restored.status_code == 200
    assert restored.json()["label"] == "Market"


@pytest.mark.parametrize("change", [{"key": "other"}, {"type": "number"}, {"object_type": "company"}])
async def test_key_type_and_object_type_are_immutable(tenant, change):
    field = await _create(tenant)
    response = await tenant.patch(f"/v1/custom-fields/{field['id']}", json=change)
    assert_problem(response, 422)
    assert next(iter(change)) in error_fields(response)
    assert (await tenant.get(f"/v1/custom-fields/{field['id']}")).json() == field


async def test_options_belong_to_select_fields_only(tenant):
    for type in ("select", "multiselect"):
        assert_problem(await tenant.post("/v1/custom-fields", json=_field(f"no_opts_{type}", type)), 422)
        assert_problem(await tenant.post("/v1/custom-fields", json=_field(f"empty_{type}", type, options=[])), 422)
    assert_problem(await tenant.post("/v1/custom-fields", json=_field("txt", "text", options=["a"])), 422)

    text_field = await _create(tenant, key="plain")
    response = await tenant.patch(f"/v1/custom-fields/{text_field['id']}", json={"options": ["a"]})
    assert_problem(response, 422)
    assert "options" in error_fields(response)
    select_field = await _create(tenant, key="pick", type="select", options=["a"])
    response = await tenant.patch(f"/v1/custom-fields/{select_field['id']}", json={"options": None})
    assert_problem(response, 422)
    assert "options" in error_fields(response)


@pytest.mark.parametrize(("body", "field"), [
    (_field("Bad-Key"), "key"),
    (_field("1starts_with_digit"), "key"),
    (_field("k" * 65), "key"),
    (_field("ok", "colour"), "type"),
    (_field("ok", object_type="deal_room"), "object_type"),
    (_field("ok", label=""), "label"),
    ({**_field("ok"), "extra": True}, "extra"),
])
async def test_invalid_definitions_are_422(tenant, body, field):
    response = await tenant.post("/v1/custom-fields", json=body)
    assert_problem(response, 422)
    assert field in error_fields(response)


async def test_a_duplicate_key_for_the_same_object_type_is_409(tenant, other_tenant):
    first = await _create(tenant, key="dup")
    clash = await tenant.post("/v1/custom-fields", json=_field("dup", "number"))
    assert assert_problem(clash, 409)["existing_id"] == first["id"]
    assert (await tenant.post("/v1/custom-fields", json=_field("dup", object_type="company"))).status_code == 201
    assert (await other_tenant.post("/v1/custom-fields", json=_field("dup"))).status_code == 201
    # Once the first is trashed its key is free again, and the trashed one cannot come back over it.
    assert (await tenant.delete(f"/v1/custom-fields/{first['id']}")).status_code == 204
    second = await _create(tenant, key="dup")
    restore = await tenant.post(f"/v1/custom-fields/{first['id']}/restore")
    assert assert_problem(restore, 409)["existing_id"] == second["id"]


async def test_label_and_required_cannot_be_null(tenant):
    field = await _create(tenant)
    for name in ("label", "required"):
        response = await tenant.patch(f"/v1/custom-fields/{field['id']}", json={name: None})
        assert_problem(response, 422)
        assert name in error_fields(response)


async def test_another_tenants_field_is_404(tenant, other_tenant):
    theirs = await _create(other_tenant, key="theirs")
    url = f"/v1/custom-fields/{theirs['id']}"
    assert_problem(await tenant.get(url), 404)
    assert_problem(await tenant.patch(url, json={"label": "Mine"}), 404)
    assert_problem(await tenant.delete(url), 404)
    assert_problem(await tenant.post(f"{url}/restore"), 404)
    assert_problem(await tenant.get(f"/v1/custom-fields/{uuid.uuid4()}"), 404)
    assert (await tenant.get("/v1/custom-fields")).json()["data"] == []
    # Nor can a tenant set values of another tenant's fields.
    response = await tenant.post("/v1/contacts", json={"first_name": "X", "custom_fields": {"theirs": "v"}})
    assert_problem(response, 422)
    assert "custom_fields.theirs" in error_fields(response)
    assert (await other_tenant.get(url)).json()["label"] == "Theirs"


async def test_writing_definitions_needs_custom_fields_write(tenant):
    field = await _create(tenant)
    url = f"/v1/custom-fields/{field['id']}"
    reader = await tenant.with_scopes("custom_fields:read", "contacts:write")
    assert (await reader.get("/v1/custom-fields")).status_code == 200
    assert (await reader.get(url)).status_code == 200
    assert_problem(await reader.post("/v1/custom-fields", json=_field("new")), 403)
    assert_problem(await reader.patch(url, json={"label": "X"}), 403)
    assert_problem(await reader.delete(url), 403)
    assert_problem(await reader.post(f"{url}/restore"), 403)
    nothing = await tenant.with_scopes("contacts:read")
    assert_problem(await nothing.get("/v1/custom-fields"), 403)
    assert (await tenant.get(url)).json() == field
