"""Write cost of the KPI rollup triggers (session 3) on the kept KPI data set: a deal move (stage changed, the
current stay closed, a new stay) plus an owner change, one transaction each, rolled back (the data set stays
as it was), with the KPI triggers of session 3 (migrations 20261126_07xx) and session 4 (the attribution
rollup and company_country, 20261127_0801-0803; the funnel's, 0901), then the scoped rollup's (20261128_1101),
the customers' (20261128_1301) and the stays' copy of the deal's owner (20261128_1201), switched on one group
after the other. Also an owner change alone of deals with several stays (each of whose stays then takes the
new owner).

    python -m bench.kpis_write_cost        # after python -m bench.kpis (uses its kept database; --out as there)
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from pathlib import Path
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
ATTRIBUTION_TRIGGERS = {
    "deals": ["deal_attribution_day_totals_insert", "deal_attribution_day_totals_update",
              "deal_attribution_day_totals_delete", "deal_attribution_rekey_insert", "deal_attribution_rekey_update",
              "deal_attribution_delete", "deals_company_country"],
    "deal_stage_history": ["deal_stays_attribution_insert", "deal_stays_attribution_update",
                           "deal_stays_attribution_delete"],
}
SCOPED_TRIGGERS = {
    "deals": ["deal_scoped_day_totals_insert", "deal_scoped_day_totals_update", "deal_scoped_day_totals_delete",
              "deal_scoped_rekey_insert", "deal_scoped_rekey_update", "deal_scoped_delete"],
    "deal_stage_history": ["deal_stays_scoped_insert", "deal_stays_scoped_update", "deal_stays_scoped_delete"],
}
CUSTOMER_TRIGGERS = {
    "deals": ["deal_customer_firsts_apply_insert", "deal_customer_firsts_apply_update",
              "deal_customer_firsts_apply_delete", "deal_customer_day_totals_insert",
              "deal_customer_day_totals_update", "deal_customer_day_totals_delete"],
}
OWNER_TRIGGERS = {"deals": ["deals_owner_stays"], "deal_stage_history": ["deal_stage_history_owner"]}
GROUPS = (("session 3", KPI_TRIGGERS), ("attribution", ATTRIBUTION_TRIGGERS), ("funnel", FUNNEL_TRIGGERS),
          ("scoped", SCOPED_TRIGGERS), ("customers", CUSTOMER_TRIGGERS), ("stay owner", OWNER_TRIGGERS))


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


async def owner_changes(conn: Any, deals: list[Any], n: int) -> float:
    """Median milliseconds of n owner changes alone (one transaction each, rolled back)."""
    times = []
    for i in range(n):
        t0 = time.perf_counter()
        transaction = conn.transaction()
        await transaction.start()
        await conn.execute("UPDATE deals SET owner_id = (SELECT id FROM users WHERE tenant_id = deals.tenant_id "
                           "AND id IS DISTINCT FROM deals.owner_id ORDER BY id OFFSET $2 LIMIT 1) WHERE id = $1",
                           deals[i % len(deals)], i % 10)
        await transaction.rollback()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


async def measure(out: Path, runs: int = 400) -> None:
    with Servers(out) as servers:
        assert servers.server is not None
        conn = await servers.server.with_database(DEALS_DB).connect()
        try:
            pipeline = await conn.fetchval("SELECT pipeline_id FROM deals WHERE status = 'open' LIMIT 1")
            deals = [r[0] for r in await conn.fetch(
                "SELECT id FROM deals WHERE status = 'open' AND pipeline_id = $1 ORDER BY id LIMIT 400", pipeline)]
            stages = [r[0] for r in await conn.fetch(
                "SELECT id FROM pipeline_stages WHERE pipeline_id = $1 AND kind = 'open'", pipeline)]
            # Deals with five stays (as an open deal in the fifth open stage).
            several = [r[0] for r in await conn.fetch(
                "SELECT deal_id FROM deal_stage_history WHERE pipeline_id = $1 GROUP BY deal_id HAVING count(*) = 5 "
                "ORDER BY deal_id LIMIT 400", pipeline)]
            # Each round: the first n groups on, the others off (n = 0: no KPI trigger; all: as deployed).
            rounds = range(len(GROUPS) + 1)
            for n in (len(GROUPS), *rounds, *rounds):  # the first one warms up
                for i, (_, triggers) in enumerate(GROUPS):
                    await switch(conn, triggers, i < n)
                label = " + ".join(name for name, _ in GROUPS[:n]) or "no KPI triggers"
                print(f"  {label:66} median {await moves(conn, deals, stages, runs):.2f} ms per transaction, "
                      f"owner change alone (5 stays) {await owner_changes(conn, several, runs):.2f} ms")
        finally:
            for _, triggers in GROUPS:
                await switch(conn, triggers, True)
            await conn.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=KPIS_OUT)
    parser.add_argument("--runs", type=int, default=400)
    args = parser.parse_args()
    asyncio.run(measure(args.out, args.runs))
