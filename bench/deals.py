"""Deals data generator: the contacts dataset of bench/datagen.py, plus five pipelines, lost reasons and N
deals (each with its current stay in the stage history), loaded with COPY as the table owner.

The deals table's trigger derives `probability` and `stale_at` from the stage; for the bulk load it is
disabled and the generator computes the same values, then one SQL check proves they match what the
trigger would have written. Secondary indexes and foreign keys are dropped for the COPY and built again.

    python -m bench.deals --deals 1000000 --contacts 100000      # embedded PostgreSQL in bench/out/deals
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench import vocabulary as V
from bench.datagen import SavedAsJson, generate
from bench.servers import OUT, Database, Servers, recreate_database

DEALS_DB = "crm_bench_deals"
DEALS_OUT = OUT / "deals"
CHUNK = 20_000
SPAN = timedelta(days=2 * 365)
DEAL_COLUMNS = (
    "tenant_id", "id", "title", "amount", "currency", "pipeline_id", "stage_id", "status", "owner_id", "company_id",
    "contact_ids", "expected_close_date", "source", "lost_reason_id", "lost_note", "won_at", "lost_at",
    "stage_entered_at", "probability", "stale_at", "created_at", "updated_at", "custom_fields",
)
HISTORY_COLUMNS = ("tenant_id", "id", "deal_id", "pipeline_id", "stage_id", "status", "entered_at", "entered_by")
# The default pipeline (created with the tenant) and four more: (name, share of deals, rotting_days).
PIPELINES = [("Sales pipeline", 0.40, 30), ("Enterprise", 0.20, 45), ("SMB", 0.15, 14), ("Partners", 0.15, 30),
             ("Renewals", 0.10, 60)]
STAGES = [("Lead in", 10, "open"), ("Qualified", 20, "open"), ("Demo", 40, "open"), ("Proposal", 60, "open"),
          ("Negotiation", 80, "open"), ("Won", 100, "won"), ("Lost", 0, "lost")]
STAGE_SHARES = [0.22, 0.15, 0.12, 0.10, 0.06, 0.15, 0.20]
LOST_REASONS = ["Price", "Competitor", "No budget", "No decision", "Timing", "Product fit"]
PRODUCTS = ["CRM licence", "Support renewal", "Onboarding", "Upgrade", "Consulting", "Hardware", "Training",
            "Expansion", "Pilot", "Integration", "Managed service", "Analytics add-on"]
SOURCES = ["web", "referral", "trade_show", "outbound", "partner", "event"]
# A select custom field on deals (`custom_fields.region=...` filters): 20 regions, 70 % of deals have one;
# RARE_REGION is on 1 deal in 2,000 (a selective filter, the case an index is for).
REGIONS = [f"region-{n:02d}" for n in range(20)]
RARE_REGION = "region-rare"


@dataclass
class DealsDataset(SavedAsJson):
    """What the deals driver needs to know about the generated data."""

    database_url: str
    tenant_id: str
    api_key: str
    deals: int
    contacts: int
    pipelines: list[str] = field(default_factory=list)
    stages: dict[str, list[str]] = field(default_factory=dict)  # pipeline id -> stage ids in order
    owners: list[str] = field(default_factory=list)
    contact_ids: list[str] = field(default_factory=list)  # a sample of contacts that are on deals
    seconds: float = 0.0
    rows_per_second: float = 0.0


def _uuid7(rng: random.Random, at: datetime) -> uuid.UUID:
    ms = int(at.timestamp() * 1000)
    rand = rng.getrandbits(74)
    return uuid.UUID(int=(ms << 80) | (0x7 << 76) | ((rand >> 62) << 64) | (0b10 << 62) | (rand & ((1 << 62) - 1)))


class DealGenerator:
    """Deterministic deals spread over pipelines and stages, with owners, companies, contacts and amounts."""

    def __init__(self, tenant_id: uuid.UUID, total: int, stages: dict[uuid.UUID, list[tuple[Any, ...]]],
                 owners: list[uuid.UUID], companies: list[uuid.UUID], contacts: list[uuid.UUID],
                 reasons: list[uuid.UUID], seed: int = 7) -> None:
        self.rng = random.Random(seed)
        self.tenant_id, self.total = tenant_id, total
        self.owners, self.companies, self.contacts, self.reasons = owners, companies, contacts, reasons
        self.now = datetime.now(UTC).replace(microsecond=0)
        self.start = self.now - SPAN
        # Weighted picks as lookup tables: (pipeline id, stage row) per slot.
        pipelines = list(stages)
        self.slots = [(p, stages[p][s]) for p, (_, share, _) in zip(pipelines, PIPELINES, strict=True)
                      for s, stage_share in enumerate(STAGE_SHARES) for _ in range(round(share * stage_share * 1000))]
        self.titles = [f"{product} - {word}" for product in PRODUCTS for word in V.COMPANY_WORDS]

    def records(self, begin: int, end: int, history: list[tuple[Any, ...]]) -> Iterator[tuple[Any, ...]]:
        rnd, slots, titles = self.rng.random, self.slots, self.titles
        owners, companies, contacts, reasons = self.owners, self.companies, self.contacts, self.reasons
        span, start, now, tenant_id = SPAN.total_seconds(), self.start, self.now, self.tenant_id
        system = json.dumps({"type": "system", "id": None})
        regions = [json.dumps({"region": r}) for r in REGIONS]
        rare = json.dumps({"region": RARE_REGION})
        for i in range(begin, end):
            created = start + timedelta(seconds=span * i / self.total + 3600 * rnd())
            created = min(created, now)
            updated = min(now, created + timedelta(seconds=120 * 86400 * rnd()))
            entered = created + (updated - created) * rnd()
            deal_id = _uuid7(self.rng, created)
            pipeline_id, (stage_id, probability, kind, rotting) = slots[int(rnd() * len(slots))]
            has_amount = rnd() < 0.85
            amount = Decimal(int(500 + rnd() * 250_000)) if has_amount else None
            currency = ("USD" if rnd() < 0.1 else "EUR") if has_amount else None
            people = [contacts[int(rnd() * len(contacts))] for _ in range(1 + int(rnd() * 2.2))] if rnd() < 0.8 else []
            close = (entered + timedelta(days=int(rnd() * 180))).date() if rnd() < 0.75 else None
            lost = kind == "lost"
            yield (tenant_id, deal_id, f"{titles[int(rnd() * len(titles))]} {i}", amount, currency, pipeline_id,
                   stage_id, kind, owners[int(rnd() * len(owners))] if rnd() < 0.95 else None,
                   companies[int(rnd() * len(companies))] if rnd() < 0.8 else None, list(dict.fromkeys(people)),
                   close, SOURCES[int(rnd() * len(SOURCES))],
                   reasons[int(rnd() * len(reasons))] if lost and rnd() < 0.9 else None,
                   "Went with another offer" if lost and rnd() < 0.3 else None,
                   entered if kind == "won" else None, entered if lost else None, entered, probability,
                   updated + timedelta(days=rotting) if kind == "open" and rotting else None, created, updated,
                   rare if i % 2000 == 1999 else regions[int(rnd() * len(regions))] if rnd() < 0.7 else "{}")
            history.append((tenant_id, uuid.UUID(int=deal_id.int ^ 1), deal_id, pipeline_id, stage_id, kind, entered,
                            system))


async def _stream(gen: DealGenerator, history: list[tuple[Any, ...]]) -> AsyncIterator[tuple[Any, ...]]:
    for begin in range(0, gen.total, CHUNK):
        for record in gen.records(begin, min(gen.total, begin + CHUNK), history):
            yield record
        await asyncio.sleep(0)


async def _drop_secondary(conn: Any, table: str) -> tuple[list[Any], list[Any]]:
    """Drop a table's foreign keys and secondary indexes; returns them to create again."""
    foreign_keys = await conn.fetch(
        "SELECT conname, pg_get_constraintdef(oid) AS definition FROM pg_constraint "
        "WHERE conrelid = $1::regclass AND contype = 'f'", table)
    for fk in foreign_keys:
        await conn.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{fk["conname"]}"')
    indexes = await conn.fetch(
        "SELECT i.indexname, i.indexdef FROM pg_indexes i JOIN pg_class c ON c.relname = i.indexname "
        "JOIN pg_index x ON x.indexrelid = c.oid "
        "WHERE i.tablename = $1 AND i.schemaname = current_schema() AND NOT x.indisprimary", table)
    for index in indexes:
        await conn.execute(f'DROP INDEX "{index["indexname"]}"')
    return list(foreign_keys), list(indexes)


async def _setup_pipelines(conn: Any, tenant_id: uuid.UUID) -> dict[uuid.UUID, list[tuple[Any, ...]]]:
    """The default pipeline's stages plus four more pipelines; rows (id, probability, kind, rotting_days)."""
    default = await conn.fetchval("SELECT id FROM pipelines WHERE tenant_id = $1 AND is_default", tenant_id)
    pipelines: dict[uuid.UUID, list[tuple[Any, ...]]] = {}
    for n, (name, _, rotting) in enumerate(PIPELINES):
        if n == 0:  # the tenant's own default pipeline, as create_tenant made it
            pipelines[default] = [tuple(r) for r in await conn.fetch(
                "SELECT id, probability, kind, rotting_days FROM pipeline_stages WHERE tenant_id = $1 "
                "AND pipeline_id = $2 AND deleted_at IS NULL ORDER BY position", tenant_id, default)]
            continue
        pipeline_id = uuid.uuid4()
        await conn.execute("INSERT INTO pipelines (tenant_id, id, name) VALUES ($1, $2, $3)",
                           tenant_id, pipeline_id, name)
        rows = []
        for position, (stage, probability, kind) in enumerate(STAGES):
            stage_id = uuid.uuid4()
            days = rotting if kind == "open" else None
            await conn.execute(
                "INSERT INTO pipeline_stages (tenant_id, id, pipeline_id, name, position, probability, kind, "
                "rotting_days) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                tenant_id, stage_id, pipeline_id, stage, position, probability, kind, days)
            rows.append((stage_id, probability, kind, days))
        pipelines[pipeline_id] = rows
    return pipelines


async def derive_stays(conn: Any, tenant_id: uuid.UUID) -> None:
    """What the stage stays' statement triggers write, set-based, for stays loaded with those triggers off
    (row by row they probe the deal's other stays: quadratic without the indexes a bulk load drops): each stay's
    `advanced` flag (migration 20261126_0702's backfill), prev_proposal_at and the proposal rows of the deal
    rollups, prev_stage_at and the funnel's deal_stay_day_totals, the stays' copy of their deal's owner (their rebuild
    functions), with the stays' own triggers off."""
    await conn.execute("ALTER TABLE deal_stage_history DISABLE TRIGGER USER")
    try:
        await conn.execute("""
        UPDATE deal_stage_history t SET advanced = x.advanced
        FROM (SELECT h.tenant_id, h.id, coalesce(s.position < max(s.position) FILTER (WHERE s.kind <> 'lost') OVER (
                  PARTITION BY h.tenant_id, h.deal_id, h.pipeline_id ORDER BY h.entered_at, h.id
                  ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING), false) AS advanced
              FROM deal_stage_history h JOIN pipeline_stages s ON s.tenant_id = h.tenant_id AND s.id = h.stage_id
              WHERE h.tenant_id = $1) x
        WHERE t.tenant_id = x.tenant_id AND t.id = x.id AND t.advanced <> x.advanced""", tenant_id)
        await conn.execute("SELECT crm_kpi_proposals_rebuild($1)", tenant_id)
        await conn.execute("SELECT crm_kpi_attribution_rebuild($1)", tenant_id)
        await conn.execute("SELECT crm_kpi_scoped_rebuild($1)", tenant_id)
        await conn.execute("SELECT crm_kpi_stay_repeats_rebuild($1)", tenant_id)
        await conn.execute("SELECT crm_kpi_stays_rebuild($1)", tenant_id)
        await conn.execute("SELECT crm_kpi_stay_owners_rebuild($1)", tenant_id)
    finally:
        await conn.execute("ALTER TABLE deal_stage_history ENABLE TRIGGER USER")


async def generate_deals(server: Database, deals: int, contacts: int, *, seed: int = 7,
                         quiet: bool = False) -> DealsDataset:
    """A fresh database with the contacts dataset and `deals` deals; ANALYZE; report rows/s."""
    from crm_api.config import Settings
    from crm_api.migrate import upgrade_async

    say = (lambda *a: None) if quiet else print
    started = time.perf_counter()
    db = await recreate_database(server, DEALS_DB)
    await upgrade_async(db.sqlalchemy_url, Settings(database_url=db.sqlalchemy_url))
    say(f"contacts dataset: {contacts:,} contacts ...")
    base = await generate(db, contacts, quiet=quiet)
    tenant_id = uuid.UUID(base.tenant_id)
    conn = await db.connect()
    try:
        owners = [r["id"] for r in await conn.fetch("SELECT id FROM users WHERE tenant_id = $1", tenant_id)]
        companies = [r["id"] for r in await conn.fetch("SELECT id FROM companies WHERE tenant_id = $1", tenant_id)]
        people = [uuid.UUID(c) for c in base.contact_ids]
        async with conn.transaction():
            await conn.execute("SET LOCAL synchronous_commit = off")
            stages = await _setup_pipelines(conn, tenant_id)
            await conn.execute(
                "INSERT INTO custom_fields (tenant_id, id, object_type, key, label, type, options) "
                "VALUES ($1, $2, 'deal', 'region', 'Region', 'select', $3)", tenant_id, uuid.uuid4(),
                [*REGIONS, RARE_REGION])
            reasons = []
            for name in LOST_REASONS:
                reasons.append(uuid.uuid4())
                await conn.execute("INSERT INTO lost_reasons (tenant_id, id, name) VALUES ($1, $2, $3)",
                                   tenant_id, reasons[-1], name)
            gen = DealGenerator(tenant_id, deals, stages, owners, companies, people, reasons, seed)
            t0 = time.perf_counter()
            dropped = [await _drop_secondary(conn, t) for t in ("deal_stage_history", "deals")]
            # Row triggers off for the COPY; what they write is computed set-based below.
            await conn.execute("ALTER TABLE deals DISABLE TRIGGER deals_derive")
            await conn.execute("ALTER TABLE deals DISABLE TRIGGER deals_values_insert")
            await conn.execute("ALTER TABLE deals DISABLE TRIGGER deals_search_terms_write")
            await conn.execute("ALTER TABLE deal_stage_history DISABLE TRIGGER USER")
            history: list[tuple[Any, ...]] = []
            await conn.copy_records_to_table("deals", records=_stream(gen, history), columns=DEAL_COLUMNS)
            await conn.copy_records_to_table("deal_stage_history", records=history, columns=HISTORY_COLUMNS)
            copy_seconds = time.perf_counter() - t0
            say(f"  deals + history COPY: {copy_seconds:.1f}s")
            await conn.execute("ALTER TABLE deals ENABLE TRIGGER deals_derive")
            await conn.execute("ALTER TABLE deals ENABLE TRIGGER deals_values_insert")
            await conn.execute("ALTER TABLE deals ENABLE TRIGGER deals_search_terms_write")
            await conn.execute("ALTER TABLE deal_stage_history ENABLE TRIGGER USER")
            # search_terms (`q` on titles): the BEFORE trigger filled each deal's own terms during the COPY.
            await conn.execute("""INSERT INTO search_terms (tenant_id, object_type, term, record_id)
                                  SELECT tenant_id, 'deal', unnest(search_terms), id FROM deals
                                  WHERE tenant_id = $1""", tenant_id)
            # record_values (custom-field and contact_id filters), as the trigger would have written them.
            await conn.execute("""
                INSERT INTO record_values (tenant_id, object_type, key, value, record_id, created_at)
                SELECT d.tenant_id, 'deal', v.key, v.value, d.id, d.created_at FROM deals d,
                    record_value_rows(jsonb_build_object('custom_fields', d.custom_fields,
                                                         'contact_ids', d.contact_ids), ARRAY['contact_ids']) AS v""")
            await conn.execute("SET LOCAL maintenance_work_mem = '1GB'")
            await conn.execute("SET LOCAL max_parallel_maintenance_workers = 2")
            for table, (foreign_keys, indexes) in zip(("deal_stage_history", "deals"), dropped, strict=True):
                for index in indexes:
                    await conn.execute(index["indexdef"])
                for fk in foreign_keys:
                    await conn.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{fk["conname"]}" {fk["definition"]}')
            await derive_stays(conn, tenant_id)
            load_seconds = time.perf_counter() - t0
            say(f"  + indexes and foreign keys again, stays' derived data: {load_seconds:.1f}s")
            # The generator wrote what the trigger derives: prove it.
            wrong = await conn.fetchval("""
                SELECT count(*) FROM deals d JOIN pipeline_stages s ON s.tenant_id = d.tenant_id AND s.id = d.stage_id
                WHERE d.probability <> s.probability OR d.stale_at IS DISTINCT FROM
                    CASE WHEN d.status = 'open' AND s.rotting_days IS NOT NULL
                         THEN d.updated_at + make_interval(days => s.rotting_days) END""")
            if wrong:
                raise RuntimeError(f"{wrong} deals differ from what the deals_derive trigger would write")
        for table in ("pipelines", "pipeline_stages", "lost_reasons", "deals", "deal_stage_history", "record_values",
                      "deal_board_totals"):
            await conn.execute(f"VACUUM (ANALYZE) {table}")
    finally:
        await conn.close()
    seconds = time.perf_counter() - started
    say(f"  deals: {deals:,} rows (and {deals:,} history rows) in {load_seconds:.1f}s with their indexes "
        f"({deals / load_seconds:,.0f} deals/s); all data in {seconds:.1f}s")
    rng = random.Random(seed)
    return DealsDataset(
        database_url=db.sqlalchemy_url, tenant_id=str(tenant_id), api_key=base.api_key, deals=deals,
        contacts=contacts, pipelines=[str(p) for p in stages],
        stages={str(p): [str(s[0]) for s in rows] for p, rows in stages.items()},
        owners=[str(o) for o in owners], contact_ids=[str(c) for c in rng.sample(people, min(500, len(people)))],
        seconds=round(seconds, 2), rows_per_second=round(deals / load_seconds))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deals", type=int, default=100_000)
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--out", type=Path, default=DEALS_OUT)
    args = parser.parse_args()

    async def run(server: Database) -> DealsDataset:
        return await generate_deals(server, args.deals, args.contacts)

    with Servers(args.out) as servers:
        assert servers.server is not None
        dataset = asyncio.run(run(servers.server))
    dataset.save(args.out / "dataset.json")
    print(f"dataset written to {args.out / 'dataset.json'}")


if __name__ == "__main__":
    main()
