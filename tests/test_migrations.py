"""Migrations that backfill: rows that exist before them come out as a fresh write would leave them."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from crm_api.config import Settings
from crm_api.migrate import upgrade
from tests.databases import scratch_database

BEFORE_SEARCH = "20261124_0702"  # the revision before the search-term index
BEFORE_NEWEST = "20261126_0702"  # the revision before record_values' created_at
BEFORE_CASE_TERMS = "20261126_0705"  # the revision before case subjects in the search-term index


@asynccontextmanager
async def migrated(servers: tuple[str, str], before: str,
                   fill: Callable[[AsyncConnection], Awaitable[None]]) -> AsyncIterator[AsyncEngine]:
    """A database of its own migrated to `before`, filled by `fill`, then migrated to head (dropped after)."""
    server_url, _ = servers
    async with scratch_database(server_url, "crm_mig") as url:
        engine = create_async_engine(url)
        try:
            await asyncio.to_thread(upgrade, url, Settings(database_url=url), before)
            async with engine.begin() as conn:
                await fill(conn)
            await asyncio.to_thread(upgrade, url, Settings(database_url=url))
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
