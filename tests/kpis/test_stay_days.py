"""The funnel's rollup (deal_stay_day_totals and each stay's prev_stage_at, kept by triggers) stays equal to a fresh
aggregate of the stays through every kind of write (moves, re-entries, backdated and moved stays, ended stays,
trash and restore, outright deletes, a stage reorder that flips `advanced`, a change of the tenant's time zone,
many writers at once), no tenant sees another's rows; and /v1/kpis/funnel from the rollup gives exactly what the
stays give (deals once per stage, conversions, the average and the exact median) for every window of a data set
with repeats, ties, odd and even counts and middle values in different buckets."""

import asyncio
import random
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import text

from crm_api.kpis import reports
from crm_api.kpis.sql import Window
from tests.kit.rows import execute
from tests.pipelines.helpers import default_pipeline, make_deal, make_pipeline, stage_ids

ROLLUP = text("""
    SELECT pipeline_id, day, stage_id, bucket, sum(entered), sum(advanced), sum(left_count), sum(days_sum)
    FROM deal_stay_day_totals WHERE tenant_id = :tenant GROUP BY 1, 2, 3, 4
    HAVING sum(entered) <> 0 OR sum(advanced) <> 0 OR sum(left_count) <> 0 OR sum(days_sum) <> 0""")
FRESH = text("""
    SELECT h.pipeline_id, (h.entered_at AT TIME ZONE z.time_zone)::date, h.stage_id,
           CASE WHEN h.left_at IS NULL THEN -1
                ELSE width_bucket(extract(epoch FROM h.left_at - h.entered_at), CAST(:bounds AS numeric[])) END,
           count(*), count(*) FILTER (WHERE h.advanced), count(h.left_at),
           coalesce(sum(extract(epoch FROM h.left_at - h.entered_at) / 86400), 0)
    FROM deal_stage_history h JOIN deals d ON d.id = h.deal_id AND d.deleted_at IS NULL
    JOIN tenants z ON z.id = h.tenant_id
    WHERE h.tenant_id = :tenant GROUP BY 1, 2, 3, 4""")
# Duration buckets: under a minute, then a factor of 2^(1/3) each up to about two years.
BOUNDS = [round(60 * 2 ** (i / 3)) for i in range(61)]
# Each stay's previous stay of the same deal in the same stage (by entered_at, id).
PREVIOUS = text("""
    SELECT h.id, h.prev_stage_at, (SELECT max(l.entered_at) FROM deal_stage_history l
                                   WHERE l.deal_id = h.deal_id AND l.stage_id = h.stage_id
                                     AND (l.entered_at, l.id) < (h.entered_at, h.id))
    FROM deal_stage_history h WHERE h.tenant_id = :tenant""")


async def assert_exact(owner_engine, tenant):
    """The rollup equals a fresh aggregate of the stays, and every prev_stage_at its fresh value; returns the
    fresh rows."""
    async with owner_engine.connect() as conn:
        kept, made = [{tuple(r[:4]): tuple(Decimal(v) for v in r[4:])
                       for r in (await conn.execute(q, {"tenant": tenant.id, "bounds": BOUNDS})).all()}
                      for q in (ROLLUP, FRESH)]
        assert kept == made
        for _, stored, fresh in (await conn.execute(PREVIOUS, {"tenant": tenant.id})).all():
            assert stored == fresh
    return made


async def move(tenant, deal, stage, **body):
    response = await tenant.post(f"/v1/deals/{deal}/move", json={"stage_id": stage, **body})
    assert response.status_code == 200, response.text


async def test_stay_rollup_follows_every_write(make_tenant, owner_engine):
    tenant = await make_tenant("Tokyo", time_zone="Asia/Tokyo")
    other = await make_tenant("Other")
    pipeline = await default_pipeline(tenant)
    s = stage_ids(pipeline)
    a = (await make_deal(tenant, title="a", stage_id=s["Lead in"]))["id"]
    b = (await make_deal(tenant, title="b", stage_id=s["Lead in"]))["id"]
    c = (await make_deal(tenant, title="c", stage_id=s["Demo"]))["id"]
    o = (await make_deal(other, title="o", stage_id=stage_ids(await default_pipeline(other))["Demo"]))["id"]
    others = await assert_exact(owner_engine, other)
    made = await assert_exact(owner_engine, tenant)
    assert sum(v[0] for v in made.values()) == 3 and all(k[3] == -1 for k in made)
    # Forwards, back (a re-entry: a repeat of Lead in), to lost, won, reopened.
    for deal, stage in ((a, "Qualified"), (a, "Lead in"), (a, "Demo"), (b, "Won"), (c, "Lost"), (c, "Qualified")):
        await move(tenant, deal, s[stage], **({"lost_note": "Price"} if stage == "Lost" else {}))
        await assert_exact(owner_engine, tenant)
    async with owner_engine.connect() as conn:
        repeats = (await conn.execute(text("SELECT count(*) FROM deal_stage_history WHERE tenant_id = :t "
                                           "AND prev_stage_at IS NOT NULL"), {"t": tenant.id})).scalar_one()
    assert repeats == 1
    # Stays backdated into other days and buckets, ended later, moved to another stage and deal.
    await execute(owner_engine, "UPDATE deal_stage_history SET entered_at = entered_at - interval '3 days 5 hours' "
                                "WHERE deal_id = :d AND stage_id = :s", d=uuid.UUID(a), s=uuid.UUID(s["Lead in"]))
    made = await assert_exact(owner_engine, tenant)
    assert {k[3] for k in made} - {-1} and len({k[1] for k in made}) > 1
    await execute(owner_engine, "UPDATE deal_stage_history SET left_at = left_at + interval '40 days' "
                                "WHERE deal_id = :d AND left_at IS NOT NULL", d=uuid.UUID(c))
    await assert_exact(owner_engine, tenant)
    await execute(owner_engine, "UPDATE deal_stage_history SET stage_id = :s, deal_id = :b "
                                "WHERE deal_id = :d AND stage_id = :q",
                  s=uuid.UUID(s["Lead in"]), b=uuid.UUID(b), d=uuid.UUID(c), q=uuid.UUID(s["Demo"]))
    await assert_exact(owner_engine, tenant)
    # A reorder flips `advanced` flags (UPDATEs of the stays).
    order = [s[n] for n in ("Lead in", "Demo", "Qualified", "Proposal", "Negotiation", "Won", "Lost")]
    before = sum(v[1] for v in (await assert_exact(owner_engine, tenant)).values())
    response = await tenant.post(f"/v1/pipelines/{pipeline['id']}/stages/reorder", json={"stage_ids": order})
    assert response.status_code == 200, response.text
    assert sum(v[1] for v in (await assert_exact(owner_engine, tenant)).values()) != before
    # Trash and restore; outright deletes of a live and of a trashed deal; a stay deleted.
    assert (await tenant.delete(f"/v1/deals/{a}")).status_code == 204
    made = await assert_exact(owner_engine, tenant)
    assert (await tenant.post(f"/v1/deals/{a}/restore")).status_code == 200
    await assert_exact(owner_engine, tenant)
    await execute(owner_engine, "DELETE FROM deals WHERE id = :d", d=uuid.UUID(a))
    await assert_exact(owner_engine, tenant)
    assert (await tenant.delete(f"/v1/deals/{c}")).status_code == 204
    await execute(owner_engine, "DELETE FROM deals WHERE id = :d", d=uuid.UUID(c))
    await assert_exact(owner_engine, tenant)
    await execute(owner_engine, "DELETE FROM deal_stage_history WHERE deal_id = :d AND left_at IS NOT NULL",
                  d=uuid.UUID(b))
    await assert_exact(owner_engine, tenant)
    # Another time zone: the tenant's rows are rebuilt in it; the other tenant's are untouched throughout.
    d = (await make_deal(tenant, title="d", stage_id=s["Demo"]))["id"]
    await execute(owner_engine, "UPDATE deal_stage_history SET entered_at = '2026-03-10T20:00:00Z' WHERE deal_id = :d",
                  d=uuid.UUID(d))
    assert any(k[1] == date(2026, 3, 11) for k in await assert_exact(owner_engine, tenant))  # 05:00 in Tokyo
    await execute(owner_engine, "UPDATE tenants SET time_zone = 'America/Los_Angeles' WHERE id = :t", t=tenant.id)
    made = await assert_exact(owner_engine, tenant)
    assert any(k[1] == date(2026, 3, 10) for k in made) and not any(k[1] == date(2026, 3, 11) for k in made)
    assert await assert_exact(owner_engine, other) == others
    assert (await other.get(f"/v1/deals/{o}")).status_code == 200


async def test_stay_rollup_exact_under_concurrent_writers(make_tenant, owner_engine):
    """Many moves at once (each its own transaction, shards by backend): the rollup stays exact."""
    tenant = await make_tenant("Berlin", time_zone="Europe/Berlin")
    s = stage_ids(await default_pipeline(tenant))
    deals = await asyncio.gather(*(make_deal(tenant, title=f"deal {n}", stage_id=s["Lead in"]) for n in range(12)))
    for stages in (("Demo", "Qualified", "Won"), ("Lead in", "Lead in", "Lead in")):
        moves = [tenant.post(f"/v1/deals/{d['id']}/move", json={"stage_id": s[stages[n % 3]]})
                 for n, d in enumerate(deals)]
        assert {r.status_code for r in await asyncio.gather(*moves)} == {200}
    made = await assert_exact(owner_engine, tenant)
    assert sum(v[0] for v in made.values()) == 36 and sum(v[2] for v in made.values()) == 24


DAY = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday; the data set spans 12 days from it


async def test_funnel_from_the_rollup_equals_the_stays(make_tenant, owner_engine):
    """Random stays (re-entries, same-day and cross-day repeats, ties, durations from seconds to weeks,
    backdated), and for every window of the 12 days the rollup's funnel equals the stays' (the base query)."""
    tenant = await make_tenant("Berlin", time_zone="Europe/Berlin")
    pipeline = await make_pipeline(tenant, stages=[("New", 10, "open", None), ("Call", 30, "open", None),
                                                   ("Offer", 50, "open", None), ("Won", 100, "won", None),
                                                   ("Lost", 0, "lost", None)])
    stages = [s["id"] for s in pipeline["stages"]]
    rng = random.Random(11)
    deals = [(await make_deal(tenant, title=f"d{i}", stage_id=stages[0]))["id"] for i in range(24)]
    trashed = deals[-2]
    durations = [0, 1, 60, 432, 3600, 28800, 29088, 86400, 86400, 86400 * 3 + 17, 700000, 1.5]
    rows = []
    for deal in deals:
        at = DAY + timedelta(hours=rng.randrange(0, 24 * 4))
        for n in range(rng.randrange(1, 7)):
            stage = stages[rng.choice((0, 0, 1, 1, 2, 3, 4))] if n else stages[0]
            seconds = rng.choice(durations) if rng.random() < 0.5 else rng.randrange(1, 400000)
            left = None if n == 5 or rng.random() < 0.1 else at + timedelta(seconds=seconds)
            rows.append({"t": tenant.id, "i": uuid.uuid4(), "d": uuid.UUID(deal), "p": uuid.UUID(pipeline["id"]),
                         "s": uuid.UUID(stage), "e": at, "l": left})
            if left is None:
                break
            at = left if rng.random() < 0.8 else at + timedelta(hours=rng.randrange(1, 30))
    await execute(owner_engine, "DELETE FROM deal_stage_history WHERE tenant_id = :t", t=tenant.id)
    async with owner_engine.begin() as conn:
        await conn.execute(text("""
            INSERT INTO deal_stage_history (tenant_id, id, deal_id, pipeline_id, stage_id, status, entered_at, left_at,
                                            entered_by)
            VALUES (:t, :i, :d, :p, :s, 'open', :e, :l, '{"type": "system", "id": null}')"""), rows)
    assert (await tenant.delete(f"/v1/deals/{trashed}")).status_code == 204
    await assert_exact(owner_engine, tenant)
    async with owner_engine.connect() as conn:
        repeats = (await conn.execute(text("SELECT count(*) FROM deal_stage_history WHERE tenant_id = :t "
                                           "AND prev_stage_at IS NOT NULL"), {"t": tenant.id})).scalar_one()
    assert repeats > 5

    seen = set()
    async with owner_engine.connect() as conn:
        for first in range(12):
            for last in range(first, 12):
                window = Window(DAY.date() + timedelta(days=first), DAY.date() + timedelta(days=last), "Europe/Berlin")
                params = {"t": tenant.id, "p": uuid.UUID(pipeline["id"]), **window.params(None)}
                fresh, rolled = [[tuple(r) for r in (await conn.execute(text(q), params)).all()]
                                 for q in (reports._funnel_stays(None), reports.FUNNEL_DAYS)]
                assert rolled == fresh, (first, last)
                for r in fresh:
                    left = (await conn.execute(text(
                        "SELECT count(*) FROM deal_stage_history h WHERE h.stage_id = :s AND h.left_at IS NOT NULL "
                        f"AND h.entered_at >= :s0 AND h.entered_at < :e0 AND {reports.LIVE}"),
                        {"s": r[0], "s0": window.start, "e0": window.end})).scalar_one() if r[7] is not None else 0
                    seen.add(("even" if left % 2 == 0 else "odd") if left else "none")
    assert seen == {"even", "odd", "none"}
    # And through the API (the rollup path) the same, for the whole span.
    response = await tenant.get("/v1/kpis/funnel", params={"pipeline_id": pipeline["id"], "from": "2026-03-02",
                                                           "to": "2026-03-13"})
    assert response.status_code == 200, response.text
    async with owner_engine.connect() as conn:
        window = Window(date(2026, 3, 2), date(2026, 3, 13), "Europe/Berlin")
        fresh = (await conn.execute(text(reports._funnel_stays(None)),
                                    {"t": tenant.id, "p": uuid.UUID(pipeline["id"]), **window.params(None)})).all()
    assert [(s["entered"], s["average_days"], s["median_days"]) for s in response.json()["stages"]] == [
        (r.entered, reports.decimal_text(r.average), reports.decimal_text(r.median)) for r in fresh]
    assert sum(s["entered"] for s in response.json()["stages"]) > 0
