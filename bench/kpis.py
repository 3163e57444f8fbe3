"""KPI benchmark: a large tenant (the deals dataset of bench/deals.py plus leads, activities and cases made
in SQL), then every /v1/kpis request timed through the app in-process (ASGI, no network), N runs each.

    python -m bench.kpis --deals 200000 --activities 1000000 --cases 40000 --runs 7
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import httpx

from bench.deals import DEALS_DB, generate_deals
from bench.servers import OUT, Database, Servers

KPIS_OUT = OUT / "kpis"


async def add_rows(db: Database, tenant_id: uuid.UUID, leads: int, activities: int, cases: int) -> None:
    """Leads, activities and cases spread over two years, owned by the dataset's users; ANALYZE."""
    conn = await db.connect()
    try:
        owners = [r["id"] for r in await conn.fetch("SELECT id FROM users WHERE tenant_id = $1", tenant_id)]
        await conn.execute("SET synchronous_commit = off")
        await conn.execute("""
            INSERT INTO campaigns (tenant_id, id, name, channel, status, cost_amount, cost_currency)
            SELECT $1, gen_random_uuid(), 'Campaign ' || i, 'email', 'active', 1000 * i, 'EUR'
            FROM generate_series(1, 20) i""", tenant_id)
        await conn.execute("""
            INSERT INTO leads (tenant_id, id, first_name, source, status, owner_id, campaign_id, created_at, updated_at)
            SELECT $1, gen_random_uuid(), 'Lead ' || i,
                   (ARRAY['web_form','referral','advertising','social','other'])[1 + i % 5],
                   (ARRAY['new','mql','sql','disqualified','new'])[1 + i % 5], ($2::uuid[])[1 + i % cardinality($2)],
                   (SELECT id FROM campaigns WHERE tenant_id = $1 ORDER BY id OFFSET i % 20 LIMIT 1),
                   now() - (i % 730) * interval '1 day', now()
            FROM generate_series(1, $3) i""", tenant_id, owners, leads)
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
        await conn.execute("""
            INSERT INTO cases (tenant_id, id, number, subject, type, priority, channel, status, assignee_id, team,
                               created_at,
                               updated_at, first_response_at, resolved_at, reopened_count, satisfaction_score,
                               satisfaction_at, resolution_breached_at, sla_paused_minutes)
            SELECT $1, gen_random_uuid(), 1000000 + i, 'Case ' || i, 'question', 'normal',
                   (ARRAY['email','phone','web','chat'])[1 + i % 4],
                   CASE WHEN i % 5 = 0 THEN 'open' ELSE 'resolved' END,
                   ($2::uuid[])[1 + i % cardinality($2)], (ARRAY['tier1','tier2'])[1 + i % 2], at, at,
                   at + (i % 300) * interval '1 minute',
                   CASE WHEN i % 5 <> 0 THEN at + (i % 3000) * interval '1 minute' END, i % 7 / 6,
                   CASE WHEN i % 3 = 0 THEN 1 + i % 5 END, CASE WHEN i % 3 = 0 THEN at + interval '2 days' END,
                   CASE WHEN i % 11 = 0 THEN at + interval '1 day' END, 0
            FROM generate_series(1, $3) i, LATERAL (SELECT now() - (i % 730) * interval '1 day' AS at) t""",
                           tenant_id, owners, cases)
        for table in ("campaigns", "leads", "activities", "cases"):
            await conn.execute(f"VACUUM (ANALYZE) {table}")
    finally:
        await conn.close()


REQUESTS = [
    ("sales, one month", "/v1/kpis/sales", {"from": "-30", "to": "0"}),
    ("sales, a year by month", "/v1/kpis/sales", {"from": "-365", "to": "0", "group_by": "month"}),
    ("sales, a quarter by owner", "/v1/kpis/sales", {"from": "-90", "to": "0", "group_by": "owner"}),
    ("funnel, a quarter", "/v1/kpis/funnel", {"from": "-90", "to": "0"}),
    ("marketing, a quarter", "/v1/kpis/marketing", {"from": "-90", "to": "0"}),
    ("service, one month", "/v1/kpis/service", {"from": "-30", "to": "0"}),
    ("service, a year by month", "/v1/kpis/service", {"from": "-365", "to": "0", "group_by": "month"}),
    ("leaderboard, a quarter", "/v1/kpis/leaderboard", {"from": "-90", "to": "0"}),
    ("timeseries new_revenue, a year by week", "/v1/kpis/timeseries",
     {"from": "-365", "to": "0", "metric": "new_revenue", "interval": "week"}),
]


def _dates(params: dict[str, str]) -> dict[str, str]:
    today = date.today().toordinal()
    return {k: (date.fromordinal(today + int(v)).isoformat() if k in ("from", "to") else v) for k, v in params.items()}


async def measure(database_url: str, redis_url: str, api_key: str, runs: int) -> list[dict[str, Any]]:
    """Median and max milliseconds of each KPI request (after one warm-up)."""
    from crm_api.app import create_app
    from crm_api.config import Settings

    app = create_app(Settings(database_url=database_url, redis_url=redis_url, log_level="WARNING"))
    results = []
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://bench",
            headers={"Authorization": f"Bearer {api_key}"}, timeout=120) as client:
        for label, path, params in REQUESTS:
            timings = []
            for i in range(runs + 1):
                t0 = time.perf_counter()
                response = await client.get(path, params=_dates(params))
                elapsed = (time.perf_counter() - t0) * 1000
                if response.status_code != 200:
                    raise RuntimeError(f"{path}: {response.status_code} {response.text[:300]}")
                if i:
                    timings.append(elapsed)
            results.append({"request": label, "median_ms": round(statistics.median(timings), 1),
                            "max_ms": round(max(timings), 1)})
            print(f"  {label:45} median {results[-1]['median_ms']:8.1f} ms   max {results[-1]['max_ms']:8.1f} ms")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deals", type=int, default=200_000)
    parser.add_argument("--contacts", type=int, default=20_000)
    parser.add_argument("--leads", type=int, default=200_000)
    parser.add_argument("--activities", type=int, default=1_000_000)
    parser.add_argument("--cases", type=int, default=40_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--out", type=Path, default=KPIS_OUT)
    args = parser.parse_args()

    async def run(servers: Servers) -> dict[str, Any]:
        assert servers.server is not None
        t0 = time.perf_counter()
        dataset = await generate_deals(servers.server, args.deals, args.contacts)
        db = servers.server.with_database(DEALS_DB)
        await add_rows(db, uuid.UUID(dataset.tenant_id), args.leads, args.activities, args.cases)
        print(f"data ready in {time.perf_counter() - t0:.0f}s; timing {len(REQUESTS)} requests x {args.runs}")
        results = await measure(dataset.database_url, servers.redis_url, dataset.api_key, args.runs)
        return {"deals": args.deals, "leads": args.leads, "activities": args.activities, "cases": args.cases,
                "contacts": args.contacts, "runs": args.runs, "results": results}

    with Servers(args.out) as servers:
        report = asyncio.run(run(servers))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(report, indent=2))
    print(f"results written to {args.out / 'results.json'}")


if __name__ == "__main__":
    main()
