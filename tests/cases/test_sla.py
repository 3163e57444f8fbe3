"""SLA policies: business-time due dates, pauses, and escalations announced exactly once."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import text

from crm_api.cases.jobs import escalate_tenant

BERLIN = ZoneInfo("Europe/Berlin")
OFFICE_HOURS = {
    "time_zone": "Europe/Berlin",
    "days": {d: [["09:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")},
    "holidays": ["2026-12-25", "2026-12-28"],
}


def berlin(*args):
    return datetime(*args, tzinfo=BERLIN)


def parse(value):
    return datetime.fromisoformat(value)


async def _policy(tenant, **fields):
    body = {"name": "Standard", "targets": {
        "normal": {"first_response_minutes": 120, "resolution_minutes": 960},
        "high": {"first_response_minutes": 60, "resolution_minutes": 480}}, **fields}
    response = await tenant.post("/v1/sla-policies", json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def _backdate(owner_engine, case_id, created_at):
    async with owner_engine.begin() as conn:
        await conn.execute(text("UPDATE cases SET created_at = :c WHERE id = :i"),
                           {"c": created_at.astimezone(UTC), "i": case_id})


async def test_due_times_in_business_hours_across_a_weekend_and_holidays(tenant, owner_engine):
    await _policy(tenant, business_hours=OFFICE_HOURS)
    case = (await tenant.post("/v1/cases", json={"subject": "Weekend", "priority": "normal"})).json()
    assert case["sla_policy_id"] is not None
    # Thursday 24 Dec 2026 16:00 Berlin: 1 h that day, Fri 25 holiday, weekend, Mon 28 holiday.
    await _backdate(owner_engine, case["id"], berlin(2026, 12, 24, 16, 0))
    case = (await tenant.patch(f"/v1/cases/{case['id']}", json={"priority": "high"})).json()
    assert parse(case["first_response_due_at"]) == berlin(2026, 12, 24, 17, 0)  # 60 minutes
    assert parse(case["resolution_due_at"]) == berlin(2026, 12, 29, 16, 0)  # 1 h + 7 h on Tue 29th
    case = (await tenant.patch(f"/v1/cases/{case['id']}", json={"priority": "normal"})).json()
    assert parse(case["first_response_due_at"]) == berlin(2026, 12, 29, 10, 0)  # 1 h + 1 h after holidays
    assert parse(case["resolution_due_at"]) == berlin(2026, 12, 30, 16, 0)  # 1 h + 8 h + 7 h


async def test_policies_apply_by_position_and_criteria(tenant):
    await _policy(tenant, name="Email only", position=1, applies_to={"channels": ["email"]})
    general = await _policy(tenant, name="General", position=5)
    urgent_only = await _policy(tenant, name="VIP", position=0, applies_to={"priorities": ["urgent"]},
                                targets={"urgent": {"first_response_minutes": 5, "resolution_minutes": 60}})
    phone = (await tenant.post("/v1/cases", json={"subject": "x", "channel": "phone"})).json()
    assert phone["sla_policy_id"] == general["id"]
    urgent = (await tenant.post("/v1/cases", json={"subject": "x", "priority": "urgent"})).json()
    assert urgent["sla_policy_id"] == urgent_only["id"]
    low = (await tenant.post("/v1/cases", json={"subject": "x", "priority": "low"})).json()
    assert low["sla_policy_id"] is None and low["resolution_due_at"] is None  # no target for low


async def test_pending_stops_the_clock_and_moves_the_due_times(tenant, owner_engine):
    await _policy(tenant)  # 24/7
    case = (await tenant.post("/v1/cases", json={"subject": "Waiting", "status": "open"})).json()
    due = parse(case["resolution_due_at"])
    paused = (await tenant.patch(f"/v1/cases/{case['id']}", json={"status": "pending"})).json()
    assert paused["sla_paused"] is True
    async with owner_engine.begin() as conn:  # the customer took 3 hours to answer
        await conn.execute(text("UPDATE cases SET sla_paused_at = sla_paused_at - interval '3 hours' "
                                "WHERE id = :i"), {"i": case["id"]})
    resumed = (await tenant.patch(f"/v1/cases/{case['id']}", json={"status": "open"})).json()
    assert resumed["sla_paused"] is False
    assert abs(parse(resumed["resolution_due_at"]) - (due + timedelta(hours=3))) < timedelta(seconds=5)


async def test_escalation_is_announced_exactly_once_across_worker_runs(tenant, owner_engine, worker_ctx):
    agent = (await tenant.post("/v1/users", json={"email": "lead@ex.com", "name": "Team lead"})).json()
    await _policy(tenant, escalation={"raise_priority": True, "reassign_to": agent["id"]})
    case = (await tenant.post("/v1/cases", json={"subject": "Slow"})).json()
    await _backdate(owner_engine, case["id"], datetime.now(UTC) - timedelta(minutes=100))
    await tenant.patch(f"/v1/cases/{case['id']}", json={"type": "problem"})  # reschedule from the new start

    announced = await escalate_tenant(worker_ctx, tenant.id)  # first response: warned at 96 min, not due
    assert announced == 1
    await _backdate(owner_engine, case["id"], datetime.now(UTC) - timedelta(minutes=130))
    await tenant.patch(f"/v1/cases/{case['id']}", json={"channel": "web"})
    assert await escalate_tenant(worker_ctx, tenant.id) == 1  # the breach
    assert await escalate_tenant(worker_ctx, tenant.id) == 0  # a second worker run announces nothing

    async with owner_engine.connect() as conn:
        types = (await conn.execute(text(
            "SELECT type, data->>'sla_target' FROM events WHERE tenant_id = :t AND type LIKE 'case.sla_%' "
            "ORDER BY sequence"), {"t": tenant.id})).all()
    assert [tuple(t) for t in types] == [("case.sla_warning", "first_response"),
                                         ("case.sla_breached", "first_response")]
    escalated = (await tenant.get(f"/v1/cases/{case['id']}")).json()
    assert escalated["priority"] == "high" and escalated["assignee_id"] == agent["id"]
    assert escalated["first_response_breached"] is True
    breached = (await tenant.get("/v1/cases", params={"breached": "true"})).json()["data"]
    assert [c["id"] for c in breached] == [case["id"]]


async def test_policy_validation_tenancy_and_scopes(tenant, other_tenant):
    policy = await _policy(tenant)
    for bad in ({"name": "x", "targets": {"normal": {"first_response_minutes": 0, "resolution_minutes": 5}}},
                {"name": "x", "targets": {}, "business_hours": {"time_zone": "Mars/Base", "days": {}}},
                {"name": "x", "targets": {}, "business_hours": {"time_zone": "UTC", "days": {"mon": [["18:00",
                                                                                                        "09:00"]]}}},
                {"name": "x", "targets": {}, "warning_threshold": 1.5},
                {"name": "x", "targets": {}, "escalation": {"reassign_to": "00000000-0000-0000-0000-000000000000"}}):
        assert (await tenant.post("/v1/sla-policies", json=bad)).status_code == 422, bad
    assert (await other_tenant.get(f"/v1/sla-policies/{policy['id']}")).status_code == 404
    reader = await tenant.with_scopes("sla_policies:read")
    assert (await reader.get("/v1/sla-policies")).status_code == 200
    assert (await reader.post("/v1/sla-policies", json={"name": "x", "targets": {}})).status_code == 403


async def test_the_case_timeline_shows_messages_and_the_escalation(tenant, owner_engine, worker_ctx):
    await _policy(tenant, escalation={"raise_priority": True})
    case = (await tenant.post("/v1/cases", json={"subject": "Timeline"})).json()
    await tenant.post(f"/v1/cases/{case['id']}/messages", json={"direction": "inbound", "body": "Help"})
    await _backdate(owner_engine, case["id"], datetime.now(UTC) - timedelta(minutes=130))  # first response late
    await tenant.patch(f"/v1/cases/{case['id']}", json={"type": "problem"})
    await escalate_tenant(worker_ctx, tenant.id)
    items = (await tenant.get(f"/v1/cases/{case['id']}/timeline", params={"limit": 50})).json()["data"]
    types = [i["event"]["type"] for i in items if i["kind"] == "event"]
    assert types[-2:] == ["case_message.created", "case.created"]  # newest first
    assert {"case.sla_breached", "case.sla_warning", "case_message.created", "case.created"} <= set(types)
    breach = next(i["event"] for i in items if i["kind"] == "event" and i["event"]["type"] == "case.updated"
                  and i["event"]["data"]["previous"] == {"priority": "normal"})
    assert breach["data"]["object"]["priority"] == "high"
    other = await tenant.get(f"/v1/cases/{case['id']}/timeline", headers={"Authorization": "Bearer crm_nope"})
    assert other.status_code == 401
