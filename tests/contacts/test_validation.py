"""Contacts: every bad input is a 422 problem+json naming the field, and changes nothing."""

import base64
import json
import uuid

import pytest

PROBLEM = "application/problem+json"


def assert_problem(response, status, field=None):
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["status"] == status
    assert {"type", "title", "detail", "instance"} <= set(body)
    if field is not None:
        assert field in [e["field"] for e in body["errors"]], body
    return body


async def add_custom_field(tenant, key, type_, **extra):
    response = await tenant.post("/v1/custom-fields", json={"object_type": "contact", "key": key, "label": key,
                                                             "type": type_, **extra})
    assert response.status_code == 201, response.text


async def count_contacts(tenant):
    return len((await tenant.get("/v1/contacts", params={"limit": 200})).json()["data"])


@pytest.mark.parametrize(("body", "field"), [
    ({"first_name": "Ada", "nickname": "A"}, "nickname"),
    ({"first_name": "Ada", "email": "not-an-email"}, "email"),
    ({"first_name": "Ada", "address": {"country": "ZZ"}}, "address.country"),
    ({"first_name": "Ada", "address": {"country": "DEU"}}, "address.country"),
    ({"first_name": "Ada", "address": {"town": "Berlin"}}, "address.town"),
    ({"first_name": "Ada", "lifecycle_stage": "king"}, "lifecycle_stage"),
    ({"first_name": "Ada", "phone": "call me"}, "phone"),
    ({"first_name": "Ada", "company_id": "nope"}, "company_id"),
    ({"first_name": "Ada", "tags": "vip"}, "tags"),
    ({"first_name": "   "}, "first_name"),
])
async def test_bad_body_is_422_naming_the_field(tenant, body, field):
    response = await tenant.post("/v1/contacts", json=body)
    assert_problem(response, 422, field)
    assert await count_contacts(tenant) == 0


@pytest.mark.parametrize("body", [{}, {"phone": "+49 30 1234567"}, {"job_title": "CEO", "tags": ["x"]},
                                  {"first_name": None, "last_name": None, "email": None}])
async def test_contact_without_name_or_email_is_422(tenant, body):
    assert_problem(await tenant.post("/v1/contacts", json=body), 422, "first_name")
    assert await count_contacts(tenant) == 0


async def test_a_contact_with_only_a_last_name_or_only_an_email_is_fine(tenant):
    assert (await tenant.post("/v1/contacts", json={"last_name": "Lovelace"})).status_code == 201
    assert (await tenant.post("/v1/contacts", json={"email": "x@example.com"})).status_code == 201


async def test_patch_with_unknown_field_or_bad_email_is_422_and_changes_nothing(tenant):
    created = (await tenant.post("/v1/contacts", json={"first_name": "Ada"})).json()
    url = f"/v1/contacts/{created['id']}"
    assert_problem(await tenant.patch(url, json={"first_name": "B", "colour": "red"}), 422, "colour")
    assert_problem(await tenant.patch(url, json={"first_name": "B", "email": "nope@"}), 422, "email")
    assert_problem(await tenant.patch(url, json={"address": {"country": "ZZ"}}), 422, "address.country")
    assert (await tenant.get(url)).json() == created


async def test_company_or_owner_that_does_not_exist_is_422(tenant):
    assert_problem(await tenant.post("/v1/contacts", json={"first_name": "A", "company_id": str(uuid.uuid4())}),
                   422, "company_id")
    assert_problem(await tenant.post("/v1/contacts", json={"first_name": "A", "owner_id": str(uuid.uuid4())}),
                   422, "owner_id")
    created = (await tenant.post("/v1/contacts", json={"first_name": "Ada"})).json()
    assert_problem(await tenant.patch(f"/v1/contacts/{created['id']}", json={"company_id": str(uuid.uuid4())}),
                   422, "company_id")
    assert await count_contacts(tenant) == 1


async def test_company_or_owner_of_another_tenant_is_422(tenant, other_tenant):
    company = (await other_tenant.post("/v1/companies", json={"name": "Theirs"})).json()
    user = (await other_tenant.post("/v1/users", json={"email": "them@example.com", "name": "Them"})).json()
    assert_problem(await tenant.post("/v1/contacts", json={"first_name": "A", "company_id": company["id"]}),
                   422, "company_id")
    assert_problem(await tenant.post("/v1/contacts", json={"first_name": "A", "owner_id": user["id"]}),
                   422, "owner_id")
    created = (await tenant.post("/v1/contacts", json={"first_name": "Ada"})).json()
    assert_problem(await tenant.patch(f"/v1/contacts/{created['id']}", json={"owner_id": user["id"]}),
                   422, "owner_id")
    assert (await tenant.get(f"/v1/contacts/{created['id']}")).json()["owner_id"] is None


async def test_unknown_custom_field_key_is_422(tenant):
    await add_custom_field(tenant, "score", "number")
    body = assert_problem(await tenant.post("/v1/contacts", json={"first_name": "A", "custom_fields": {"nope": 1}}),
                          422, "custom_fields.nope")
    assert "custom_fields.score" not in [e["field"] for e in body["errors"]]


async def test_a_company_custom_field_is_not_a_contact_custom_field(tenant):
    response = await tenant.post("/v1/custom-fields", json={"object_type": "company", "key": "tier", "label": "Tier",
                                                             "type": "text"})
    assert response.status_code == 201
    assert_problem(await tenant.post("/v1/contacts", json={"first_name": "A", "custom_fields": {"tier": "x"}}),
                   422, "custom_fields.tier")


async def test_another_tenants_custom_field_is_unknown_here(tenant, other_tenant):
    await add_custom_field(other_tenant, "score", "number")
    assert_problem(await tenant.post("/v1/contacts", json={"first_name": "A", "custom_fields": {"score": 1}}),
                   422, "custom_fields.score")


@pytest.mark.parametrize(("key", "type_", "extra", "value"), [
    ("score", "number", {}, "high"),
    ("score", "number", {}, True),
    ("vip", "boolean", {}, "yes"),
    ("born", "date", {}, "1815-13-10"),
    ("nickname", "text", {}, 5),
    ("tier", "select", {"options": ["gold", "silver"]}, "bronze"),
    ("site", "url", {}, "ftp://example.com"),
])
async def test_wrong_custom_field_value_type_is_422(tenant, key, type_, extra, value):
    await add_custom_field(tenant, key, type_, **extra)
    assert_problem(await tenant.post("/v1/contacts", json={"first_name": "A", "custom_fields": {key: value}}),
                   422, f"custom_fields.{key}")
    created = (await tenant.post("/v1/contacts", json={"first_name": "A"})).json()
    assert_problem(await tenant.patch(f"/v1/contacts/{created['id']}", json={"custom_fields": {key: value}}),
                   422, f"custom_fields.{key}")


async def test_required_custom_field_is_enforced(tenant):
    await add_custom_field(tenant, "region_code", "text", required=True)
    assert_problem(await tenant.post("/v1/contacts", json={"first_name": "A"}), 422, "custom_fields.region_code")
    created = await tenant.post("/v1/contacts", json={"first_name": "A", "custom_fields": {"region_code": "N"}})
    assert created.status_code == 201, created.text
    assert_problem(await tenant.patch(f"/v1/contacts/{created.json()['id']}",
                                      json={"custom_fields": {"region_code": None}}), 422, "custom_fields.region_code")


@pytest.mark.parametrize(("params", "field"), [
    ({"limit": 0}, "limit"),
    ({"limit": 201}, "limit"),
    ({"limit": "many"}, "limit"),
    ({"colour": "red"}, "colour"),
    ({"cursor": "not-a-cursor"}, "cursor"),
    ({"sort": "favourite_colour"}, "sort"),
    ({"sort": "-name"}, "sort"),
    ({"owner_id": "not-a-uuid"}, "owner_id"),
    ({"company_id": "42"}, "company_id"),
    ({"created_after": "yesterday"}, "created_after"),
    ({"lifecycle_stage": "king"}, "lifecycle_stage"),
    ({"custom_fields.nope": "1"}, "custom_fields.nope"),
    ({"q": ""}, "q"),
])
async def test_bad_list_parameters_are_422(tenant, params, field):
    assert_problem(await tenant.get("/v1/contacts", params=params), 422, field)


async def test_limit_bounds_are_inclusive(tenant):
    await tenant.post("/v1/contacts", json={"first_name": "A"})
    await tenant.post("/v1/contacts", json={"first_name": "B"})
    one = await tenant.get("/v1/contacts", params={"limit": 1})
    assert one.status_code == 200 and len(one.json()["data"]) == 1 and one.json()["next_cursor"]
    assert (await tenant.get("/v1/contacts", params={"limit": 200})).status_code == 200


async def test_wrong_custom_field_filter_value_is_422(tenant):
    await add_custom_field(tenant, "score", "number")
    await add_custom_field(tenant, "vip", "boolean")
    assert_problem(await tenant.get("/v1/contacts", params={"custom_fields.score": "high"}), 422,
                   "custom_fields.score")
    assert_problem(await tenant.get("/v1/contacts", params={"custom_fields.vip": "maybe"}), 422,
                   "custom_fields.vip")


def _cursor(payload):
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


@pytest.mark.parametrize("cursor", [
    _cursor({"not": "a list"}),
    _cursor(5),
    _cursor(["-created_at", [{"t": "not a time"}, {"u": str(uuid.uuid4())}]]),
    _cursor(["-created_at", ["2026-01-01", "x"]]),
    _cursor(["-created_at", [{"t": "2026-01-01T00:00:00+00:00"}, 7]]),
    _cursor(["-created_at", [{"t": "2026-01-01T00:00:00+00:00"}]]),
    _cursor(["last_name", ["smith", {"u": str(uuid.uuid4())}]]),
    "%%%",
])
async def test_a_tampered_cursor_is_422_never_500(tenant, cursor):
    await tenant.post("/v1/contacts", json={"first_name": "A"})
    assert_problem(await tenant.get("/v1/contacts", params={"cursor": cursor}), 422, "cursor")


@pytest.mark.parametrize("values", [[7, {"u": str(uuid.uuid4())}], [{"t": "2026-01-01T00:00:00+00:00"}, 7]])
async def test_a_tampered_last_name_cursor_is_422_never_500(tenant, values):
    await tenant.post("/v1/contacts", json={"last_name": "A"})
    response = await tenant.get("/v1/contacts", params={"sort": "last_name", "cursor": _cursor(["last_name", values])})
    assert_problem(response, 422, "cursor")


async def test_a_cursor_of_another_sort_is_422(tenant):
    for name in ("A", "B", "C"):
        await tenant.post("/v1/contacts", json={"first_name": name})
    cursor = (await tenant.get("/v1/contacts", params={"limit": 1, "sort": "last_name"})).json()["next_cursor"]
    assert cursor
    assert_problem(await tenant.get("/v1/contacts", params={"cursor": cursor}), 422, "cursor")


@pytest.mark.parametrize("params", [{}, {"name": ""}, {"colour": "red"}])
async def test_duplicates_without_a_parameter_is_422(tenant, params):
    assert_problem(await tenant.get("/v1/contacts/duplicates", params=params), 422)
