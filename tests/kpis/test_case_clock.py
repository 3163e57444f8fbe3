"""The SLA clock's readings stored on cases (first_response_seconds, resolution_seconds), which the service KPIs
average where an SLA applies: business time of the policy's calendar since creation less the time paused."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import text

from crm_api.cases.business_time import Calendar, clock_seconds, minutes_between

OFFICE_HOURS = {"time_zone": "Europe/Berlin", "days": {d: [["09:00", "17:00"]] for d in ("mon", "tue", "wed", "thu",
                                                                                           "fri")}}
BERLIN = Calendar.from_json(OFFICE_HOURS)


async def _readings(owner_engine, case_id):
    async with owner_engine.connect() as conn:
        return (await conn.execute(text(
            "SELECT created_at, first_response_at, resolved_at, first_response_seconds, resolution_seconds "
            "FROM cases WHERE id = :i"), {"i": case_id})).one()


async def _shift(owner_engine, case_id, column, delta):
    async with owner_engine.begin() as conn:
        await conn.execute(text(f"UPDATE cases SET {column} = {column} - CAST(:d AS interval) WHERE id = :i"),
                           {"d": delta, "i": case_id})


def test_clock_seconds_counts_business_time_less_pauses():
    friday = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)  # 16:00 in Berlin
    monday = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # 10:00 in Berlin: 1 h on Friday + 1 h on Monday
    assert clock_seconds(BERLIN, friday, monday) == 7200
    assert clock_seconds(BERLIN, friday, monday, paused_minutes=30) == 5400
    assert clock_seconds(BERLIN, friday, monday, paused_minutes=500) == 0  # never negative
    assert clock_seconds(None, friday, monday) == 66 * 3600  # 24/7


async def test_first_response_and_resolution_store_the_sla_clock(tenant, owner_engine):
    policy = await tenant.post("/v1/sla-policies", json={"name": "Office", "business_hours": OFFICE_HOURS, "targets": {
        "normal": {"first_response_minutes": 240, "resolution_minutes": 1440}}})
    assert policy.status_code == 201, policy.text
    case = (await tenant.post("/v1/cases", json={"subject": "Printer", "status": "open"})).json()
    await _shift(owner_engine, case["id"], "created_at", timedelta(days=9))  # over a weekend, in the past
    reply = {"direction": "outbound", "body": "On it"}
    assert (await tenant.post(f"/v1/cases/{case['id']}/messages", json=reply)).status_code == 201
    created, responded, _, first, resolution = await _readings(owner_engine, case["id"])
    assert first == clock_seconds(BERLIN, created, responded) and resolution is None
    assert first < Decimal((responded - created).total_seconds())  # nights and the weekend do not count

    # Pending for (at least) two days, then resolved: the pause does not count.
    assert (await tenant.patch(f"/v1/cases/{case['id']}", json={"status": "pending"})).status_code == 200
    async with owner_engine.begin() as conn:
        await conn.execute(text("UPDATE cases SET sla_paused_at = sla_paused_at - interval '2 days' WHERE id = :i"),
                           {"i": case["id"]})
        paused_at = (await conn.execute(text("SELECT sla_paused_at FROM cases WHERE id = :i"),
                                        {"i": case["id"]})).scalar_one()
    assert (await tenant.patch(f"/v1/cases/{case['id']}", json={"status": "resolved"})).status_code == 200
    created, _, resolved, _, resolution = await _readings(owner_engine, case["id"])
    assert resolution == clock_seconds(BERLIN, created, resolved, minutes_between(BERLIN, paused_at, resolved))
    assert resolution < clock_seconds(BERLIN, created, resolved)

    # Reopening clears the resolution reading; without a policy nothing is stored.
    assert (await tenant.patch(f"/v1/cases/{case['id']}", json={"status": "open"})).status_code == 200
    assert (await _readings(owner_engine, case["id"]))[4] is None
    low = (await tenant.post("/v1/cases", json={"subject": "No SLA", "priority": "low"})).json()
    assert (await tenant.post(f"/v1/cases/{low['id']}/messages", json=reply)).status_code == 201
    assert (await _readings(owner_engine, low["id"]))[3] is None
