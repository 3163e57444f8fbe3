"""Pipelines: the default pipeline, CRUD with stages inline, one default per tenant, trash, tenancy, scopes."""

import uuid

import pytest

from tests.kit.rows import assert_problem, error_fields, events_of
from tests.pipelines.helpers import created, default_pipeline, make_deal, make_pipeline, stage_ids


async def test_a_new_tenant_starts_with_the_default_pipeline(tenant):
    pipeline = await default_pipeline(tenant)
    assert pipeline["is_default"] is True
    assert [(s["name"], s["position"], s["probability"], s["kind"]) for s in pipeline["stages"]] == [
        ("Lead in", 0, 10, "open"), ("Qualified", 1, 20, "open"), ("Demo", 2, 40, "open"),
        ("Proposal", 3, 60, "open"), ("Negotiation", 4, 80, "open"), ("Won", 5, 100, "won"), ("Lost", 6, 0, "lost")]
    assert all(s["rotting_days"] == 30 for s in pipeline["stages"][:5])
    assert pipeline["stages"][5]["rotting_days"] is None


async def test_create_get_update_with_stages_inline(tenant):
    pipeline = await make_pipeline(tenant, "Partners")
    assert [s["name"] for s in pipeline["stages"]] == ["New", "Offer", "Won", "Lost"]
    assert [s["position"] for s in pipeline["stages"]] == [0, 1, 2, 3]
    assert all(s["pipeline_id"] == pipeline["id"] for s in pipeline["stages"])
    response = await tenant.get(f"/v1/pipelines/{pipeline['id']}")
    assert response.json() == pipeline
    assert response.headers["etag"] == '"1"'
    patched = await tenant.patch(f"/v1/pipelines/{pipeline['id']}", json={"name": "Channel partners"},
                                 headers={"If-Match": '"1"'})
    assert patched.status_code == 200, patched.text
    assert patched.json()["name"] == "Channel partners"
    assert patched.json()["version"] == 2
    stale = await tenant.patch(f"/v1/pipelines/{pipeline['id']}", json={"name": "X"}, headers={"If-Match": '"1"'})
    assert_problem(stale, 412)


async def test_stage_probability_defaults_follow_the_kind(tenant):
    pipeline = (await tenant.post("/v1/pipelines", json={"name": "P", "stages": [
        {"name": "Open"}, {"name": "Won", "kind": "won"}, {"name": "Lost", "kind": "lost"}]})).json()
    assert [(s["kind"], s["probability"]) for s in pipeline["stages"]] == [("open", 0), ("won", 100), ("lost", 0)]


async def test_one_default_pipeline_per_tenant(tenant, owner_engine):
    old = await default_pipeline(tenant)
    new = await make_pipeline(tenant, "Enterprise", is_default=True)
    assert new["is_default"] is True
    assert (await tenant.get(f"/v1/pipelines/{old['id']}")).json()["is_default"] is False
    defaults = (await tenant.get("/v1/pipelines", params={"is_default": "true"})).json()["data"]
    assert [p["id"] for p in defaults] == [new["id"]]
    # The old default's change is an event too.
    events = [e for e in await events_of(owner_engine, tenant.id) if e["object_type"] == "pipeline"]
    assert [(e["type"], str(e["object_id"])) for e in events] == [
        ("pipeline.updated", old["id"]), ("pipeline.created", new["id"])]
    assert events[0]["previous"] == {"is_default": True}
    # Deals without a pipeline go to the new default's first open stage.
    deal = await make_deal(tenant)
    assert (deal["pipeline_id"], deal["stage_id"]) == (new["id"], new["stages"][0]["id"])
    back = await tenant.patch(f"/v1/pipelines/{old['id']}", json={"is_default": True})
    assert back.json()["is_default"] is True
    assert (await tenant.get(f"/v1/pipelines/{new['id']}")).json()["is_default"] is False


async def test_names_are_unique_per_tenant(tenant, other_tenant):
    first = await make_pipeline(tenant, "Renewals")
    response = await tenant.post("/v1/pipelines", json={"name": "renewals"})
    body = assert_problem(response, 409)
    assert body["existing_id"] == first["id"]
    assert (await other_tenant.post("/v1/pipelines", json={"name": "Renewals"})).status_code == 201


async def test_list_is_keyset_paginated_and_sorted(tenant):
    for name in ("b", "c", "a"):
        await make_pipeline(tenant, name, stages=[])
    response = await tenant.get("/v1/pipelines", params={"sort": "name", "limit": 2})
    page = response.json()
    assert [p["name"] for p in page["data"]] == ["a", "b"]
    rest = (await tenant.get("/v1/pipelines", params={"sort": "name", "limit": 2,
                                                      "cursor": page["next_cursor"]})).json()
    assert [p["name"] for p in rest["data"]] == ["c", "Sales pipeline"]
    assert rest["next_cursor"] is None


@pytest.mark.parametrize(("body", "field"), [
    ({}, "name"),
    ({"name": ""}, "name"),
    ({"name": "P", "stages": [{"name": "S", "probability": 101}]}, "stages.0.probability"),
    ({"name": "P", "stages": [{"name": "S", "kind": "maybe"}]}, "stages.0.kind"),
    ({"name": "P", "stages": [{"name": "S", "rotting_days": 0}]}, "stages.0.rotting_days"),
    ({"name": "P", "color": "red"}, "color"),
])
async def test_bad_input_is_422(tenant, body, field):
    response = await tenant.post("/v1/pipelines", json=body)
    assert_problem(response, 422)
    assert field in error_fields(response)
    assert len((await tenant.get("/v1/pipelines")).json()["data"]) == 1


async def test_unknown_filter_is_422(tenant):
    assert_problem(await tenant.get("/v1/pipelines", params={"colour": "red"}), 422)


async def test_delete_restore_and_a_pipeline_holding_deals(tenant):
    pipeline = await make_pipeline(tenant)
    deal = await make_deal(tenant, pipeline_id=pipeline["id"])
    assert_problem(await tenant.delete(f"/v1/pipelines/{pipeline['id']}"), 409)
    assert (await tenant.delete(f"/v1/deals/{deal['id']}")).status_code == 204
    assert (await tenant.delete(f"/v1/pipelines/{pipeline['id']}")).status_code == 204
    assert_problem(await tenant.get(f"/v1/pipelines/{pipeline['id']}"), 404)
    # A deal whose pipeline is in the trash cannot come back before it.
    assert_problem(await tenant.post(f"/v1/deals/{deal['id']}/restore"), 409)
    restored = await tenant.post(f"/v1/pipelines/{pipeline['id']}/restore")
    assert restored.status_code == 200
    assert [s["name"] for s in restored.json()["stages"]] == ["New", "Offer", "Won", "Lost"]
    assert (await tenant.post(f"/v1/deals/{deal['id']}/restore")).status_code == 200


async def test_trashing_the_default_pipeline_leaves_no_default(tenant):
    pipeline = await default_pipeline(tenant)
    assert (await tenant.delete(f"/v1/pipelines/{pipeline['id']}")).status_code == 204
    response = await tenant.post("/v1/deals", json={"title": "Nowhere"})
    assert_problem(response, 422)
    assert error_fields(response) == {"pipeline_id"}
    restored = (await tenant.post(f"/v1/pipelines/{pipeline['id']}/restore")).json()
    assert restored["is_default"] is False


async def test_another_tenants_pipeline_is_404_everywhere(tenant, other_tenant):
    theirs = await default_pipeline(other_tenant)
    stage = theirs["stages"][0]["id"]
    base = f"/v1/pipelines/{theirs['id']}"
    for method, url, body in [
        ("GET", base, None), ("PATCH", base, {"name": "Mine"}), ("DELETE", base, None),
        ("GET", f"{base}/stages", None), ("POST", f"{base}/stages", {"name": "S"}),
        ("GET", f"{base}/stages/{stage}", None), ("PATCH", f"{base}/stages/{stage}", {"name": "S"}),
        ("DELETE", f"{base}/stages/{stage}", None),
        ("POST", f"{base}/stages/reorder", {"stage_ids": [s["id"] for s in theirs["stages"]]}),
        ("GET", f"{base}/board", None), ("POST", f"{base}/restore", None),
    ]:
        assert_problem(await tenant.request(method, url, json=body), 404)
    assert (await other_tenant.get(base)).json() == theirs
    # Their stage is no stage of ours either.
    response = await tenant.post("/v1/deals", json={"title": "T", "stage_id": stage})
    assert_problem(response, 422)
    assert error_fields(response) == {"stage_id"}


async def test_unknown_pipeline_id_is_404(tenant):
    assert_problem(await tenant.get(f"/v1/pipelines/{uuid.uuid4()}"), 404)
    assert_problem(await tenant.get(f"/v1/pipelines/{uuid.uuid4()}/board"), 404)


@pytest.mark.parametrize(("method", "path", "scope"), [
    ("GET", "/v1/pipelines", "pipelines:read"),
    ("GET", "/v1/pipelines/{id}", "pipelines:read"),
    ("POST", "/v1/pipelines", "pipelines:write"),
    ("PATCH", "/v1/pipelines/{id}", "pipelines:write"),
    ("DELETE", "/v1/pipelines/{id}", "pipelines:write"),
    ("POST", "/v1/pipelines/{id}/restore", "pipelines:write"),
    ("GET", "/v1/pipelines/{id}/stages", "pipelines:read"),
    ("POST", "/v1/pipelines/{id}/stages", "pipelines:write"),
    ("GET", "/v1/pipelines/{id}/stages/{stage}", "pipelines:read"),
    ("PATCH", "/v1/pipelines/{id}/stages/{stage}", "pipelines:write"),
    ("DELETE", "/v1/pipelines/{id}/stages/{stage}", "pipelines:write"),
    ("POST", "/v1/pipelines/{id}/stages/reorder", "pipelines:write"),
    ("GET", "/v1/pipelines/{id}/board", "deals:read"),
])
async def test_a_key_without_the_scope_is_403_and_with_it_is_let_in(tenant, method, path, scope):
    pipeline = await make_pipeline(tenant, "Scoped")
    if path.endswith("/restore"):
        await tenant.delete(f"/v1/pipelines/{pipeline['id']}")
    stage = pipeline["stages"][1]["id"]
    url = path.format(id=pipeline["id"], stage=stage)
    body = {"POST": {"name": "Other"}, "PATCH": {"name": "Renamed"}}.get(method)
    if path.endswith("/reorder"):
        body = {"stage_ids": [s["id"] for s in reversed(pipeline["stages"])]}
    read, write = scope.split(":")[0] + ":read", scope.split(":")[0] + ":write"
    wrong = ["contacts:read", "contacts:write"] + ([read] if scope == write else [])
    lacking = await tenant.with_scopes(*wrong)
    assert_problem(await lacking.request(method, url, json=body), 403)
    after = await tenant.get(f"/v1/pipelines/{pipeline['id']}")
    if path.endswith("/restore"):
        assert after.status_code == 404
    else:
        assert after.json() == pipeline
    allowed = await tenant.with_scopes(scope)
    response = await allowed.request(method, url, json=body)
    assert response.status_code < 300, response.text


async def test_events_for_pipelines(tenant, owner_engine):
    pipeline = await created(tenant, "/v1/pipelines", name="Evented", stages=[{"name": "A"}])
    await tenant.patch(f"/v1/pipelines/{pipeline['id']}", json={"name": "Evented 2"})
    await tenant.delete(f"/v1/pipelines/{pipeline['id']}")
    await tenant.post(f"/v1/pipelines/{pipeline['id']}/restore")
    events = [e for e in await events_of(owner_engine, tenant.id) if str(e["object_id"]) == pipeline["id"]]
    assert [e["type"] for e in events] == ["pipeline.created", "pipeline.updated", "pipeline.deleted",
                                           "pipeline.restored"]
    assert events[0]["data"] == pipeline
    assert [s["name"] for s in events[0]["data"]["stages"]] == ["A"]
    assert events[1]["previous"] == {"name": "Evented"}
    assert stage_ids(events[3]["data"]) == stage_ids(pipeline)
