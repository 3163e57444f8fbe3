"""case_service_day_totals (migration 20261127_1001) stays equal to a fresh aggregate of the cases through every
kind of write, and /v1/kpis/service from it (exact medians from the duration histogram and the middle buckets'
cases) equals the report computed from the cases themselves, on groups of odd and even sizes."""

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import text

from crm_api.kit.uow import UnitOfWork
from crm_api.kpis import reports
from crm_api.kpis.sql import Window
from tests.kit.rows import execute
from tests.pipelines.helpers import created

ROLLUP = text("""
    SELECT kind, day, bucket, sum(count), sum(hours_sum), sum(same_day), sum(reopened), sum(with_sla), sum(kept)
    FROM case_service_day_totals WHERE tenant_id = :tenant GROUP BY 1, 2, 3
    HAVING sum(count) <> 0 OR sum(hours_sum) <> 0 OR sum(same_day) <> 0 OR sum(reopened) <> 0
        OR sum(with_sla) <> 0 OR sum(kept) <> 0""")
LOCAL = "AT TIME ZONE (SELECT time_zone FROM tenants WHERE id = :tenant))::date"


def _fresh(kind: str, at: str, seconds: str, flags: str) -> str:
    return f"""
        SELECT '{kind}', ({at} {LOCAL}, crm_duration_bucket({seconds}), count(*), sum({seconds} / 3600), {flags}
        FROM cases WHERE tenant_id = :tenant AND deleted_at IS NULL AND {at} IS NOT NULL GROUP BY 1, 2, 3"""


RESOLUTION = reports.RESOLUTION.replace("c.", "")
RESPONSE = reports.RESPONSE.replace("c.", "")
RESOLVED_FLAGS = f"""
    count(*) FILTER (WHERE (resolved_at {LOCAL} = (created_at {LOCAL}), count(*) FILTER (WHERE reopened_count > 0),
    count(sla_policy_id), count(*) FILTER (WHERE sla_policy_id IS NOT NULL AND first_response_breached_at IS NULL
                                           AND resolution_breached_at IS NULL)"""
# Kind 'csat': the scores' histogram (the score as the bucket) on the local day of the rating.
CSAT = f"""
    SELECT 'csat', (satisfaction_at {LOCAL}, satisfaction_score, count(*), 0, 0, 0, 0, 0
    FROM cases WHERE tenant_id = :tenant AND deleted_at IS NULL AND satisfaction_score IS NOT NULL
      AND satisfaction_at IS NOT NULL
    GROUP BY 1, 2, 3"""
FRESH = text(_fresh("resolved", "resolved_at", RESOLUTION, RESOLVED_FLAGS)
             + " UNION ALL " + _fresh("answered", "first_response_at", RESPONSE, "0, 0, 0, 0") + " UNION ALL " + CSAT)

KEY_ROLLUP = text("""
    SELECT kind, attribute, day, value, channel, sum(count), sum(hours_sum), sum(same_day), sum(reopened),
           sum(with_sla), sum(kept)
    FROM case_key_day_totals WHERE tenant_id = :tenant GROUP BY 1, 2, 3, 4, 5
    HAVING sum(count) <> 0 OR sum(hours_sum) <> 0 OR sum(same_day) <> 0 OR sum(reopened) <> 0
        OR sum(with_sla) <> 0 OR sum(kept) <> 0""")
BREACH = "LEAST(first_response_breached_at, resolution_breached_at)"


def _keyed(attribute: str, column: str) -> str:
    """case_key_day_totals' rows under one attribute, afresh."""
    def one(kind: str, at: str, channel: str, seconds: str | None, flags: str) -> str:
        hours = f"sum({seconds} / 3600)" if seconds else "0"
        return f"""
            SELECT '{kind}', '{attribute}', ({at} {LOCAL}, {column}::text, {channel}, count(*), {hours}, {flags}
            FROM cases WHERE tenant_id = :tenant AND deleted_at IS NULL AND {at} IS NOT NULL GROUP BY 1, 2, 3, 4, 5"""
    return " UNION ALL ".join((
        one("opened", "created_at", "channel", None, "0, 0, 0, 0"),
        one("breached", BREACH, "''", None, "0, 0, 0, 0"),
        one("resolved", "resolved_at", "''", RESOLUTION, RESOLVED_FLAGS),
        one("answered", "first_response_at", "''", RESPONSE, "0, 0, 0, 0")))


KEY_FRESH = text(_keyed("owner", "assignee_id") + " UNION ALL " + _keyed("team", "team"))


async def exact(owner_engine, tenant) -> dict:
    """Both rollups equal fresh aggregates; returns case_service_day_totals' fresh rows."""
    async with owner_engine.connect() as conn:
        kept, made = [{tuple(r[:5]): tuple(Decimal(v) for v in r[5:])
                       for r in (await conn.execute(q, {"tenant": tenant.id})).all()} for q in (KEY_ROLLUP, KEY_FRESH)]
        assert kept == made
        kept, made = [{tuple(r[:3]): tuple(Decimal(v) for v in r[3:])
                       for r in (await conn.execute(q, {"tenant": tenant.id})).all()} for q in (ROLLUP, FRESH)]
    assert kept == made
    return made


def at(day: int, hour: float = 0) -> datetime:
    return datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=day, hours=hour)


async def test_service_rollup_follows_every_write(make_tenant, other_tenant, owner_engine):
    tenant = await make_tenant("Berlin", time_zone="Europe/Berlin")
    policy = await created(tenant, "/v1/sla-policies", name="Standard", targets={
        "normal": {"first_response_minutes": 120, "resolution_minutes": 960}})
    ann = await created(tenant, "/v1/users", email="ann@example.com", name="Ann")
    cases = [(await created(tenant, "/v1/cases", subject=f"c{n}", channel="email"))["id"] for n in range(4)]
    theirs = await created(other_tenant, "/v1/cases", subject="theirs", channel="email")
    await execute(owner_engine, "UPDATE cases SET first_response_at = :f, resolved_at = :f WHERE id = :i",
                  f=at(3, 23.5), i=uuid.UUID(theirs["id"]))
    other = await exact(owner_engine, other_tenant)

    async def update(case: int, **values) -> None:
        columns = ", ".join(f"{k} = :{k}" for k in values)
        await execute(owner_engine, f"UPDATE cases SET {columns} WHERE id = :i", i=uuid.UUID(cases[case]), **values)
        await exact(owner_engine, tenant)

    # Resolved late on a Berlin evening (the next local day), answered within minutes; another the same day.
    await update(0, created_at=at(3, 10), first_response_at=at(3, 10.1), resolved_at=at(3, 23.5))
    await update(1, created_at=at(4, 9), first_response_at=at(4, 12), resolved_at=at(4, 15), status="resolved")
    # SLA readings set: the clock's seconds count instead of calendar time; breaches unkeep it.
    await update(1, sla_policy_id=uuid.UUID(policy["id"]), first_response_seconds=Decimal("1234.567"),
                 resolution_seconds=7200)
    await update(1, resolution_breached_at=at(4, 14))
    await update(2, created_at=at(10), first_response_at=at(12, 23.5), sla_policy_id=uuid.UUID(policy["id"]))
    # Reopened, resolved again later.
    await update(0, resolved_at=None, reopened_count=1, status="open")
    await update(0, resolved_at=at(20, 8), status="resolved")
    # Reassigned, team changed.
    response = await tenant.patch(f"/v1/cases/{cases[3]}", json={"assignee_id": ann["id"], "team": "tier2"})
    assert response.status_code == 200, response.text
    await exact(owner_engine, tenant)
    await update(3, first_response_at=at(1, 2), resolved_at=at(1, 3))
    # Rated through the API (now), then backdated to a Berlin evening (the next local day), re-scored, and the
    # same score another day; a score without its time, the time without a score.
    response = await tenant.post(f"/v1/cases/{cases[1]}/satisfaction", json={"score": 4})
    assert response.status_code == 200, response.text
    await exact(owner_engine, tenant)
    await update(1, satisfaction_at=at(5, 23.5))
    await update(1, satisfaction_score=2)
    await update(0, satisfaction_score=2, satisfaction_at=at(5, 12))
    await update(3, satisfaction_score=5, satisfaction_at=at(7))
    await update(2, satisfaction_score=3)
    await update(3, satisfaction_score=None)
    await update(3, satisfaction_score=1)
    # Trash, restore, delete outright.
    assert (await tenant.delete(f"/v1/cases/{cases[1]}")).status_code == 204
    fresh = await exact(owner_engine, tenant)
    assert sum(v[0] for k, v in fresh.items() if k[0] == "resolved") == 2
    assert {k[2]: v[0] for k, v in fresh.items() if k[0] == "csat"} == {2: 1, 1: 1}
    assert (await tenant.post(f"/v1/cases/{cases[1]}/restore")).status_code == 200
    await exact(owner_engine, tenant)
    await execute(owner_engine, "DELETE FROM cases WHERE id = :i", i=uuid.UUID(cases[3]))
    fresh = await exact(owner_engine, tenant)
    assert sum(v[0] for k, v in fresh.items() if k[0] == "resolved") == 2
    # The tenant's time zone: case 2 answered at 23:30 UTC on 13 Jan (14 Jan in Berlin) moves back a local day.
    assert {k[1] for k in fresh if k[0] == "answered"} == {date(2026, 1, 4), date(2026, 1, 5), date(2026, 1, 14)}
    assert {k[1]: v[0] for k, v in fresh.items() if k[0] == "csat"} == {date(2026, 1, 6): 1, date(2026, 1, 7): 1}
    await execute(owner_engine, "UPDATE tenants SET time_zone = 'UTC' WHERE id = :t", t=tenant.id)
    fresh = await exact(owner_engine, tenant)
    assert {k[1] for k in fresh if k[0] == "answered"} == {date(2026, 1, 4), date(2026, 1, 5), date(2026, 1, 13)}
    assert {k[1]: v[0] for k, v in fresh.items() if k[0] == "csat"} == {date(2026, 1, 6): 2}
    assert await exact(owner_engine, other_tenant) == other != {}


async def report(app, tenant, zone: str, group_by: str | None, first: date, last: date):
    async with UnitOfWork(app.state.sessionmaker) as uow:
        await uow.set_tenant(tenant.id)
        return await reports.service(uow, Window(first, last, zone), group_by, None)


async def test_rollup_path_equals_cases_path(app, make_tenant, owner_engine):
    """The tenant is in UTC; a window in 'Etc/UTC' (the same local days) makes the report read the cases."""
    tenant = await make_tenant("Odd and even", time_zone="UTC")
    policy = await created(tenant, "/v1/sla-policies", name="Standard", targets={
        "normal": {"first_response_minutes": 120, "resolution_minutes": 960}})
    users = [(await created(tenant, "/v1/users", email=f"u{n}@example.com", name=f"U{n}"))["id"] for n in range(3)]
    rows = []
    # 29 cases over five weeks of January: resolution times spread over many buckets, some with equal values,
    # some with SLA readings; groups (days, weeks, the month, the total) of odd and even sizes; ratings of 2 and 5,
    # a few days with the same score twice.
    for n in range(29):
        created_at = at(n % 11 * 3, n % 7)
        minutes = [7, 95, 95, 400, 1500, 20, 3000, 61, 61, 180][n % 10] * (1 + n // 10)
        resolved_at = created_at + timedelta(minutes=minutes) if n % 6 else None
        answered = created_at + timedelta(minutes=minutes / (2 + n % 3)) if n % 5 else None
        sla = n % 4 == 0
        rows.append(dict(c=created_at, r=resolved_at, f=answered, p=uuid.UUID(policy["id"]) if sla else None,
                         rs=Decimal(minutes * 45) if sla and n % 8 else None, fs=Decimal("901.5") if sla else None,
                         o=n % 9 == 0, b=at(n % 11 * 3, 20) if n % 13 == 0 else None,
                         a=uuid.UUID(users[n % 3]) if n % 4 else None, team=[None, "tier1", "tier2"][n % 3],
                         s=2 + n % 4 // 2 * 3 if n % 3 else None, sa=at(n % 6 * 6, 12 + n % 13)))
    for row in rows:
        case = await created(tenant, "/v1/cases", subject="Help", channel="email")
        await execute(owner_engine, """UPDATE cases SET created_at = :c, resolved_at = :r, first_response_at = :f,
                                       sla_policy_id = :p, resolution_seconds = :rs, first_response_seconds = :fs,
                                       reopened_count = CASE WHEN :o THEN 1 ELSE 0 END, resolution_breached_at = :b,
                                       assignee_id = :a, team = :team, satisfaction_score = :s,
                                       satisfaction_at = :sa WHERE id = :i""", i=uuid.UUID(case["id"]), **row)
    await exact(owner_engine, tenant)
    for first, last in ((date(2026, 1, 1), date(2026, 1, 31)), (date(2026, 1, 4), date(2026, 2, 20)),
                        (date(2026, 1, 7), date(2026, 1, 7))):
        for group_by in (None, "day", "week", "month", "owner", "team"):
            from_rollup = await report(app, tenant, "UTC", group_by, first, last)
            from_cases = await report(app, tenant, "Etc/UTC", group_by, first, last)
            assert from_rollup == from_cases, (first, last, group_by)
    totals, _ = await report(app, tenant, "UTC", None, date(2026, 1, 1), date(2026, 1, 31))
    assert totals.cases_resolved == 24 and totals.median_resolution_hours is not None
    assert totals.csat_responses == 19 and totals.csat_average == "3.42"


async def test_a_group_reaching_outside_a_one_day_window(app, make_tenant, owner_engine):
    """A week or month group of a one-day window holds only that day: its median reads its middle bucket's cases
    of that day, not those of the same bucket resolved the day before or after."""
    tenant = await make_tenant("Weeks", time_zone="UTC")
    # 61, 62 and 60 minutes, the same duration bucket: resolved on Tuesday 6, Wednesday 7 and Thursday 8 January
    # (weeks start on Monday 5 January).
    for day, minutes in ((5, 61), (6, 62), (7, 60)):
        case = await created(tenant, "/v1/cases", subject="Help", channel="email")
        await execute(owner_engine, "UPDATE cases SET created_at = :c, resolved_at = :r WHERE id = :i",
                      c=at(day, 10), r=at(day, 10) + timedelta(minutes=minutes), i=uuid.UUID(case["id"]))
    for group_by in ("week", "month"):
        from_rollup = await report(app, tenant, "UTC", group_by, date(2026, 1, 7), date(2026, 1, 7))
        assert from_rollup == await report(app, tenant, "Etc/UTC", group_by, date(2026, 1, 7), date(2026, 1, 7))
        totals, (group,) = from_rollup
        assert totals.median_resolution_hours == group.metrics.median_resolution_hours == "1.03"
