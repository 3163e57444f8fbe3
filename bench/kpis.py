"""KPI benchmark: a large tenant (the deals dataset of bench/deals.py plus leads, activities and cases made
in SQL), then every /v1/kpis request timed through the app in-process (ASGI, no network), N runs each.

    python -m bench.kpis                      # the issue's size: 1M deals, 5M activities, 200k cases
    python -m bench.kpis --reuse-data --runs 5          # time again on the data of the last run
    python -m bench.kpis --deals 200000 --activities 1000000 --cases 40000 --runs 7
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
import uuid
from dataclasses import asdict
from datetime import date
from pathlib import Path
from typing import Any

import httpx

from bench.deals import DEALS_DB, DealsDataset, _drop_secondary, derive_stays, generate_deals
from bench.pgbench import pgbench_binary, run_pgbench
from bench.servers import OUT, Database, Servers

KPIS_OUT = OUT / "kpis"


OFFICE_HOURS = json.dumps({"time_zone": "Europe/Berlin", "holidays": ["2026-12-25", "2026-12-28"],
                           "days": {d: [["09:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}})
TARGETS = json.dumps({p: {"first_response_minutes": 240, "resolution_minutes": 1440}
                      for p in ("low", "normal", "high", "urgent")})


async def add_rows(db: Database, tenant_id: uuid.UUID, leads: int, activities: int, cases: int) -> None:
    """Leads, activities and cases spread over two years, owned by the dataset's users, plus the earlier
    stage stays of every deal (a deal in stage n passed through the open stages before it); ANALYZE.

    Loaded like bench/deals.py loads deals: foreign keys and secondary indexes dropped, the rows made by
    the server itself (INSERT ... SELECT over generate_series: no client round trips, same WAL as COPY),
    then the indexes built again with a large maintenance_work_mem and the keys checked again."""
    conn = await db.connect()
    say = print
    try:
        owners = [r["id"] for r in await conn.fetch("SELECT id FROM users WHERE tenant_id = $1", tenant_id)]
        await conn.execute("SET synchronous_commit = off")
        await conn.execute("SET maintenance_work_mem = '1GB'")
        await conn.execute("SET max_parallel_maintenance_workers = 2")
        await conn.execute("""
            INSERT INTO campaigns (tenant_id, id, name, channel, status, cost_amount, cost_currency)
            SELECT $1, gen_random_uuid(), 'Campaign ' || i, 'email', 'active', 1000 * i, 'EUR'
            FROM generate_series(1, 20) i""", tenant_id)
        campaigns = [r["id"] for r in await conn.fetch("SELECT id FROM campaigns WHERE tenant_id = $1 ORDER BY id",
                                                        tenant_id)]
        sample = [r["id"] for r in await conn.fetch(
            "SELECT id FROM deals WHERE tenant_id = $1 ORDER BY id LIMIT 5000", tenant_id)]
        policy = uuid.uuid4()
        await conn.execute("""INSERT INTO sla_policies (tenant_id, id, name, targets, business_hours)
                              VALUES ($1, $2, 'Office hours', $3::jsonb, $4::jsonb)""",
                           tenant_id, policy, TARGETS, OFFICE_HOURS)
        await conn.execute("UPDATE pipeline_stages SET is_proposal = true WHERE tenant_id = $1 AND name = 'Proposal'",
                           tenant_id)
        t0 = time.perf_counter()
        dropped = {t: await _drop_secondary(conn, t) for t in ("leads", "activities", "cases", "deal_stage_history")}
        await conn.execute("ALTER TABLE deal_stage_history DISABLE TRIGGER USER")  # derive_stays() writes theirs
        # Earlier stays: open stages before the current one (won: all of them; lost: 1 to 4), evenly
        # spaced from the deal's creation to the current stay's entry.
        await conn.execute("""
            INSERT INTO deal_stage_history (tenant_id, id, deal_id, pipeline_id, stage_id, status, entered_at,
                                            left_at, entered_by, left_by)
            SELECT d.tenant_id, gen_random_uuid(), d.id, d.pipeline_id, s.id, 'open',
                   d.created_at + (d.stage_entered_at - d.created_at) * s.position / n.n,
                   d.created_at + (d.stage_entered_at - d.created_at) * (s.position + 1) / n.n,
                   '{"type": "system", "id": null}', '{"type": "system", "id": null}'
            FROM deals d JOIN pipeline_stages c ON c.tenant_id = d.tenant_id AND c.id = d.stage_id
            CROSS JOIN LATERAL (SELECT CASE c.kind WHEN 'open' THEN c.position
                                                  WHEN 'won' THEN 5 ELSE 1 + (hashtext(d.id::text) & 3) END AS n) n
            JOIN pipeline_stages s ON s.tenant_id = d.tenant_id AND s.pipeline_id = d.pipeline_id
                 AND s.kind = 'open' AND s.position < n.n
            WHERE d.tenant_id = $1""", tenant_id)
        await conn.execute("ALTER TABLE deal_stage_history ENABLE TRIGGER USER")
        say(f"  earlier stage stays: {time.perf_counter() - t0:.1f}s")
        # A tenth of the leads converted, each into its own deal of the same period.
        await conn.execute("""
            INSERT INTO leads (tenant_id, id, first_name, source, status, owner_id, campaign_id, created_at,
                               updated_at, converted_at, converted_deal_id)
            SELECT $1, gen_random_uuid(), 'Lead ' || i,
                   (ARRAY['web_form','referral','advertising','social','other'])[1 + i % 5],
                   CASE WHEN i % 10 = 3 THEN 'converted'
                        ELSE (ARRAY['new','mql','sql','disqualified','new'])[1 + i % 5] END,
                   ($2::uuid[])[1 + i % cardinality($2)], ($3::uuid[])[1 + i % cardinality($3)],
                   now() - (i % 730) * interval '1 day', now(),
                   CASE WHEN i % 10 = 3 THEN now() - (i % 730) * interval '1 day' END,
                   CASE WHEN i % 10 = 3 THEN ($5::uuid[])[1 + i % cardinality($5)] END
            FROM generate_series(1, $4) i""", tenant_id, owners, campaigns, leads, sample)
        say(f"  + {leads:,} leads: {time.perf_counter() - t0:.1f}s")
        await conn.execute("""
            INSERT INTO activities (tenant_id, id, type, subject, owner_id, assignee_id, direction, occurred_at,
                                    starts_at, ends_at, due_at, created_at, updated_at)
            SELECT $1, gen_random_uuid(), t.type, 'Activity ' || i, o, o,
                   CASE WHEN t.type = 'call' THEN 'outbound' END,
                   CASE WHEN t.type IN ('call', 'email', 'note') THEN at END,
                   CASE WHEN t.type = 'meeting' THEN at END,
                   CASE WHEN t.type = 'meeting' THEN at + interval '1 hour' END,
                   CASE WHEN t.type = 'task' THEN at END, at, at
            FROM generate_series(1, $3) i,
                 LATERAL (SELECT (ARRAY['call','email','meeting','task','note'])[1 + i % 5] AS type,
                                 now() - (i % 730) * interval '1 day' - (i % 86400) * interval '1 second' AS at,
                                 ($2::uuid[])[1 + i % cardinality($2)] AS o) t""", tenant_id, owners, activities)
        say(f"  + {activities:,} activities: {time.perf_counter() - t0:.1f}s")
        await conn.execute("""
            INSERT INTO cases (tenant_id, id, number, subject, type, priority, channel, status, assignee_id, team,
                               created_at, updated_at, first_response_at, resolved_at, reopened_count,
                               satisfaction_score, satisfaction_at, resolution_breached_at, sla_paused_minutes,
                               sla_policy_id)
            SELECT $1, gen_random_uuid(), 1000000 + i, 'Case ' || i, 'question', 'normal',
                   (ARRAY['email','phone','web','chat'])[1 + i % 4],
                   CASE WHEN i % 5 = 0 THEN 'open' ELSE 'resolved' END,
                   ($2::uuid[])[1 + i % cardinality($2)], (ARRAY['tier1','tier2'])[1 + i % 2], at, at,
                   at + (i % 300) * interval '1 minute',
                   CASE WHEN i % 5 <> 0 THEN at + (i % 3000) * interval '1 minute' END, i % 7 / 6,
                   CASE WHEN i % 3 = 0 THEN 1 + i % 5 END, CASE WHEN i % 3 = 0 THEN at + interval '2 days' END,
                   CASE WHEN i % 11 = 0 THEN at + interval '1 day' END, 0,
                   CASE WHEN i % 2 = 0 THEN $4::uuid END
            FROM generate_series(1, $3) i,
                 LATERAL (SELECT now() - (i % 730) * interval '1 day' - (i % 1440) * interval '1 minute' AS at) t""",
                           tenant_id, owners, cases, policy)
        say(f"  + {cases:,} cases: {time.perf_counter() - t0:.1f}s")
        for table, (foreign_keys, indexes) in dropped.items():
            for index in indexes:
                await conn.execute(index["indexdef"])
            for fk in foreign_keys:
                await conn.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{fk["conname"]}" {fk["definition"]}')
            say(f"  {table}: indexes and foreign keys again: {time.perf_counter() - t0:.1f}s")
        # A third of the deals came from a campaign.
        await conn.execute("UPDATE deals SET campaign_id = ($2::uuid[])[1 + abs(hashtext(id::text)) % 20] "
                           "WHERE tenant_id = $1 AND hashtext(id::text) % 3 = 0", tenant_id, campaigns)
        say(f"  deals' campaigns: {time.perf_counter() - t0:.1f}s")
        await derive_stays(conn, tenant_id)
        say(f"  stays' derived data: {time.perf_counter() - t0:.1f}s")
        for table in ("campaigns", "sla_policies", "pipeline_stages", "leads", "activities", "cases", "deals",
                      "deal_stage_history"):
            await conn.execute(f"VACUUM (ANALYZE) {table}")
        say(f"  vacuum analyze: {time.perf_counter() - t0:.1f}s")
    finally:
        await conn.close()


YEAR = {"from": "-365", "to": "0"}
# Every endpoint, every grouping and filter, over the windows people pick (a month, a quarter, a year, and
# the whole two years of data); "{owner}" and "{pipeline}" are one of the dataset's owners and pipelines.
REQUESTS = [
    ("sales, one month", "/v1/kpis/sales", {"from": "-30", "to": "0"}),
    ("sales, a year", "/v1/kpis/sales", YEAR),
    ("sales, two years", "/v1/kpis/sales", {"from": "-730", "to": "0"}),
    *((f"sales, a year by {key}", "/v1/kpis/sales", {**YEAR, "group_by": key})
      for key in ("month", "week", "day", "owner", "team", "pipeline", "source", "campaign", "country")),
    ("sales, a quarter by owner", "/v1/kpis/sales", {"from": "-90", "to": "0", "group_by": "owner"}),
    ("sales, a quarter by source", "/v1/kpis/sales", {"from": "-90", "to": "0", "group_by": "source"}),
    ("sales, a year, one owner", "/v1/kpis/sales", {**YEAR, "owner_id": "{owner}"}),
    ("sales, a year by source, one pipeline", "/v1/kpis/sales",
     {**YEAR, "group_by": "source", "pipeline_id": "{pipeline}"}),
    ("sales, a year by country, one pipeline", "/v1/kpis/sales",
     {**YEAR, "group_by": "country", "pipeline_id": "{pipeline}"}),
    *((f"sales, a year by {key}, one owner", "/v1/kpis/sales", {**YEAR, "group_by": key, "owner_id": "{owner}"})
      for key in ("source", "country")),
    ("sales, a year by source, one owner and pipeline", "/v1/kpis/sales",
     {**YEAR, "group_by": "source", "owner_id": "{owner}", "pipeline_id": "{pipeline}"}),
    ("funnel, a quarter", "/v1/kpis/funnel", {"from": "-90", "to": "0"}),
    ("funnel, a year", "/v1/kpis/funnel", YEAR),
    ("funnel, a year, one owner", "/v1/kpis/funnel", {**YEAR, "owner_id": "{owner}"}),
    ("marketing, a quarter", "/v1/kpis/marketing", {"from": "-90", "to": "0"}),
    ("marketing, a year", "/v1/kpis/marketing", YEAR),
    ("marketing, a year, one owner", "/v1/kpis/marketing", {**YEAR, "owner_id": "{owner}"}),
    ("service, one month", "/v1/kpis/service", {"from": "-30", "to": "0"}),
    ("service, a year", "/v1/kpis/service", YEAR),
    *((f"service, a year by {key}", "/v1/kpis/service", {**YEAR, "group_by": key})
      for key in ("month", "week", "day", "owner", "team")),
    ("service, a year, one owner", "/v1/kpis/service", {**YEAR, "owner_id": "{owner}"}),
    ("leaderboard, a quarter", "/v1/kpis/leaderboard", {"from": "-90", "to": "0"}),
    ("leaderboard, a year", "/v1/kpis/leaderboard", YEAR),
    ("leaderboard, a year, one pipeline", "/v1/kpis/leaderboard", {**YEAR, "pipeline_id": "{pipeline}"}),
    *((f"timeseries {metric}, a year by {interval}", "/v1/kpis/timeseries",
       {**YEAR, "metric": metric, "interval": interval})
      for metric, interval in (("new_revenue", "week"), ("proposals_sent", "day"), ("calls_logged", "day"),
                               ("median_resolution_hours", "day"))),
]


def _params(params: dict[str, str], ids: dict[str, str]) -> dict[str, str]:
    """The request's query: days relative to today as dates, {owner} and {pipeline} as ids."""
    today = date.today().toordinal()
    return {k: (date.fromordinal(today + int(v)).isoformat() if k in ("from", "to") else v.format(**ids))
            for k, v in params.items()}


class StatementLog:
    """The SQL statements the app's engine runs (text, parameters, milliseconds) while `on`."""

    def __init__(self, engine: Any) -> None:
        from sqlalchemy import event

        self.on, self.statements, self._t0 = False, [], 0.0
        event.listen(engine.sync_engine, "before_cursor_execute", self._before)
        event.listen(engine.sync_engine, "after_cursor_execute", self._after)

    def _before(self, conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        self._t0 = time.perf_counter()

    def _after(self, conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if self.on:
            self.statements.append((statement, parameters, (time.perf_counter() - self._t0) * 1000))


async def explain(engine: Any, tenant_id: str, statements: list[Any]) -> tuple[float, str]:
    """EXPLAIN (ANALYZE, BUFFERS) of each KPI statement as the app role with the tenant set (row-level
    security on, as in a request): the summed execution ms and the plans."""
    from sqlalchemy import text

    from crm_api.kpis.router import KPI_WORK_MEM

    total, out = 0.0, []
    async with engine.connect() as conn, conn.begin():
        await conn.execute(text("SELECT set_config('app.tenant_id', :t, true), set_config('work_mem', :m, true)"),
                           {"t": tenant_id, "m": KPI_WORK_MEM})
        for statement, parameters, _ in statements:
            if "kpis" in statement or statement.lstrip().upper().startswith(("SELECT SET_CONFIG", "SELECT CRM_")):
                continue
            rows = (await conn.exec_driver_sql(f"EXPLAIN (ANALYZE, BUFFERS) {statement}", parameters)).all()
            plan = "\n".join(r[0] for r in rows)
            total += float(plan.rsplit("Execution Time: ", 1)[1].split()[0])
            out.append(f"{statement.strip()}\n-- {parameters}\n{plan}\n")
    return total, "\n".join(out)


async def measure(database_url: str, redis_url: str, api_key: str, tenant_id: str, runs: int,
                  ids: dict[str, str], only: str | None = None) -> list[dict[str, Any]]:
    """Median and max milliseconds of each KPI request (after one warm-up), the milliseconds its SQL
    statements took as seen from the app, and their summed EXPLAIN ANALYZE execution time as crm_app."""
    from crm_api.app import create_app
    from crm_api.config import Settings

    app = create_app(Settings(database_url=database_url, redis_url=redis_url, log_level="WARNING"))
    results = []
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://bench",
            headers={"Authorization": f"Bearer {api_key}"}, timeout=120) as client:
        log = StatementLog(app.state.engine)
        for label, path, params in REQUESTS:
            if only is not None and only not in label:
                continue
            timings, sql_ms, cpu = [], [], []
            for i in range(runs + 1):
                log.statements, log.on = [], True
                t0, c0 = time.perf_counter(), time.process_time()
                response = await client.get(path, params=_params(params, ids))
                elapsed = (time.perf_counter() - t0) * 1000
                log.on = False
                if response.status_code != 200:
                    raise RuntimeError(f"{path}: {response.status_code} {response.text[:300]}")
                if i:
                    timings.append(elapsed)
                    cpu.append((time.process_time() - c0) * 1000)
                    sql_ms.append(sum(ms for _, _, ms in log.statements))
            explained, plans = await explain(app.state.engine, tenant_id, log.statements)
            results.append({"request": label, "median_ms": round(statistics.median(timings), 1),
                            "max_ms": round(max(timings), 1), "sql_ms": round(statistics.median(sql_ms), 1),
                            "app_cpu_ms": round(statistics.median(cpu), 1), "statements": len(log.statements),
                            "explain_ms": round(explained, 1), "plans": plans})
            r = results[-1]
            print(f"  {label:40} median {r['median_ms']:7.1f} ms  max {r['max_ms']:7.1f}  sql {r['sql_ms']:7.1f}  "
                  f"app cpu {r['app_cpu_ms']:6.1f}  explain {r['explain_ms']:7.1f} ms ({r['statements']} statements)")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deals", type=int, default=1_000_000)
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--leads", type=int, default=200_000)
    parser.add_argument("--activities", type=int, default=5_000_000)
    parser.add_argument("--cases", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--reuse-data", action="store_true", help="keep the data of an earlier run of the same size")
    parser.add_argument("--generate-only", action="store_true", help="make the data, time nothing")
    parser.add_argument("--skip-pgbench", action="store_true")
    parser.add_argument("--only", help="time only the requests whose label contains this text")
    parser.add_argument("--out", type=Path, default=KPIS_OUT)
    args = parser.parse_args()
    size = {"deals": args.deals, "contacts": args.contacts, "leads": args.leads, "activities": args.activities,
            "cases": args.cases}
    saved = args.out / "dataset.json"

    async def data(servers: Servers) -> DealsDataset:
        assert servers.server is not None
        if args.reuse_data and saved.exists():
            kept = json.loads(saved.read_text())
            if kept.get("size") == size:
                from crm_api.config import Settings
                from crm_api.migrate import upgrade_async

                # The database on this run's server: a data folder copied from another --out keeps the old
                # server's socket in its saved URL, and that server may be running.
                dataset = DealsDataset(**{**kept["dataset"],
                                          "database_url": servers.server.with_database(DEALS_DB).sqlalchemy_url})
                t0 = time.perf_counter()
                await upgrade_async(dataset.database_url, Settings(database_url=dataset.database_url))
                migrated = time.perf_counter() - t0
                # What autovacuum would do after migrations that rewrote many rows: without it the visibility
                # map is stale and index-only scans fetch from the heap (or the planner prefers a seq scan).
                conn = await servers.server.with_database(DEALS_DB).connect()
                try:
                    await conn.execute("VACUUM (ANALYZE)")
                finally:
                    await conn.close()
                print(f"reusing the data of {saved} (migrated to head in {migrated:.1f}s, then VACUUM (ANALYZE) "
                      f"in {time.perf_counter() - t0 - migrated:.1f}s)")
                return dataset
        t0 = time.perf_counter()
        dataset = await generate_deals(servers.server, args.deals, args.contacts)
        db = servers.server.with_database(DEALS_DB)
        await add_rows(db, uuid.UUID(dataset.tenant_id), args.leads, args.activities, args.cases)
        seconds = time.perf_counter() - t0
        print(f"data ready in {seconds:.0f}s")
        args.out.mkdir(parents=True, exist_ok=True)
        saved.write_text(json.dumps({"size": size, "seconds": round(seconds, 1), "dataset": asdict(dataset)}))
        return dataset

    with Servers(args.out) as servers:
        assert servers.server is not None
        dataset = asyncio.run(data(servers))
        if args.generate_only:
            return
        report: dict[str, Any] = {**size, "runs": args.runs, "load_before": os.getloadavg()}
        if not args.skip_pgbench:
            report["pgbench"] = run_pgbench(servers.server, pgbench_binary(servers.embedded_bin), scale=10,
                                            duration=8, warmup=2, concurrency=8, work_dir=args.out)
            print(f"  database: pgbench -S (scale 10) {report['pgbench']['rps']:.0f} tps, "
                  f"p50 {report['pgbench']['p50_ms']} ms")
        print(f"timing {len(REQUESTS)} requests x {args.runs}")
        ids = {"owner": dataset.owners[0], "pipeline": dataset.pipelines[0]}
        report["results"] = asyncio.run(measure(dataset.database_url, servers.redis_url, dataset.api_key,
                                                   dataset.tenant_id, args.runs, ids, args.only))
        report["load_after"] = os.getloadavg()
    (args.out / "plans").mkdir(parents=True, exist_ok=True)
    for n, result in enumerate(report["results"]):
        (args.out / "plans" / f"{n}.txt").write_text(f"{result['request']}\n\n{result.pop('plans')}")
    (args.out / "results.json").write_text(json.dumps(report, indent=2))
    print(f"load average before {report['load_before']}, after {report['load_after']}")
    print(f"results written to {args.out / 'results.json'}")


if __name__ == "__main__":
    main()
