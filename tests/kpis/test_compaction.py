"""Rollup compaction: every rollup's shard rows merge into one row per key and rows of zeros go, with every sum and
every KPI answer unchanged, other tenants untouched, and writers never blocked (rows they hold are left for the
next run)."""

import asyncio
from decimal import Decimal

from sqlalchemy import text

from crm_api.kit.db import make_sessionmaker
from crm_api.kpis.compaction import compact_rollups, compact_tenant, rollups
from crm_api.worker import cron_jobs, functions
from tests.kpis.test_day_totals import assert_exact, log, ok
from tests.pipelines.helpers import created, default_pipeline, make_deal, stage_ids

ROLLUP_TABLES = {
    "activity_country_day_totals", "activity_day_totals", "case_day_totals", "case_key_day_totals",
    "case_service_day_totals", "deal_attribution_day_totals", "deal_board_totals", "deal_day_totals",
    "deal_open_totals", "deal_scoped_day_totals", "deal_stay_day_totals", "lead_attribution_day_totals",
    "activity_owner_country_day_totals", "deal_customer_day_totals"}


def _ctx(app) -> dict:
    return {"sessionmaker": app.state.sessionmaker, "settings": app.state.settings}


async def records(tenant) -> None:
    """Deals moved through stages, calls, meetings, leads and cases: rows in every rollup."""
    s = stage_ids(await default_pipeline(tenant))
    ann = (await created(tenant, "/v1/users", email="ann@example.com", name="Ann", team="North"))["id"]
    company = (await created(tenant, "/v1/companies", name="X", address={"country": "DE"}))["id"]
    for n in range(5):  # two won, two lost, one open
        deal = (await make_deal(tenant, title=f"d{n}", stage_id=s["Lead in"], owner_id=ann, company_id=company,
                                source="web", amount={"amount": f"{n + 1}0", "currency": "EUR"}))["id"]
        for stage in ("Proposal", "Won" if n % 2 else "Lost")[:1 if n == 4 else 2]:
            await ok(await tenant.post(f"/v1/deals/{deal}/move", json={
                "stage_id": s[stage], **({"lost_note": "Price"} if stage == "Lost" else {})}))
    await log(tenant, type="call", direction="outbound", occurred_at="2026-03-10T12:00:00Z", owner_id=ann,
              company_id=company)
    await log(tenant, type="meeting", starts_at="2026-03-11T09:00:00Z", ends_at="2026-03-11T10:00:00Z",
              owner_id=ann, company_id=company)
    await created(tenant, "/v1/leads", first_name="Lea", source="web_form")
    case = (await created(tenant, "/v1/cases", subject="Help", channel="email", assignee_id=ann))["id"]
    await ok(await tenant.patch(f"/v1/cases/{case}", json={"status": "resolved"}))


async def sums(owner_engine, tenant_id) -> dict:
    """Every rollup's sums per key of the tenant (keys with all sums zero left out)."""
    out = {}
    async with owner_engine.connect() as conn:
        for r in await rollups_of(owner_engine):
            keys, total = ", ".join(r.keys), ", ".join(f"sum({c})" for c in r.sums)
            for row in (await conn.execute(text(
                    f"SELECT {keys}, {total} FROM {r.name} WHERE tenant_id = :t GROUP BY {keys} "
                    f"HAVING {' OR '.join(f'sum({c}) <> 0' for c in r.sums)}"), {"t": tenant_id})).all():
                out[(r.name, *row[:len(r.keys)])] = tuple(Decimal(v) for v in row[len(r.keys):])
    return out


async def rows(owner_engine, tenant_id) -> dict:
    """Every rollup row of the tenant as stored: (table, key..., shard) -> sums."""
    out = {}
    async with owner_engine.connect() as conn:
        for r in await rollups_of(owner_engine):
            for row in (await conn.execute(text(
                    f"SELECT {', '.join(r.keys)}, shard, {', '.join(r.sums)} FROM {r.name} WHERE tenant_id = :t"),
                    {"t": tenant_id})).all():
                out[(r.name, *row[:len(r.keys) + 1])] = tuple(row[len(r.keys) + 1:])
    return out


async def rollups_of(owner_engine):
    return await rollups(make_sessionmaker(owner_engine))


async def spread(owner_engine, tenant_ids) -> None:
    """What many writers leave behind: each key's sums s spread over shards as 2s (shard 0) + s (5) - 2s (6), and
    keys whose records moved away as rows of zeros."""
    async with owner_engine.begin() as conn:
        for r in await rollups_of(owner_engine):
            keys, total = ", ".join(r.keys), ", ".join(r.sums)
            await conn.execute(text(f"""
                CREATE TEMP TABLE spread_{r.name} ON COMMIT DROP AS
                SELECT {keys}, {", ".join(f"sum({c}) AS {c}" for c in r.sums)} FROM {r.name}
                WHERE tenant_id = ANY (:t) GROUP BY {keys}"""), {"t": tenant_ids})
            await conn.execute(text(f"DELETE FROM {r.name} WHERE tenant_id = ANY (:t)"), {"t": tenant_ids})
            await conn.execute(text(f"""
                INSERT INTO {r.name} ({keys}, shard, {total})
                SELECT {keys}, shard, {", ".join(f"{c} * factor" for c in r.sums)}
                FROM spread_{r.name} CROSS JOIN (VALUES (0, 2), (5, 1), (6, -2)) AS f (shard, factor)"""))


async def answers(tenant, pipeline) -> list:
    out = []
    for path, params in (("/v1/kpis/sales", {"group_by": "owner"}), ("/v1/kpis/sales", {"group_by": "source"}),
                         ("/v1/kpis/funnel", {"pipeline_id": pipeline}), ("/v1/kpis/service", {"group_by": "day"}),
                         ("/v1/kpis/marketing", {}), ("/v1/kpis/leaderboard", {}),
                         ("/v1/pipelines/" + pipeline + "/board", {})):
        response = await tenant.get(path, params={"from": "2026-01-01", "to": "2026-12-31", **params}
                                    if path.startswith("/v1/kpis") else params)
        assert response.status_code == 200, response.text
        out.append(response.json())
    return out


async def test_compaction_merges_shards_and_keeps_every_sum(app, make_tenant, owner_engine):
    assert {r.name for r in await rollups_of(owner_engine)} == ROLLUP_TABLES
    assert compact_rollups in functions()
    assert any(job.coroutine is compact_rollups for job in cron_jobs(app.state.settings))
    tenant = await make_tenant("Compacted", time_zone="Europe/Berlin")
    other = await make_tenant("Other")
    for t in (tenant, other):
        await records(t)
    pipeline = (await default_pipeline(tenant))["id"]
    before, kept = await sums(owner_engine, tenant.id), await answers(tenant, pipeline)
    assert {k[0] for k in before} == ROLLUP_TABLES  # every rollup has rows to compact
    await spread(owner_engine, [tenant.id, other.id])
    assert await sums(owner_engine, tenant.id) == before
    spread_rows = await rows(owner_engine, tenant.id)
    assert {k[-1] for k in spread_rows} != {0} and any(not any(v) for v in spread_rows.values())
    others = await rows(owner_engine, other.id)

    removed = await compact_tenant(_ctx(app), tenant.id)
    compacted = await rows(owner_engine, tenant.id)
    assert removed == len(spread_rows) - len(compacted) > 0
    assert {k[-1] for k in compacted} == {0}  # one row per key
    assert all(any(v) for v in compacted.values())  # no row of zeros
    assert await sums(owner_engine, tenant.id) == before
    assert await answers(tenant, pipeline) == kept
    await assert_exact(owner_engine, tenant)
    assert await rows(owner_engine, other.id) == others  # another tenant's rows untouched
    # The cron job visits every tenant; a second run finds nothing left.
    assert await compact_rollups(_ctx(app)) > 0
    assert {k[-1] for k in await rows(owner_engine, other.id)} == {0}
    assert await compact_tenant(_ctx(app), tenant.id) == 0


async def test_compaction_never_waits_on_writers(app, make_tenant, owner_engine):
    """Rows a writer holds: its shard rows are skipped, and a shard-0 row it holds gives the table up after the
    lock timeout; the writer then commits, and the next run compacts the rest."""
    tenant = await make_tenant("Busy")
    await records(tenant)
    before = await sums(owner_engine, tenant.id)
    await spread(owner_engine, [tenant.id])
    async with owner_engine.connect() as writer:
        transaction = await writer.begin()
        # Held: one shard-5 row of deal_attribution_day_totals, and the shard-0 rows of case_day_totals.
        await writer.execute(text("SELECT 1 FROM deal_attribution_day_totals WHERE tenant_id = :t AND shard = 5 "
                                  "ORDER BY day LIMIT 1 FOR UPDATE"), {"t": tenant.id})
        await writer.execute(text("SELECT 1 FROM case_day_totals WHERE tenant_id = :t AND shard = 0 FOR UPDATE"),
                             {"t": tenant.id})
        await asyncio.wait_for(compact_tenant(_ctx(app), tenant.id), timeout=30)
        left = await rows(owner_engine, tenant.id)
        assert sum(1 for k in left if k[0] == "deal_attribution_day_totals" and k[-1] != 0) == 1
        assert any(k[0] == "case_day_totals" and k[-1] != 0 for k in left)  # given up, for now
        assert {k[-1] for k in left if k[0] == "deal_day_totals"} == {0}
        await transaction.commit()
    assert await sums(owner_engine, tenant.id) == before
    await compact_tenant(_ctx(app), tenant.id)
    assert {k[-1] for k in await rows(owner_engine, tenant.id)} == {0}
    assert await sums(owner_engine, tenant.id) == before
