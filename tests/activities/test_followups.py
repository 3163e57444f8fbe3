"""Follow-ups: due buckets in the assignee's (or tenant's) time zone, and records' last/next activity."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo


def _midnight(zone: str, days: int = 0) -> datetime:
    local = datetime.now(ZoneInfo(zone)) + timedelta(days=days)
    return datetime(local.year, local.month, local.day, tzinfo=ZoneInfo(zone))


async def _task(tenant, due: datetime, **fields):
    response = await tenant.post("/v1/activities", json={"type": "task", "due_at": due.isoformat(), **fields})
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def _bucket(tenant, due, **params):
    response = await tenant.get("/v1/activities", params={"due": due, **params})
    assert response.status_code == 200, response.text
    return [a["id"] for a in response.json()["data"]]


async def test_due_buckets_follow_the_assignees_time_zone_around_midnight(make_tenant):
    tenant = await make_tenant(time_zone="UTC")
    zone = "Pacific/Auckland"  # far from UTC: a UTC reading would put these in other buckets
    user = (await tenant.post("/v1/users", json={"email": "nz@ex.com", "name": "Kiri", "time_zone": zone})).json()
    today, tomorrow = _midnight(zone), _midnight(zone, 1)
    mine = {"assignee_id": user["id"]}
    early_today = await _task(tenant, today + timedelta(minutes=1), **mine)
    late_today = await _task(tenant, tomorrow - timedelta(minutes=1), **mine)
    early_tomorrow = await _task(tenant, tomorrow + timedelta(minutes=1), **mine)
    yesterday = await _task(tenant, today - timedelta(minutes=1), **mine)
    done = await _task(tenant, today + timedelta(minutes=2), **mine)
    await tenant.patch(f"/v1/activities/{done}", json={"done": True})

    assert await _bucket(tenant, "today", **mine) == [early_today, late_today]
    assert await _bucket(tenant, "tomorrow", **mine) == [early_tomorrow]
    overdue = await _bucket(tenant, "overdue", **mine)
    assert overdue[0] == yesterday and late_today not in overdue and done not in overdue
    assert await _bucket(tenant, "upcoming", **mine) == [late_today, early_tomorrow]


async def test_without_an_assignee_zone_the_tenants_zone_decides(make_tenant):
    zone = "Asia/Tokyo"
    tenant = await make_tenant(time_zone=zone)
    tomorrow = _midnight(zone, 1)
    first_minute = await _task(tenant, tomorrow + timedelta(minutes=1))
    last_minute_today = await _task(tenant, tomorrow - timedelta(minutes=1))
    assert await _bucket(tenant, "tomorrow") == [first_minute]
    assert last_minute_today in await _bucket(tenant, "today")
    assert (await tenant.get("/v1/activities", params={"due": "someday"})).status_code == 422


async def test_records_know_their_last_and_next_activity(tenant):
    acme = (await tenant.post("/v1/companies", json={"name": "Acme"})).json()
    ada = (await tenant.post("/v1/contacts", json={"first_name": "Ada", "company_id": acme["id"]})).json()
    quiet = (await tenant.post("/v1/contacts", json={"first_name": "Quiet"})).json()
    called = "2026-11-01T10:00:00+00:00"
    await tenant.post("/v1/activities", json={"type": "call", "direction": "outbound", "occurred_at": called,
                                              "contact_ids": [ada["id"]], "company_id": acme["id"]})
    soon = (datetime.now(UTC) + timedelta(days=3)).replace(microsecond=0)
    task = (await tenant.post("/v1/activities", json={"type": "task", "due_at": soon.isoformat(),
                                                      "contact_ids": [ada["id"]]})).json()
    ada = (await tenant.get(f"/v1/contacts/{ada['id']}")).json()
    assert datetime.fromisoformat(ada["last_activity_at"]) == datetime.fromisoformat(called)
    assert datetime.fromisoformat(ada["next_activity_at"]) == soon
    company = (await tenant.get(f"/v1/companies/{acme['id']}")).json()
    assert company["last_activity_at"] is not None and company["next_activity_at"] is None

    stale = (await tenant.get("/v1/contacts", params={"last_activity_before": "2026-11-15T00:00:00Z"})).json()
    assert {c["id"] for c in stale["data"]} == {ada["id"], quiet["id"]}  # never contacted counts too
    no_next = (await tenant.get("/v1/contacts", params={"has_next_activity": "false"})).json()
    assert [c["id"] for c in no_next["data"]] == [quiet["id"]]

    await tenant.patch(f"/v1/activities/{task['id']}", json={"done": True})
    ada = (await tenant.get(f"/v1/contacts/{ada['id']}")).json()
    assert ada["next_activity_at"] is None and ada["last_activity_at"] > called  # the done task is the latest
    await tenant.delete(f"/v1/activities/{task['id']}")
    ada = (await tenant.get(f"/v1/contacts/{ada['id']}")).json()
    assert datetime.fromisoformat(ada["last_activity_at"]) == datetime.fromisoformat(called)


async def test_deals_without_a_next_step(tenant):
    pipeline = (await tenant.get("/v1/pipelines")).json()["data"][0]
    stage = (await tenant.get(f"/v1/pipelines/{pipeline['id']}/stages")).json()["data"][0]
    base = {"pipeline_id": pipeline["id"], "stage_id": stage["id"]}
    planned = (await tenant.post("/v1/deals", json={"title": "Planned", **base})).json()
    idle = (await tenant.post("/v1/deals", json={"title": "Idle", **base})).json()
    soon = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    await tenant.post("/v1/activities", json={"type": "task", "due_at": soon, "deal_id": planned["id"]})
    no_next = (await tenant.get("/v1/deals", params={"has_next_activity": "false"})).json()["data"]
    assert [d["id"] for d in no_next] == [idle["id"]]
    assert (await tenant.get(f"/v1/deals/{planned['id']}")).json()["next_activity_at"] is not None
    timeline = (await tenant.get(f"/v1/deals/{planned['id']}/timeline")).json()["data"]
    assert [i["kind"] for i in timeline] == ["activity", "event"]
