"""Lost reasons: CRUD, unique names, deals keep working when a reason goes, tenancy and scopes."""

import uuid

import pytest

from tests.kit.rows import assert_problem, error_fields, events_of
from tests.pipelines.helpers import created, make_deal, make_pipeline, stage_ids


async def test_crud_and_events(tenant, owner_engine):
    reason = await created(tenant, "/v1/lost-reasons", name="Price", description="Too expensive")
    url = f"/v1/lost-reasons/{reason['id']}"
    assert (await tenant.get(url)).json() == reason
    patched = (await tenant.patch(url, json={"description": None}, headers={"If-Match": '"1"'})).json()
    assert (patched["description"], patched["version"]) == (None, 2)
    await created(tenant, "/v1/lost-reasons", name="Competitor")
    listed = (await tenant.get("/v1/lost-reasons", params={"sort": "name"})).json()["data"]
    assert [r["name"] for r in listed] == ["Competitor", "Price"]
    assert (await tenant.delete(url)).status_code == 204
    assert (await tenant.post(f"{url}/restore")).status_code == 200
    types = [e["type"] for e in await events_of(owner_engine, tenant.id) if str(e["object_id"]) == reason["id"]]
    assert types == ["lost_reason.created", "lost_reason.updated", "lost_reason.deleted", "lost_reason.restored"]


async def test_names_are_unique_case_insensitively(tenant):
    reason = await created(tenant, "/v1/lost-reasons", name="Timing")
    body = assert_problem(await tenant.post("/v1/lost-reasons", json={"name": "TIMING"}), 409)
    assert body["existing_id"] == reason["id"]


@pytest.mark.parametrize(("body", "field"), [({}, "name"), ({"name": ""}, "name"), ({"name": "x" * 201}, "name"),
                                             ({"name": "X", "active": True}, "active")])
async def test_bad_input_is_422(tenant, body, field):
    response = await tenant.post("/v1/lost-reasons", json=body)
    assert_problem(response, 422)
    assert field in error_fields(response)


async def test_a_trashed_reason_cannot_be_given_but_stays_on_deals(tenant):
    pipeline = await make_pipeline(tenant)
    reason = await created(tenant, "/v1/lost-reasons", name="Price")
    deal = await make_deal(tenant, stage_id=stage_ids(pipeline)["Lost"], lost_reason_id=reason["id"])
    await tenant.delete(f"/v1/lost-reasons/{reason['id']}")
    response = await tenant.post("/v1/deals", json={"title": "T", "stage_id": stage_ids(pipeline)["Lost"],
                                                    "lost_reason_id": reason["id"]})
    assert_problem(response, 422)
    assert (await tenant.get(f"/v1/deals/{deal['id']}")).json()["lost_reason_id"] == reason["id"]


async def test_another_tenants_reason_is_404(tenant, other_tenant):
    theirs = await created(other_tenant, "/v1/lost-reasons", name="Theirs")
    url = f"/v1/lost-reasons/{theirs['id']}"
    for method, body in (("GET", None), ("PATCH", {"name": "Mine"}), ("DELETE", None)):
        assert_problem(await tenant.request(method, url, json=body), 404)
    assert_problem(await tenant.get(f"/v1/lost-reasons/{uuid.uuid4()}"), 404)
    assert (await tenant.get("/v1/lost-reasons")).json()["data"] == []


@pytest.mark.parametrize(("method", "scope"), [("GET", "lost_reasons:read"), ("POST", "lost_reasons:write")])
async def test_scopes(tenant, method, scope):
    lacking = await tenant.with_scopes("deals:read", "deals:write")
    body = {"name": "Scoped"} if method == "POST" else None
    assert_problem(await lacking.request(method, "/v1/lost-reasons", json=body), 403)
    allowed = await tenant.with_scopes(scope)
    assert (await allowed.request(method, "/v1/lost-reasons", json=body)).status_code < 300
