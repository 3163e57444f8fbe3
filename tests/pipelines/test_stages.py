"""Stages: insert at a position, update, reorder in one request, delete (moving the deals it holds)."""

import uuid

import pytest

from tests.kit.rows import assert_problem, count_rows, error_fields, events_of
from tests.pipelines.helpers import make_deal, make_pipeline, stage_ids


async def names(tenant, pipeline_id):
    data = (await tenant.get(f"/v1/pipelines/{pipeline_id}/stages")).json()["data"]
    assert [s["position"] for s in data] == list(range(len(data)))
    return [s["name"] for s in data]


async def test_list_and_get_stages(tenant):
    pipeline = await make_pipeline(tenant)
    page = (await tenant.get(f"/v1/pipelines/{pipeline['id']}/stages")).json()
    assert page == {"data": pipeline["stages"], "next_cursor": None}
    stage = pipeline["stages"][1]
    response = await tenant.get(f"/v1/pipelines/{pipeline['id']}/stages/{stage['id']}")
    assert response.json() == stage
    assert response.headers["etag"] == '"1"'
    other = await make_pipeline(tenant, "Other")
    assert_problem(await tenant.get(f"/v1/pipelines/{other['id']}/stages/{stage['id']}"), 404)


async def test_a_stage_is_inserted_where_asked_or_at_the_end(tenant):
    pipeline = await make_pipeline(tenant)
    url = f"/v1/pipelines/{pipeline['id']}/stages"
    response = await tenant.post(url, json={"name": "Demo", "probability": 30, "rotting_days": 7, "position": 1})
    assert response.status_code == 201, response.text
    stage = response.json()
    assert response.headers["location"] == f"{url}/{stage['id']}"
    assert (stage["position"], stage["probability"], stage["kind"], stage["rotting_days"]) == (1, 30, "open", 7)
    assert await names(tenant, pipeline["id"]) == ["New", "Demo", "Offer", "Won", "Lost"]
    await tenant.post(url, json={"name": "Parked", "kind": "lost"})
    await tenant.post(url, json={"name": "First", "position": 0})
    await tenant.post(url, json={"name": "Far", "position": 99})
    assert await names(tenant, pipeline["id"]) == ["First", "New", "Demo", "Offer", "Won", "Lost", "Parked", "Far"]


@pytest.mark.parametrize(("body", "field"), [
    ({}, "name"), ({"name": "S", "probability": -1}, "probability"), ({"name": "S", "kind": "closed"}, "kind"),
    ({"name": "S", "position": -1}, "position"), ({"name": "S", "rotting_days": 0}, "rotting_days"),
    ({"name": "S", "pipeline_id": str(uuid.uuid4())}, "pipeline_id"),
])
async def test_bad_stage_input_is_422(tenant, body, field):
    pipeline = await make_pipeline(tenant)
    response = await tenant.post(f"/v1/pipelines/{pipeline['id']}/stages", json=body)
    assert_problem(response, 422)
    assert field in error_fields(response)
    assert await names(tenant, pipeline["id"]) == ["New", "Offer", "Won", "Lost"]


async def test_update_a_stage_with_if_match(tenant):
    pipeline = await make_pipeline(tenant)
    url = f"/v1/pipelines/{pipeline['id']}/stages/{pipeline['stages'][0]['id']}"
    response = await tenant.patch(url, json={"name": "Inbox", "rotting_days": None}, headers={"If-Match": '"1"'})
    assert response.status_code == 200, response.text
    assert (response.json()["name"], response.json()["rotting_days"], response.json()["version"]) == ("Inbox", None, 2)
    assert response.headers["etag"] == '"2"'
    assert_problem(await tenant.patch(url, json={"name": "Late"}, headers={"If-Match": '"1"'}), 412)
    assert_problem(await tenant.patch(url, json={"name": None}), 422)
    assert_problem(await tenant.patch(url, json={"position": 3}), 422)
    assert (await tenant.get(url)).json()["name"] == "Inbox"


async def test_changing_probability_reweights_the_stage_deals(tenant):
    pipeline = await make_pipeline(tenant)
    stages = stage_ids(pipeline)
    deal = await make_deal(tenant, stage_id=stages["Offer"], amount={"amount": "1000"})
    assert (deal["probability"], deal["weighted_amount"]["amount"]) == (50, "500.00")
    await tenant.patch(f"/v1/pipelines/{pipeline['id']}/stages/{stages['Offer']}", json={"probability": 75})
    again = (await tenant.get(f"/v1/deals/{deal['id']}")).json()
    assert (again["probability"], again["weighted_amount"]) == (75, {"amount": "750.00", "currency": "EUR"})


async def test_the_kind_of_a_stage_holding_deals_cannot_change(tenant):
    pipeline = await make_pipeline(tenant)
    stages = stage_ids(pipeline)
    await make_deal(tenant, stage_id=stages["Offer"])
    url = f"/v1/pipelines/{pipeline['id']}/stages/{stages['Offer']}"
    assert_problem(await tenant.patch(url, json={"kind": "won"}), 409)
    assert (await tenant.get(url)).json()["kind"] == "open"
    empty = f"/v1/pipelines/{pipeline['id']}/stages/{stages['New']}"
    assert (await tenant.patch(empty, json={"kind": "lost"})).json()["kind"] == "lost"


async def test_reorder_in_one_request(tenant, owner_engine):
    pipeline = await make_pipeline(tenant)
    ids = [s["id"] for s in pipeline["stages"]]
    order = [ids[1], ids[0], ids[3], ids[2]]
    response = await tenant.post(f"/v1/pipelines/{pipeline['id']}/stages/reorder", json={"stage_ids": order})
    assert response.status_code == 200, response.text
    assert [s["id"] for s in response.json()["data"]] == order
    assert await names(tenant, pipeline["id"]) == ["Offer", "New", "Lost", "Won"]
    assert [s["id"] for s in (await tenant.get(f"/v1/pipelines/{pipeline['id']}")).json()["stages"]] == order
    [event] = [e for e in await events_of(owner_engine, tenant.id) if e["type"] == "pipeline.stages_reordered"]
    assert event["previous"] == {"stage_ids": ids}
    assert [s["id"] for s in event["data"]["stages"]] == order


@pytest.mark.parametrize("pick", [
    lambda ids: ids[:3], lambda ids: [*ids, ids[0]], lambda ids: [*ids[:3], str(uuid.uuid4())], lambda ids: [],
])
async def test_reorder_must_name_every_stage_once(tenant, pick):
    pipeline = await make_pipeline(tenant)
    ids = [s["id"] for s in pipeline["stages"]]
    response = await tenant.post(f"/v1/pipelines/{pipeline['id']}/stages/reorder", json={"stage_ids": pick(ids)})
    assert_problem(response, 422)
    assert error_fields(response) == {"stage_ids"}
    assert await names(tenant, pipeline["id"]) == ["New", "Offer", "Won", "Lost"]


async def test_delete_an_empty_stage_closes_the_gap(tenant, owner_engine):
    pipeline = await make_pipeline(tenant)
    stages = stage_ids(pipeline)
    url = f"/v1/pipelines/{pipeline['id']}/stages/{stages['Offer']}"
    assert_problem(await tenant.delete(url, headers={"If-Match": '"7"'}), 412)
    assert (await tenant.delete(url, headers={"If-Match": '"1"'})).status_code == 204
    assert await names(tenant, pipeline["id"]) == ["New", "Won", "Lost"]
    assert_problem(await tenant.get(url), 404)
    types = [e["type"] for e in await events_of(owner_engine, tenant.id) if str(e["object_id"]) == stages["Offer"]]
    assert types == ["pipeline_stage.deleted"]


async def test_a_stage_holding_deals_is_deleted_only_with_a_target_for_them(tenant, owner_engine):
    pipeline = await make_pipeline(tenant)
    stages = stage_ids(pipeline)
    deals = [await make_deal(tenant, title=f"D{i}", stage_id=stages["New"]) for i in range(3)]
    trashed = await make_deal(tenant, title="Trashed", stage_id=stages["New"])
    await tenant.delete(f"/v1/deals/{trashed['id']}")
    url = f"/v1/pipelines/{pipeline['id']}/stages/{stages['New']}"
    assert_problem(await tenant.delete(url), 409)
    # The target must be another live stage of the same kind.
    for target in (stages["New"], stages["Won"], str(uuid.uuid4())):
        response = await tenant.delete(url, params={"move_deals_to": target})
        assert_problem(response, 422)
        assert error_fields(response) == {"move_deals_to"}
    assert await names(tenant, pipeline["id"]) == ["New", "Offer", "Won", "Lost"]

    other = await make_pipeline(tenant, "Other")
    target = stage_ids(other)["Offer"]
    response = await tenant.delete(url, params={"move_deals_to": target})
    assert response.status_code == 204, response.text
    assert await names(tenant, pipeline["id"]) == ["Offer", "Won", "Lost"]
    for deal in deals:
        moved = (await tenant.get(f"/v1/deals/{deal['id']}")).json()
        assert (moved["pipeline_id"], moved["stage_id"], moved["version"]) == (other["id"], target, 2)
        assert moved["probability"] == 50
        history = (await tenant.get(f"/v1/deals/{deal['id']}/stage-history")).json()["data"]
        assert [(h["stage_name"], h["left_at"] is None) for h in history] == [("New", False), ("Offer", True)]
    moved = [e for e in await events_of(owner_engine, tenant.id) if e["type"] == "deal.stage_changed"]
    assert sorted(str(e["object_id"]) for e in moved) == sorted(d["id"] for d in deals)
    assert all(e["previous"]["stage_id"] == stages["New"] and e["data"]["stage_id"] == target for e in moved)
    # The trashed deal moved too, so it can come back.
    assert (await tenant.post(f"/v1/deals/{trashed['id']}/restore")).json()["stage_id"] == target
    assert await count_rows(owner_engine, "deals", tenant.id, "stage_id = :s", s=uuid.UUID(stages["New"])) == 0
