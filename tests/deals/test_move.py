"""Moving deals: If-Match, won/lost/reopened with their events, lost reasons, other pipelines, stage history."""

import itertools
import uuid

from tests.kit.rows import assert_problem, error_fields, events_of
from tests.pipelines.helpers import created, make_deal, make_pipeline, stage_ids


async def deal_events(owner_engine, tenant, deal_id):
    return [e for e in await events_of(owner_engine, tenant.id) if str(e["object_id"]) == deal_id]


async def test_move_honours_if_match_and_writes_stage_changed(tenant, owner_engine):
    pipeline = await make_pipeline(tenant)
    stages = stage_ids(pipeline)
    deal = await make_deal(tenant, stage_id=stages["New"], amount={"amount": "200"})
    url = f"/v1/deals/{deal['id']}/move"
    stale = await tenant.post(url, json={"stage_id": stages["Offer"]}, headers={"If-Match": '"2"'})
    assert_problem(stale, 412)
    assert (await tenant.get(f"/v1/deals/{deal['id']}")).json() == deal
    response = await tenant.post(url, json={"stage_id": stages["Offer"]}, headers={"If-Match": '"1"'})
    assert response.status_code == 200, response.text
    moved = response.json()
    assert response.headers["etag"] == '"2"'
    assert (moved["stage_id"], moved["status"], moved["probability"], moved["weighted_amount"]["amount"],
            moved["version"]) == (stages["Offer"], "open", 50, "100.00", 2)
    assert moved["stage_entered_at"] > deal["stage_entered_at"]
    events = await deal_events(owner_engine, tenant, deal["id"])
    assert [e["type"] for e in events] == ["deal.created", "deal.stage_changed"]
    assert events[1]["data"] == moved
    assert events[1]["previous"]["stage_id"] == stages["New"]
    assert events[1]["previous"]["probability"] == 10
    assert events[1]["actor"]["type"] == "api_key"


async def test_win_lose_and_reopen(tenant, owner_engine):
    pipeline = await make_pipeline(tenant)
    stages = stage_ids(pipeline)
    reason = await created(tenant, "/v1/lost-reasons", name="Competitor")
    deal = await make_deal(tenant, stage_id=stages["Offer"])
    url = f"/v1/deals/{deal['id']}/move"

    won = (await tenant.post(url, json={"stage_id": stages["Won"]})).json()
    assert (won["status"], won["won_at"] is not None, won["probability"]) == ("won", True, 100)

    response = await tenant.post(url, json={"stage_id": stages["Lost"]})
    assert_problem(response, 422)
    assert error_fields(response) == {"lost_reason_id"}
    for bad in ({"lost_reason_id": str(uuid.uuid4())}, {"lost_note": "x" * 2001}):
        assert_problem(await tenant.post(url, json={"stage_id": stages["Lost"], **bad}), 422)
    response = await tenant.post(url, json={"stage_id": stages["Offer"], "lost_note": "not lost"})
    assert_problem(response, 422)
    assert error_fields(response) == {"lost_note"}
    assert (await tenant.get(f"/v1/deals/{deal['id']}")).json() == won

    lost = (await tenant.post(url, json={"stage_id": stages["Lost"], "lost_reason_id": reason["id"],
                                         "lost_note": "Cheaper offer"})).json()
    assert (lost["status"], lost["won_at"], lost["lost_at"] is not None, lost["lost_reason_id"], lost["lost_note"]) == (
        "lost", None, True, reason["id"], "Cheaper offer")

    reopened = (await tenant.post(url, json={"stage_id": stages["New"]})).json()
    assert (reopened["status"], reopened["won_at"], reopened["lost_at"], reopened["lost_reason_id"],
            reopened["lost_note"]) == ("open", None, None, None, None)

    events = await deal_events(owner_engine, tenant, deal["id"])
    assert [e["type"] for e in events] == [
        "deal.created", "deal.stage_changed", "deal.won", "deal.stage_changed", "deal.lost", "deal.stage_changed",
        "deal.reopened"]
    assert events[4]["data"]["lost_reason_id"] == reason["id"]
    assert events[6]["previous"]["status"] == "lost"
    assert events[6]["previous"]["lost_reason_id"] == reason["id"]
    assert (await tenant.get("/v1/deals", params={"lost_reason_id": reason["id"]})).json()["data"] == []


async def test_moving_to_the_same_stage_changes_nothing(tenant, owner_engine):
    deal = await make_deal(tenant)
    response = await tenant.post(f"/v1/deals/{deal['id']}/move", json={"stage_id": deal["stage_id"]})
    assert response.status_code == 200
    assert response.json()["version"] == 1
    assert [e["type"] for e in await deal_events(owner_engine, tenant, deal["id"])] == ["deal.created"]


async def test_move_between_pipelines(tenant):
    first = await make_pipeline(tenant, "First")
    second = await make_pipeline(tenant, "Second", stages=[("Intake", 5, "open", 3), ("Closed", 100, "won", None)])
    deal = await make_deal(tenant, stage_id=stage_ids(first)["Offer"])
    moved = (await tenant.post(f"/v1/deals/{deal['id']}/move", json={"stage_id": stage_ids(second)["Intake"]})).json()
    assert (moved["pipeline_id"], moved["stage_id"], moved["probability"]) == (
        second["id"], stage_ids(second)["Intake"], 5)
    assert [d["id"] for d in (await tenant.get("/v1/deals", params={"pipeline_id": second["id"]})).json()["data"]] == [
        deal["id"]]


async def test_move_validation(tenant, other_tenant):
    deal = await make_deal(tenant)
    theirs = await make_deal(other_tenant)
    url = f"/v1/deals/{deal['id']}/move"
    for body, field in [({}, "stage_id"), ({"stage_id": "x"}, "stage_id"),
                        ({"stage_id": str(uuid.uuid4())}, "stage_id"),
                        ({"stage_id": theirs["stage_id"]}, "stage_id"),
                        ({"stage_id": deal["stage_id"], "probability": 5}, "probability")]:
        response = await tenant.post(url, json=body)
        assert_problem(response, 422)
        assert field in error_fields(response)
    assert_problem(await tenant.post(f"/v1/deals/{uuid.uuid4()}/move", json={"stage_id": deal["stage_id"]}), 404)


async def test_stage_history_records_every_stay_and_who(tenant):
    user = await created(tenant, "/v1/users", email="rep@example.com", name="Rep", role="manager")
    as_user = await tenant.with_scopes("deals:read", "deals:write", user_id=user["id"])
    pipeline = await make_pipeline(tenant)
    stages = stage_ids(pipeline)
    deal = await make_deal(tenant, stage_id=stages["New"])
    url = f"/v1/deals/{deal['id']}"
    await as_user.post(f"{url}/move", json={"stage_id": stages["Offer"]})
    await tenant.post(f"{url}/move", json={"stage_id": stages["Won"]})
    await as_user.post(f"{url}/move", json={"stage_id": stages["Offer"]})
    history = (await tenant.get(f"{url}/stage-history")).json()
    assert history["next_cursor"] is None
    visits = history["data"]
    assert [(v["stage_name"], v["status"]) for v in visits] == [
        ("New", "open"), ("Offer", "open"), ("Won", "won"), ("Offer", "open")]
    assert [v["entered_by"]["type"] for v in visits] == ["api_key", "user", "api_key", "user"]
    assert visits[1]["entered_by"]["id"] == user["id"]
    assert [v["left_by"]["type"] if v["left_by"] else None for v in visits] == ["user", "api_key", "user", None]
    for earlier, later in itertools.pairwise(visits):
        assert earlier["left_at"] == later["entered_at"]
    assert visits[-1]["left_at"] is None
    assert visits[0]["entered_at"] == deal["created_at"]
    assert all(v["pipeline_id"] == pipeline["id"] for v in visits)

    first = (await tenant.get(f"{url}/stage-history", params={"limit": 3})).json()
    assert [v["id"] for v in first["data"]] == [v["id"] for v in visits[:3]]
    rest = (await tenant.get(f"{url}/stage-history", params={"limit": 3, "cursor": first["next_cursor"]})).json()
    assert [v["id"] for v in rest["data"]] == [visits[3]["id"]]
    for params in ({"limit": 0}, {"limit": 201}, {"cursor": "garbage"}, {"sort": "entered_at"}):
        assert_problem(await tenant.get(f"{url}/stage-history", params=params), 422)
