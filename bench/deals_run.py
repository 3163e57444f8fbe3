"""Deals benchmark: the board and filtered deal lists through the platform, beside the database's own limits.

For each scenario it measures the same query shapes twice: through `crm-api serve` over HTTP (wrk, or the
Python driver), and as the bare SQL the platform sends, straight from asyncpg (the database's limit for
that query). pgbench -S in the same run gives the server's raw point-read limit.

    python -m bench.deals_run                                   # 100,000 deals, short durations
    python -m bench.deals_run --deals 1000000 --duration 10     # the 1M-deal figures of bench/RESULTS.md
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379/14 \\
        python -m bench.deals_run                               # those servers, in databases of its own
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import asyncpg

from bench.deals import DEALS_DB, DEALS_OUT, RARE_REGION, REGIONS, DealsDataset, generate_deals
from bench.driver import choose_engine, run_scenario
from bench.pgbench import pgbench_binary, run_pgbench
from bench.run import _crm_api_command, _start, machine
from bench.scenarios import Scenario
from bench.servers import Database, Servers, database_exists, free_port, server_version, stop_process
from crm_api.config import Settings
from crm_api.migrate import upgrade_async

LIST = ("SELECT * FROM deals WHERE tenant_id = $1 AND deleted_at IS NULL {where} "
        "ORDER BY {order} LIMIT 51")
NEWEST = "created_at DESC, id DESC"
CLOSE = "close_key"
# The conditions the platform sends for contact_id and custom_fields.<key>= filters: equality on record_values
# (typed keys: `s:` + text), which stays index-usable under row-level security.
VALUE = ("AND EXISTS (SELECT FROM record_values v WHERE v.tenant_id = deals.tenant_id AND v.object_type = 'deal' "
         "AND v.key = '{key}' AND v.value = $2 AND v.record_id = deals.id)")
CONTACT = VALUE.format(key="#contact_ids")
CUSTOM_FIELD = VALUE.format(key="region")
# The board's sums: from the rollup the deals triggers keep; for one owner, from that owner's deals.
BOARD_TOTALS = ("SELECT stage_id, currency, sum(count), sum(amount_sum), sum(weighted_sum) FROM deal_board_totals "
                "WHERE tenant_id = $1 AND pipeline_id = $2 GROUP BY stage_id, currency HAVING sum(count) > 0")
OWNER_BOARD_TOTALS = ("SELECT stage_id, currency, count(*), sum(amount), sum(amount * probability / 100) FROM deals "
                      "WHERE tenant_id = $1 AND deleted_at IS NULL AND owner_id = $3 AND pipeline_id = $2 "
                      "GROUP BY stage_id, currency")
BOARD_PAGES = ("SELECT d.* FROM (SELECT id AS stage_id FROM pipeline_stages WHERE tenant_id = $1 AND pipeline_id = $2 "
               "AND deleted_at IS NULL) s JOIN LATERAL (SELECT * FROM deals WHERE tenant_id = $1 "
               "AND deleted_at IS NULL {owner} AND stage_id = s.stage_id ORDER BY created_at DESC, id DESC LIMIT 21) d "
               "ON true "
               "ORDER BY s.stage_id, d.created_at DESC, d.id DESC")


@dataclass
class DealScenario:
    """One kind of request: its HTTP paths and, for each, the SQL statements (with arguments) it comes down to."""

    name: str
    label: str
    paths: list[str]
    sql: list[list[tuple[str, list[Any]]]]


def build(ds: DealsDataset, seed: int = 11) -> list[DealScenario]:
    rng = random.Random(seed)
    tenant = ds.tenant_id

    def deals(params: dict[str, str]) -> str:
        return "/v1/deals?" + urlencode({**params, "limit": "50"}, quote_via=quote)

    def listing(name: str, label: str, cases: list[tuple[dict[str, str], str, list[Any], str]]) -> DealScenario:
        return DealScenario(name, label, [deals(p) for p, _, _, _ in cases],
                            [[(LIST.format(where=w, order=o), [tenant, *a])] for _, w, a, o in cases])

    stages = [s for p in ds.pipelines for s in ds.stages[p][:5]]
    owners = rng.sample(ds.owners, min(10, len(ds.owners)))
    today = datetime.now(UTC).date()
    windows = [(today - timedelta(days=30 * k), today - timedelta(days=30 * (k - 1))) for k in range(-5, 12)]
    boards = [(f"/v1/pipelines/{p}/board", [(BOARD_TOTALS, [tenant, p]),
                                            (BOARD_PAGES.format(owner=""), [tenant, p])]) for p in ds.pipelines]
    owner_boards = [(f"/v1/pipelines/{p}/board?owner_id={o}",
                     [(OWNER_BOARD_TOTALS, [tenant, p, o]),
                      (BOARD_PAGES.format(owner="AND owner_id = $3"), [tenant, p, o])])
                    for p in ds.pipelines for o in owners[:3]]
    scenarios = [
        DealScenario("board", "board (7 stages, 20 deals each)", [p for p, _ in boards], [s for _, s in boards]),
        DealScenario("board_owner", "board of one owner", [p for p, _ in owner_boards], [s for _, s in owner_boards]),
        listing("list", "deal list (limit 50)", [({}, "", [], NEWEST)]),
        listing("list_pipeline_open", "pipeline_id + status=open",
                [({"pipeline_id": p, "status": "open"}, "AND pipeline_id = $2 AND status = 'open'", [p], NEWEST)
                 for p in ds.pipelines]),
        listing("list_stage", "stage_id", [({"stage_id": s}, "AND stage_id = $2", [s], NEWEST) for s in stages]),
        listing("list_owner_open", "owner_id + status=open",
                [({"owner_id": o, "status": "open"}, "AND owner_id = $2 AND status = 'open'", [o], NEWEST)
                 for o in owners]),
        listing("list_amount", "amount_min + currency, sort -amount",
                [({"amount_min": str(a), "currency": "EUR", "sort": "-amount"},
                  "AND amount_key >= $2 AND amount IS NOT NULL AND currency = 'EUR'", [a],
                  "amount_key DESC, id DESC") for a in (1000, 50000, 150000, 240000)]),
        listing("list_close", "expected close range, sort by it",
                [({"expected_close_after": a.isoformat(), "expected_close_before": b.isoformat(),
                   "sort": "expected_close_date"},
                  f"AND {CLOSE} >= $2 AND expected_close_date IS NOT NULL AND {CLOSE} < $3", [a, b], f"{CLOSE}, id")
                 for a, b in windows]),
        listing("list_stale", "stale=true", [({"stale": "true"}, "AND stale_at <= now()", [], NEWEST)]),
        listing("list_contact", "contact_id", [({"contact_id": c}, CONTACT, [f"s:{c}"], NEWEST)
                                               for c in ds.contact_ids[:200]]),
        listing("list_custom_field", "custom_fields.region (3.5 % each)",
                [({"custom_fields.region": r}, CUSTOM_FIELD, [f"s:{r}"], NEWEST) for r in REGIONS]),
        listing("list_custom_field_rare", "custom_fields.region (1 in 2,000)",
                [({"custom_fields.region": RARE_REGION}, CUSTOM_FIELD, [f"s:{RARE_REGION}"], NEWEST)]),
        listing("list_q", "q on title", [({"q": t}, "AND lower(title) LIKE $2", [f"%{t}%"], NEWEST)
                                         for t in ("renewal", "pilot", "analytics", "onboard", "hardware")]),
    ]
    for s in scenarios:
        order = list(range(len(s.paths)))
        rng.shuffle(order)
        s.paths, s.sql = [s.paths[i] for i in order], [s.sql[i] for i in order]
    return scenarios


async def sql_floor(db: Database, scenario: DealScenario, *, duration: float, warmup: float,
                    concurrency: int) -> dict[str, Any]:
    """The scenario's SQL straight from asyncpg (prepared, `concurrency` connections): the database's limit."""
    # As the platform does (kit/record_values.py): statements on record_values are planned for their values.
    values = any("record_values" in sql for statements in scenario.sql for sql, _ in statements)
    pool = await asyncpg.create_pool(host=db.host, port=db.port, user=db.url.username or "postgres",
                                     password=db.url.password, database=db.url.database,
                                     min_size=concurrency, max_size=concurrency,
                                     server_settings={"plan_cache_mode": "force_custom_plan"} if values else None)
    latencies: list[float] = []

    async def worker(seed: int, until: float, record: bool) -> None:
        rng = random.Random(seed)
        async with pool.acquire() as conn:
            while time.perf_counter() < until:
                statements = scenario.sql[rng.randrange(len(scenario.sql))]
                started = time.perf_counter()
                for sql, args in statements:
                    await conn.fetch(sql, *args)
                if record:
                    latencies.append(time.perf_counter() - started)

    try:
        for seconds, record in ((warmup, False), (duration, True)):
            if seconds > 0:
                until = time.perf_counter() + seconds
                await asyncio.gather(*(worker(i, until, record) for i in range(concurrency)))
    finally:
        await pool.close()
    latencies.sort()

    def pct(p: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(len(latencies) * p / 100))] * 1000, 2) if latencies else 0.0

    return {"requests": len(latencies), "rps": round(len(latencies) / duration, 1), "p50_ms": pct(50),
            "p90_ms": pct(90), "p99_ms": pct(99), "errors": 0, "engine": "asyncpg", "concurrency": concurrency}


async def explain(db: Database, scenario: DealScenario, tenant: str, *, role: str = "crm_app",
                  samples: int = 5) -> dict[str, Any]:
    """EXPLAIN ANALYZE of the scenario's statements as the app role with the tenant set (row-level security
    on, as the platform runs them): execution ms per request (median, max) and the first request's plans."""
    conn = await asyncpg.connect(host=db.host, port=db.port, user=role, database=db.url.database)
    times: list[float] = []
    plans: list[str] = []
    try:
        await conn.execute("SELECT set_config('app.tenant_id', $1, false)", tenant)
        for n, statements in enumerate(scenario.sql[:samples]):
            total = 0.0
            for sql, args in statements:
                rows = await conn.fetch("EXPLAIN (ANALYZE, BUFFERS) " + sql, *args)
                lines = [r[0] for r in rows]
                total += float(lines[-1].split(":")[1].split()[0])  # "Execution Time: 1.234 ms"
                if n == 0:
                    plans.append("\n".join(lines))
            times.append(total)
    finally:
        await conn.close()
    times.sort()
    return {"median_ms": round(times[len(times) // 2], 2), "max_ms": round(times[-1], 2), "samples": len(times),
            "plans": plans}


async def _dataset(server: Database, args: argparse.Namespace) -> DealsDataset:
    path = args.out / "dataset.json"
    if args.reuse_data and path.exists() and await database_exists(server, DEALS_DB):
        dataset = DealsDataset.load(path)
        if dataset.deals == args.deals and dataset.contacts == args.contacts:
            dataset.database_url = server.with_database(DEALS_DB).sqlalchemy_url
            # Migrations newer than the data backfill what they add (rollups, index tables) from it.
            started = time.perf_counter()
            await upgrade_async(dataset.database_url, Settings(database_url=dataset.database_url))
            print(f"reusing the {args.deals:,}-deal dataset in {DEALS_DB} (--reuse-data), migrated to head in "
                  f"{time.perf_counter() - started:.1f}s")
            return dataset
    print(f"generating {args.deals:,} deals over {args.contacts:,} contacts ...")
    dataset = await generate_deals(server, args.deals, args.contacts)
    dataset.save(path)
    return dataset


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _row(side: str, label: str, r: dict[str, Any]) -> str:
    return f"| {side} | {label} | {r['rps']:.0f} | {r['p50_ms']} | {r['p90_ms']} | {r['p99_ms']} | {r['errors']} |"


def run(args: argparse.Namespace) -> dict[str, Any]:
    engine = choose_engine(args.driver)
    args.out.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {"machine": machine(), "config": {
        "deals": args.deals, "contacts": args.contacts, "duration_s": args.duration, "warmup_s": args.warmup,
        "concurrency": args.concurrency, "driver": engine}, "sql": {}, "platform": {}}
    process = None
    servers = Servers(args.out)
    try:
        servers.start()
        assert servers.server is not None
        server = servers.server
        results["machine"]["postgresql"] = asyncio.run(server_version(server))
        results["config"]["database"] = "embedded" if servers.embedded else "DATABASE_URL"
        dataset = asyncio.run(_dataset(server, args))
        results["dataset"] = {"deals": dataset.deals, "contacts": dataset.contacts, "pipelines": len(dataset.pipelines),
                              "generated_in_s": dataset.seconds, "deals_per_second": dataset.rows_per_second}
        db = server.with_database(DEALS_DB)
        scenarios = [s for s in build(dataset) if not args.only or s.name in args.only]

        if "pgbench" not in args.skip:
            scale = max(1, args.deals // 100_000)
            results["pgbench"] = run_pgbench(server, pgbench_binary(servers.embedded_bin), scale=scale,
                                             duration=args.duration, warmup=args.warmup,
                                             concurrency=args.concurrency, work_dir=args.out)
            print(f"  database  pgbench -S (scale {scale})      {results['pgbench']['rps']:>8.0f} tps")
        if "explain" not in args.skip:
            results["explain"] = {}
            for s in scenarios:
                r = asyncio.run(explain(db, s, dataset.tenant_id))
                results["explain"][s.name] = r
                print(f"  explain   {s.label:<38} as crm_app: median {r['median_ms']:>9.2f} ms  max "
                      f"{r['max_ms']:>9.2f} ms")
        if "sql" not in args.skip:
            for s in scenarios:
                r = asyncio.run(sql_floor(db, s, duration=args.duration, warmup=args.warmup,
                                          concurrency=args.concurrency))
                results["sql"][s.name] = r
                print(f"  sql       {s.label:<38} {r['rps']:>8.0f} q/s  p50 {r['p50_ms']:>7.2f} ms  "
                      f"p99 {r['p99_ms']:>7.2f} ms")
        if "platform" not in args.skip:
            port = free_port()
            env = {**os.environ, "PYTHONUNBUFFERED": "1", "DATABASE_URL": db.sqlalchemy_url,
                   "REDIS_URL": servers.redis_url, "CRM_DATA_DIR": str(args.out / "platform")}
            env.pop("CRM_DATABASE_URL", None)
            env.pop("CRM_REDIS_URL", None)
            process = _start([*_crm_api_command(), "serve", "--host", "127.0.0.1", "--port", str(port)], env,
                             args.out / "logs" / "platform.log", f"http://127.0.0.1:{port}/readyz")
            for s in scenarios:
                cpu = _cpu_seconds(process.pid)
                r = run_scenario(f"http://127.0.0.1:{port}", Scenario(s.name, s.label, "GET", tuple(s.paths)),
                                 dataset.api_key, duration=args.duration, warmup=args.warmup,
                                 concurrency=args.concurrency, engine=engine, threads=1,
                                 work_dir=args.out / "driver")
                # The server's CPU per request (warm-up included, at the timed rate): steadier than req/s
                # on a shared machine.
                served = r["requests"] * (args.duration + args.warmup) / args.duration
                r["server_cpu_ms_per_request"] = round((_cpu_seconds(process.pid) - cpu) * 1000 / served, 2) \
                    if served else None
                results["platform"][s.name] = r
                # p50/p99 are None when no request finished within the run.
                print(f"  platform  {s.label:<38} {r['rps']:>8.0f} req/s p50 {r['p50_ms']!s:>7} ms  "
                      f"p99 {r['p99_ms']!s:>7} ms  errors {r['errors']}  cpu/req {r['server_cpu_ms_per_request']} ms")
            stop_process(process)
    finally:
        stop_process(process)
        servers.stop()
    (args.out / "results.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    print("\n| side | scenario | req/s | p50 ms | p90 ms | p99 ms | errors |\n|---|---|---|---|---|---|---|")
    if "pgbench" in results:
        print(_row("database", "pgbench -S (prepared)", results["pgbench"]))
    labels = {s.name: s.label for s in build(dataset)}
    for name in results["platform"] or results["sql"]:
        for side in ("sql", "platform"):
            if name in results[side]:
                print(_row("SQL only" if side == "sql" else "platform", labels[name], results[side][name]))
    print(f"\nresults written to {args.out / 'results.json'}")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deals", type=int, default=100_000)
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--duration", type=float, default=8)
    parser.add_argument("--warmup", type=float, default=2)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--driver", choices=("auto", "wrk", "python"), default="auto")
    parser.add_argument("--reuse-data", action="store_true")
    parser.add_argument("--only", type=lambda s: set(s.split(",")), default=set())
    parser.add_argument("--skip", type=lambda s: set(s.split(",")), default=set(), help="pgbench,explain,sql,platform")
    parser.add_argument("--out", type=Path, default=DEALS_OUT)
    started = time.perf_counter()
    run(parser.parse_args())
    print(f"done in {time.perf_counter() - started:.0f}s", file=sys.stderr)


if __name__ == "__main__":
    main()
