"""Write cost of the KPI rollup triggers (session 3) on the kept KPI data set: a deal move (stage changed, the
current stay closed, a new stay) plus an owner change, one transaction each, rolled back (the data set stays
as it was), with every trigger on, with the funnel's triggers (migration 20261127_0901) off, and with those and
the KPI triggers of migrations 20261126_07xx off.

    python -m bench.kpis_write_cost        # after python -m bench.kpis (uses its kept database)
"""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

from bench.deals import DEALS_DB
from bench.kpis import KPIS_OUT
from bench.servers import Servers

KPI_TRIGGERS = {
    "deals": ["deal_day_totals_insert", "deal_day_totals_update", "deal_day_totals_delete", "deal_proposals_insert",
              "deal_proposals_update", "deal_proposals_delete"],
    "deal_stage_history": ["deal_stays_advance_insert", "deal_stays_advance_update", "deal_stays_advance_delete",
                           "deal_stays_proposals_insert", "deal_stays_proposals_update",
                           "deal_stays_proposals_delete"],
}
FUNNEL_TRIGGERS = {
    "deals": ["deal_funnel_trash_update", "deal_funnel_delete"],
    "deal_stage_history": ["deal_stays_funnel_insert", "deal_stays_funnel_update", "deal_stays_funnel_delete"],
}


async def switch(conn: Any, triggers: dict[str, list[str]], on: bool) -> None:
    for table, names in triggers.items():
        for name in names:
            await conn.execute(f"ALTER TABLE {table} {'ENABLE' if on else 'DISABLE'} TRIGGER {name}")


async def moves(conn: Any, deals: list[Any], stages: list[Any], n: int) -> float:
    """Median milliseconds of n move + owner-change transactions (each rolled back)."""
    times = []
    for i in range(n):
        deal, stage = deals[i % len(deals)], stages[i % len(stages)]
        t0 = time.perf_counter()
        transaction = conn.transaction()
        await transaction.start()
        await conn.execute("UPDATE deals SET stage_id = $2, stage_entered_at = now(), owner_id = (SELECT id FROM users "
                           "WHERE tenant_id = deals.tenant_id ORDER BY id OFFSET $3 LIMIT 1) WHERE id = $1",
                           deal, stage, i % 20)
        await conn.execute("UPDATE deal_stage_history SET left_at = now() WHERE deal_id = $1 AND left_at IS NULL", deal)
        await conn.execute("""
            INSERT INTO deal_stage_history (tenant_id, id, deal_id, pipeline_id, stage_id, status, entered_at,
                                            entered_by)
            SELECT tenant_id, gen_random_uuid(), id, pipeline_id, $2, 'open', now(), '{"type": "system", "id": null}'
            FROM deals WHERE id = $1""", deal, stage)
        await transaction.rollback()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


async def measure(runs: int = 400) -> None:
    with Servers(KPIS_OUT) as servers:
        assert servers.server is not None
        conn = await servers.server.with_database(DEALS_DB).connect()
        try:
            pipeline = await conn.fetchval("SELECT pipeline_id FROM deals WHERE status = 'open' LIMIT 1")
            deals = [r[0] for r in await conn.fetch(
                "SELECT id FROM deals WHERE status = 'open' AND pipeline_id = $1 ORDER BY id LIMIT 400", pipeline)]
            stages = [r[0] for r in await conn.fetch(
                "SELECT id FROM pipeline_stages WHERE pipeline_id = $1 AND kind = 'open'", pipeline)]
            rounds = (("KPI triggers off", False, False), ("funnel's off", True, False), ("all triggers", True, True))
            for label, kpi, funnel in (("warm-up", True, True), *rounds, *rounds):
                await switch(conn, KPI_TRIGGERS, kpi)
                await switch(conn, FUNNEL_TRIGGERS, funnel)
                print(f"  {label:18} median {await moves(conn, deals, stages, runs):.2f} ms per transaction")
        finally:
            await switch(conn, KPI_TRIGGERS, True)
            await switch(conn, FUNNEL_TRIGGERS, True)
            await conn.close()


if __name__ == "__main__":
    asyncio.run(measure())
