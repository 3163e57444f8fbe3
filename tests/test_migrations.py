"""Migrations that backfill: rows that exist before them come out as a fresh write would leave them."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from crm_api.config import Settings
from crm_api.kpis import reports
from crm_api.kpis.sql import Window
from crm_api.migrate import downgrade, migration_module, upgrade
from tests.databases import scratch_database
from tests.kpis import test_stay_days as stay_days
from tests.kpis import test_stay_owner as stay_owner

BEFORE_SEARCH = "20261124_0702"  # the revision before the search-term index
BEFORE_NEWEST = "20261126_0702"  # the revision before record_values' created_at
BEFORE_CASE_TERMS = "20261126_0705"  # the revision before case subjects in the search-term index
BEFORE_STAY_DAYS = "20261127_0805"  # the revision before the funnel's rollup
BEFORE_LINEAR_GUARDS = "20261128_1101"  # the revision before counted trigger guards
LINEAR_GUARDS = "20261128_1102"
BEFORE_STAY_OWNER = "20261128_1301"  # the revision before the stays' copy of their deal's owner


@asynccontextmanager
async def migrated(servers: tuple[str, str], before: str, fill: Callable[[AsyncConnection], Awaitable[None]],
                   to: str = "head") -> AsyncIterator[AsyncEngine]:
    """A database of its own migrated to `before`, filled by `fill`, then migrated to `to` (dropped after)."""
    server_url, _ = servers
    async with scratch_database(server_url, "crm_mig") as url:
        engine = create_async_engine(url)
        try:
            await asyncio.to_thread(upgrade, url, Settings(database_url=url), before)
            async with engine.begin() as conn:
                await fill(conn)
            await asyncio.to_thread(upgrade, url, Settings(database_url=url), to)
            yield engine
        finally:
            await engine.dispose()


async def test_search_terms_and_lookup_keys_are_backfilled_for_existing_rows(servers):
    tenant, company, contact = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()

    async def fill(conn: AsyncConnection) -> None:
        await conn.execute(text("INSERT INTO tenants (id, name) VALUES (:t, 'Old')"), {"t": tenant})
        await conn.execute(text("""INSERT INTO companies (tenant_id, id, name, domain, address_city)
                                   VALUES (:t, :c, 'Acme Rockets', 'Acme.example', 'Berlin')"""),
                           {"t": tenant, "c": company})
        await conn.execute(text("""INSERT INTO contacts (tenant_id, id, first_name, last_name, email, phone,
                                                         company_id, address_city)
                                   VALUES (:t, :p, 'Ada', 'Lovelace', 'ada@analytical.example',
                                           '+44 20 7946 0018', :c, 'London')"""),
                           {"t": tenant, "p": contact, "c": company})

    async with migrated(servers, BEFORE_SEARCH, fill) as engine, engine.connect() as conn:
        terms = dict((await conn.execute(text(
            "SELECT object_type, array_agg(term ORDER BY term) FROM search_terms GROUP BY object_type"))).all())
        keys = (await conn.execute(text(
            "SELECT address_city_key, domain_key, name_key FROM companies WHERE id = :c"), {"c": company})).one()
        city = (await conn.execute(text("SELECT address_city_key FROM contacts WHERE id = :p"),
                                   {"p": contact})).scalar_one()
        columns = set((await conn.execute(text(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'contacts'"))).scalars())
    assert terms["company"] == ["acme", "example", "rockets"]
    assert {"ada", "lovelace", "analytical", "acme", "rockets", "442079460018", "79460018"} <= set(
        terms["contact"])
    assert tuple(keys) == ("berlin", "acme.example", "acme rockets")
    assert city == "london"
    assert "search_terms" in columns and "search_text" not in columns  # trigram search's copy is gone (0503)


async def test_record_values_get_their_records_created_at(servers):
    tenant, contact, other = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()

    async def fill(conn: AsyncConnection) -> None:
        await conn.execute(text("INSERT INTO tenants (id, name) VALUES (:t, 'Old')"), {"t": tenant})
        await conn.execute(text("""INSERT INTO contacts (tenant_id, id, first_name, tags, created_at)
                                   VALUES (:t, :p, 'Ada', ARRAY['vip', 'press'], '2024-02-03T04:05:06Z'),
                                          (:t, :q, 'Bob', ARRAY['vip'], '2025-01-01T00:00:00Z')"""),
                           {"t": tenant, "p": contact, "q": other})

    async with migrated(servers, BEFORE_NEWEST, fill) as engine, engine.connect() as conn:
        rows = (await conn.execute(text(
            "SELECT r.value, r.record_id, r.created_at = c.created_at FROM record_values r "
            "JOIN contacts c ON c.tenant_id = r.tenant_id AND c.id = r.record_id ORDER BY 1, 2"))).all()
        nullable = (await conn.execute(text(
            "SELECT is_nullable FROM information_schema.columns WHERE table_name = 'record_values' "
            "AND column_name = 'created_at'"))).scalar_one()
    assert sorted(rows) == sorted([("s:press", contact, True), ("s:vip", contact, True),
                                   ("s:vip", other, True)])
    assert nullable == "NO"


async def test_case_subjects_are_backfilled_into_the_search_terms(servers):
    tenant, case = uuid.uuid4(), uuid.uuid4()

    async def fill(conn: AsyncConnection) -> None:
        await conn.execute(text("INSERT INTO tenants (id, name) VALUES (:t, 'Old')"), {"t": tenant})
        await conn.execute(text("""INSERT INTO cases (tenant_id, id, number, subject, channel, type, priority, status)
                                   VALUES (:t, :c, 7, 'Invoice WRONG, twice', 'email', 'problem', 'high', 'new')"""),
                           {"t": tenant, "c": case})

    async with migrated(servers, BEFORE_CASE_TERMS, fill) as engine, engine.connect() as conn:
        terms = (await conn.execute(text(
            "SELECT array_agg(term ORDER BY term) FROM search_terms WHERE object_type = 'case' AND record_id = :c"),
            {"c": case})).scalar_one()
        own = (await conn.execute(text("SELECT search_terms FROM cases WHERE id = :c"), {"c": case})).scalar_one()
    assert terms == ["invoice", "twice", "wrong"]
    assert sorted(own) == terms


async def test_funnel_rollup_and_repeat_pointers_are_backfilled_for_existing_stays(servers):
    tenant, pipeline, new, offer = (uuid.uuid4() for _ in range(4))
    live, other, trashed = (uuid.uuid4() for _ in range(3))
    stays = [(live, new, "2026-03-01T10:00:00Z", "2026-03-02T16:00:00Z"),
             (live, offer, "2026-03-02T16:00:00Z", "2026-03-02T16:07:12Z"),
             (live, new, "2026-03-02T16:07:12Z", "2026-03-05T00:00:00Z"),  # a repeat of New
             (live, offer, "2026-03-05T00:00:00Z", None),  # and of Offer
             (other, new, "2026-03-01T20:00:00Z", None), (trashed, new, "2026-03-01T12:00:00Z", None)]

    def at(value: str | None) -> datetime | None:
        return None if value is None else datetime.fromisoformat(value)

    async def fill(conn: AsyncConnection) -> None:
        await conn.execute(text("INSERT INTO tenants (id, name, time_zone) VALUES (:t, 'Old', 'Asia/Tokyo')"),
                           {"t": tenant})
        await conn.execute(text("INSERT INTO pipelines (tenant_id, id, name, is_default) VALUES (:t, :p, 'P', true)"),
                           {"t": tenant, "p": pipeline})
        await conn.execute(text("""INSERT INTO pipeline_stages (tenant_id, id, pipeline_id, name, position, probability,
                                                                kind)
                                   VALUES (:t, :n, :p, 'New', 0, 10, 'open'), (:t, :o, :p, 'Offer', 1, 50, 'open')"""),
                           {"t": tenant, "p": pipeline, "n": new, "o": offer})
        await conn.execute(text("""INSERT INTO deals (tenant_id, id, title, pipeline_id, stage_id, status, deleted_at)
                                   VALUES (:t, :a, 'a', :p, :o, 'open', NULL), (:t, :b, 'b', :p, :n, 'open', NULL),
                                          (:t, :c, 'c', :p, :n, 'open', now())"""),
                           {"t": tenant, "p": pipeline, "n": new, "o": offer, "a": live, "b": other, "c": trashed})
        for deal, stage, entered, left in stays:
            await conn.execute(text("""
                INSERT INTO deal_stage_history (tenant_id, id, deal_id, pipeline_id, stage_id, status, entered_at,
                                                left_at, entered_by)
                VALUES (:t, :i, :d, :p, :s, 'open', :e, :l, '{}')"""),
                {"t": tenant, "i": uuid.uuid4(), "d": deal, "p": pipeline, "s": stage, "e": at(entered), "l": at(left)})

    async with migrated(servers, BEFORE_STAY_DAYS, fill) as engine:
        made = await stay_days.assert_exact(engine, SimpleNamespace(id=tenant))
        async with engine.connect() as conn:
            pointers = (await conn.execute(text(
                "SELECT count(*) FROM deal_stage_history WHERE prev_stage_at IS NOT NULL"))).scalar_one()
    assert pointers == 2
    # Tokyo days; the trashed deal's stay is not counted; Offer was never followed by a stage further on; 7 min
    # 12 s is exactly 0.005 days (bucket 9: 6 min 21 s to 8 min).
    assert {k: (*v[:3], round(v[3], 6)) for k, v in made.items()} == {
        (pipeline, date(2026, 3, 1), new, 33): (1, 1, 1, Decimal("1.25")),
        (pipeline, date(2026, 3, 2), new, -1): (1, 0, 0, 0),
        (pipeline, date(2026, 3, 3), offer, 9): (1, 0, 1, Decimal("0.005")),
        (pipeline, date(2026, 3, 3), new, 36): (1, 1, 1, Decimal("2.328333")),
        (pipeline, date(2026, 3, 5), offer, -1): (1, 0, 0, 0)}


TRIGGER_FUNCTIONS = text("""
    SELECT p.proname, pg_get_functiondef(p.oid) FROM pg_proc p
    WHERE p.prorettype = 'trigger'::regtype AND p.pronamespace = current_schema()::regnamespace""")


async def test_trigger_statements_over_transition_tables_are_made_linear_both_ways(servers):
    """Migration 20261128_1102 turns each EXISTS over both transition tables into a count and fences each subquery
    joining them (nested loops that compared every new row with every old one), changes nothing else, and its
    downgrade gives the definitions back exactly; after it no trigger function has either form left (at head: the
    next test)."""
    guards = migration_module("2026_11_28_1102_linear_trigger_guards.py")
    before: dict[str, str] = {}

    async def fill(conn: AsyncConnection) -> None:
        before.update(dict((await conn.execute(TRIGGER_FUNCTIONS)).all()))

    def quadratic(functions: dict[str, str]) -> set[str]:
        return {name for name, source in functions.items()
                if guards.quadratic_guards(source) or guards.open_joins(source)}

    async with migrated(servers, BEFORE_LINEAR_GUARDS, fill, LINEAR_GUARDS) as engine:
        assert {"deal_attribution_rekey", "deal_scoped_rekey", "deal_funnel_trash", "deal_stays_funnel",
                "deal_stays_advance", "deal_stays_proposals", "deal_proposals_rekey"} <= quadratic(before)
        async with engine.connect() as conn:
            after = dict((await conn.execute(TRIGGER_FUNCTIONS)).all())
        assert quadratic(after) == set()
        changed = {name for name in before if after[name] != before[name]}
        assert changed == quadratic(before)
        for name in changed:
            assert guards.exists(guards.unfenced(after[name])) == before[name]
        assert "(SELECT count(*) FROM (WITH c AS MATERIALIZED (SELECT n.* FROM new_rows n JOIN old_rows o" in after[
            "deal_funnel_trash"]
        url = engine.url.render_as_string(hide_password=False)
        await asyncio.to_thread(downgrade, url, Settings(database_url=url), BEFORE_LINEAR_GUARDS)
        async with engine.connect() as conn:
            assert dict((await conn.execute(TRIGGER_FUNCTIONS)).all()) == before


async def test_no_trigger_function_at_head_joins_transition_tables_unfenced(owner_engine):
    guards = migration_module("2026_11_28_1102_linear_trigger_guards.py")
    async with owner_engine.connect() as conn:
        functions = dict((await conn.execute(TRIGGER_FUNCTIONS)).all())
    assert len(functions) > 30
    assert {name for name, source in functions.items()
            if guards.quadratic_guards(source) or guards.open_joins(source)} == set()


async def test_stays_get_their_deals_owner(servers):
    tenants, users, pipelines, stages = ([uuid.uuid4() for _ in range(2)] for _ in range(4))
    ann, bob = users
    deals = {uuid.uuid4(): (0, ann, None), uuid.uuid4(): (0, ann, None), uuid.uuid4(): (0, None, None),
             uuid.uuid4(): (0, ann, "now()"), uuid.uuid4(): (1, bob, None)}  # tenant, owner, trashed
    stays = [(deal, entered, hours) for n, deal in enumerate(deals) for entered, hours in
             ((datetime(2026, 3, 1, 10 + n), 30 + n), (datetime(2026, 3, 3, 9), None))]

    async def fill(conn: AsyncConnection) -> None:
        for t, user, pipeline, stage in zip(tenants, users, pipelines, stages, strict=True):
            await conn.execute(text("INSERT INTO tenants (id, name) VALUES (:t, 'Old')"), {"t": t})
            await conn.execute(text("INSERT INTO users (tenant_id, id, email, name) "
                                    "VALUES (:t, :u, 'u@example.com', 'U')"), {"t": t, "u": user})
            await conn.execute(text("INSERT INTO pipelines (tenant_id, id, name, is_default) "
                                    "VALUES (:t, :p, 'P', true)"), {"t": t, "p": pipeline})
            await conn.execute(text("""INSERT INTO pipeline_stages (tenant_id, id, pipeline_id, name, position,
                                                                    probability, kind)
                                       VALUES (:t, :s, :p, 'New', 0, 10, 'open')"""),
                               {"t": t, "p": pipeline, "s": stage})
        for deal, (n, owner, trashed) in deals.items():
            await conn.execute(text(f"""
                INSERT INTO deals (tenant_id, id, title, pipeline_id, stage_id, status, owner_id, deleted_at)
                VALUES (:t, :d, 'd', :p, :s, 'open', :o, {trashed or 'NULL'})"""),
                               {"t": tenants[n], "d": deal, "p": pipelines[n], "s": stages[n], "o": owner})
        for deal, entered, hours in stays:
            n = deals[deal][0]
            await conn.execute(text("""
                INSERT INTO deal_stage_history (tenant_id, id, deal_id, pipeline_id, stage_id, status, entered_at,
                                                left_at, entered_by)
                VALUES (:t, :i, :d, :p, :s, 'open', :e, :l, '{}')"""),
                {"t": tenants[n], "i": uuid.uuid4(), "d": deal, "p": pipelines[n], "s": stages[n],
                 "e": entered.replace(tzinfo=UTC), "l": None if hours is None else
                 entered.replace(tzinfo=UTC) + timedelta(hours=hours)})

    async with migrated(servers, BEFORE_STAY_OWNER, fill) as engine, engine.connect() as conn:
        copies = dict((await conn.execute(text(
            "SELECT deal_id, array_agg(DISTINCT owner_id) FROM deal_stage_history GROUP BY 1"))).all())
        window = Window(date(2026, 3, 1), date(2026, 3, 31), "UTC").params(None)
        funnels = {}
        for n, owner in enumerate(users):
            params = {"t": tenants[n], "p": pipelines[n], "owner": owner, **window}
            funnels[owner] = [tuple(r) for r in (await conn.execute(text(reports._funnel_stays(owner)), params)).all()]
            made = (await conn.execute(stay_owner.REFERENCE, params)).one()
            assert funnels[owner] == [(stages[n], "New", 0, "open", made.entered, made.advanced, made.average,
                                       made.median)]
    assert copies == {deal: [owner] for deal, (_, owner, _) in deals.items()}
    # ann: two live deals (the trashed one and the ownerless one left out), one ended stay each (31 and 30 hours).
    assert funnels[ann] == [(stages[0], "New", 0, "open", 2, 0, Decimal("1.27"), Decimal("1.27"))]
    assert funnels[bob][0][4] == 1
