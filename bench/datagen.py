"""Data generator: one tenant with N contacts, N/10 companies and a team of users, loaded with COPY.

The tenant is created by the platform's own `create_tenant` (through a UnitOfWork on the owner
connection); the rows go in with asyncpg's binary COPY as the table owner. The contacts table's
BEFORE INSERT trigger fills `search_terms` (name, email, phones, company name) and
PostgreSQL computes `phone_key`/`mobile_key`, so those columns are never written here; the
search-term index (`search_terms` table) is filled from them in one INSERT after the COPY.

    python -m bench.datagen --contacts 1000000            # embedded PostgreSQL in bench/out
    DATABASE_URL=postgresql://postgres@127.0.0.1/postgres python -m bench.datagen --contacts 100000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
import unicodedata
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import accumulate
from pathlib import Path
from typing import Any, Self

from bench import vocabulary as V
from bench.servers import BENCH_DB, OUT, Database, Servers, recreate_database

CONTACT_COLUMNS = (
    "tenant_id", "id", "first_name", "last_name", "email", "phone", "mobile", "wechat", "job_title", "company_id",
    "owner_id", "source", "lifecycle_stage", "tags", "address_street", "address_city", "address_region",
    "address_postal_code", "address_country", "created_at", "updated_at",
)
COMPANY_COLUMNS = (
    "tenant_id", "id", "name", "domain", "industry", "employee_count", "annual_revenue_amount",
    "annual_revenue_currency", "relationship", "phone", "website", "owner_id", "tags", "address_city",
    "address_region", "address_country", "created_at", "updated_at",
)
USER_COLUMNS = ("tenant_id", "id", "email", "name", "role", "created_at", "updated_at")
USERS = 25
CHUNK = 20_000  # records per COPY call: bounded memory, and the server works while Python builds the next
SPAN = timedelta(days=3 * 365)


class SavedAsJson:
    """A dataclass kept in a JSON file between runs (`--reuse-data`)."""

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self)))  # type: ignore[call-overload]

    @classmethod
    def load(cls, path: Path) -> Self:
        return cls(**json.loads(path.read_text()))


@dataclass
class Dataset(SavedAsJson):
    """What the load driver needs to know about the generated data."""

    database_url: str
    tenant_id: str
    api_key: str
    contacts: int
    companies: int
    contact_ids: list[str] = field(default_factory=list)  # a random sample, for get-by-id
    search_terms: list[str] = field(default_factory=list)  # name fragments, some with a typo
    seconds: float = 0.0
    rows_per_second: float = 0.0


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in folded.lower() if ch.isalnum())


class Generator:
    """Deterministic (seeded) rows of realistic, varied CRM data."""

    def __init__(self, tenant_id: uuid.UUID, contacts: int, seed: int = 42) -> None:
        self.rng = random.Random(seed)
        self.tenant_id = tenant_id
        self.contacts = contacts
        self.companies = max(1, contacts // 10)
        self.now = datetime.now(UTC).replace(microsecond=0)
        self.start = self.now - SPAN
        self.first = [(n, _ascii(n)) for n in V.FIRST_NAMES]
        self.last = [(n, _ascii(n)) for n in V.LAST_NAMES]
        self.country_cum = list(accumulate(w for _, w, _, _ in V.COUNTRIES))
        self.postal = {c[0]: [[self._fill(p) for _ in range(40)] for _, _, p in c[3]] for c in V.COUNTRIES}
        self.lifecycle_cum = list(accumulate(w for _, w in V.LIFECYCLE))
        self.source_cum = list(accumulate(w for _, w in V.SOURCES))
        self.user_ids: list[uuid.UUID] = []
        self.company_rows: list[tuple[uuid.UUID, str, int]] = []  # id, domain, country index
        self.sample_ids: list[uuid.UUID] = []
        self.sample_rate = min(1.0, 20_000 / max(1, contacts))  # a uniform sample of about 20,000
        # Weighted picks as lookup tables (one rnd() each); tag sets drawn ahead from the tag shares.
        self.stage_table = [s for s, w in V.LIFECYCLE for _ in range(w)]
        self.source_table = [s for s, w in V.SOURCES for _ in range(w)]
        self.country_table = [i for i, c in enumerate(V.COUNTRIES) for _ in range(c[1])]
        self.tag_sets = [self._tags() for _ in range(8192)]

    def _fill(self, pattern: str) -> str:
        out = []
        for ch in pattern:
            out.append(str(self.rng.randrange(10)) if ch == "#" else ch)
        return "".join(out)

    def _uuid7(self, at: datetime) -> uuid.UUID:
        ms = int(at.timestamp() * 1000)
        rand = self.rng.getrandbits(74)
        value = (ms << 80) | (0x7 << 76) | ((rand >> 62) << 64) | (0b10 << 62) | (rand & ((1 << 62) - 1))
        return uuid.UUID(int=value)

    def _when(self, index: int, total: int) -> tuple[datetime, datetime]:
        """Rows were created over three years in order; some were updated since."""
        created = self.start + SPAN * (index / total) + timedelta(seconds=self.rng.randrange(3600))
        created = min(created, self.now)
        updated = created
        if self.rng.random() < 0.4:
            updated = min(self.now, created + timedelta(seconds=self.rng.randrange(90 * 86400)))
        return created, updated

    def _country(self) -> int:
        return self.rng.choices(range(len(V.COUNTRIES)), cum_weights=self.country_cum)[0]

    def _phone(self, country: int) -> str:
        prefix = V.COUNTRIES[country][2]
        digits = str(self.rng.randrange(10**8, 10**10))
        style = self.rng.randrange(3)
        if style == 0:
            return f"{prefix} {digits[:3]} {digits[3:]}"
        if style == 1:
            return f"{prefix}-{digits[:2]}-{digits[2:6]}-{digits[6:]}"
        return f"0{digits}"

    def _tags(self) -> list[str]:
        rnd = self.rng.random
        return [tag for tag, share in V.TAGS if rnd() < share]

    def users(self) -> list[tuple[Any, ...]]:
        rows = []
        for i in range(USERS):
            created, updated = self._when(i, USERS * 50)
            user_id = self._uuid7(created)
            self.user_ids.append(user_id)
            first, first_ascii = self.rng.choice(self.first)
            last, last_ascii = self.rng.choice(self.last)
            role = "admin" if i == 0 else ("manager" if i < 5 else "member")
            rows.append((self.tenant_id, user_id, f"{first_ascii}.{last_ascii}{i}@tenant.example",
                         f"{first} {last}", role, created, updated))
        return rows

    def company_records(self) -> Iterator[tuple[Any, ...]]:
        rng = self.rng
        for i in range(self.companies):
            created, updated = self._when(i, self.companies)
            company_id = self._uuid7(created)
            w1, w2 = rng.choice(V.COMPANY_WORDS), rng.choice(V.COMPANY_WORDS)
            suffix = rng.choice(V.COMPANY_SUFFIXES)
            name = f"{w1} {w2} {suffix}" if w1 != w2 else f"{w1} {suffix}"
            domain = f"{_ascii(w1)}{_ascii(w2)}{i}.example"
            country = self._country()
            code, _, _, cities = V.COUNTRIES[country]
            city, region, _ = rng.choice(cities)
            revenue = Decimal(rng.randrange(100, 500_000)) * 1000 if rng.random() < 0.5 else None
            self.company_rows.append((company_id, domain, country))
            yield (self.tenant_id, company_id, name, domain, rng.choice(V.INDUSTRIES), rng.randrange(1, 20000),
                   revenue, "EUR" if revenue is not None else None, rng.choice(V.RELATIONSHIPS),
                   self._phone(country), f"https://www.{domain}", rng.choice(self.user_ids),
                   self._tags()[:2], city, region, code, created, updated)

    def contact_records(self, start: int, stop: int) -> Iterator[tuple[Any, ...]]:
        rnd = self.rng.random  # rnd() and indexing instead of choice()/randrange(): 3x faster, same spread
        countries, first_names, last_names = V.COUNTRIES, self.first, self.last
        companies, users, free_mail = self.company_rows, self.user_ids, V.FREE_MAIL
        titles, streets, tag_sets = V.JOB_TITLES, V.STREETS, self.tag_sets
        stage_table, source_table, country_table = self.stage_table, self.source_table, self.country_table
        tenant_id, span, start_at, now = self.tenant_id, SPAN.total_seconds(), self.start, self.now
        total = self.contacts
        for i in range(start, stop):
            created = start_at + timedelta(seconds=span * i / total + 3600 * rnd())
            if created > now:
                created = now
            updated = created
            if rnd() < 0.4:
                updated = min(now, created + timedelta(seconds=90 * 86400 * rnd()))
            contact_id = self._uuid7(created)
            first, first_ascii = first_names[int(rnd() * len(first_names))]
            last, last_ascii = last_names[int(rnd() * len(last_names))]
            company_id = None
            if rnd() < 0.7:
                company_id, domain, country = companies[int(rnd() * len(companies))]
                if rnd() < 0.3:
                    country = country_table[int(rnd() * len(country_table))]
            else:
                domain = free_mail[int(rnd() * len(free_mail))]
                country = country_table[int(rnd() * len(country_table))]
            style = rnd()
            if style < 0.25:
                local = f"{first_ascii}.{last_ascii}.{i}"
            elif style < 0.5:
                local = f"{first_ascii[:1]}{last_ascii}{i}"
            elif style < 0.75:
                local = f"{first_ascii}_{last_ascii}{i}"
            else:
                local = f"{last_ascii}.{first_ascii}{i}"
            code, _, prefix, cities = countries[country]
            city_index = int(rnd() * len(cities))
            city, region, _ = cities[city_index]
            has_address = rnd() < 0.85
            if rnd() < self.sample_rate:
                self.sample_ids.append(contact_id)
            postal = self.postal[code][city_index]
            yield (
                tenant_id, contact_id, first if rnd() < 0.98 else None, last,
                f"{local}@{domain}" if rnd() < 0.95 else None,
                self._phone_fast(prefix, rnd) if rnd() < 0.7 else None,
                self._phone_fast(prefix, rnd) if rnd() < 0.4 else None,
                f"wx_{first_ascii}{i}" if code == "CN" and rnd() < 0.5 else None,
                titles[int(rnd() * len(titles))], company_id,
                users[int(rnd() * len(users))] if rnd() < 0.9 else None,
                source_table[int(rnd() * len(source_table))], stage_table[int(rnd() * len(stage_table))],
                tag_sets[int(rnd() * len(tag_sets))],
                f"{streets[int(rnd() * len(streets))]} {1 + int(rnd() * 199)}" if has_address else None,
                city if has_address or rnd() < 0.5 else None, region if has_address else None,
                postal[int(rnd() * len(postal))] if has_address else None,
                code if has_address or rnd() < 0.7 else None, created, updated,
            )

    @staticmethod
    def _phone_fast(prefix: str, rnd: Any) -> str:
        digits = str(100_000_000 + int(rnd() * 9_900_000_000))
        style = rnd()
        if style < 0.34:
            return f"{prefix} {digits[:3]} {digits[3:]}"
        if style < 0.67:
            return f"{prefix}-{digits[:2]}-{digits[2:6]}-{digits[6:]}"
        return f"0{digits}"

    def search_terms(self, count: int = 400) -> list[str]:
        """`q` values as people type them: name prefixes, whole names, first + last, and typos."""
        rng = self.rng
        terms = []
        for _ in range(count):
            first = rng.choice(V.FIRST_NAMES).lower()
            last = rng.choice(V.LAST_NAMES).lower()
            kind = rng.random()
            if kind < 0.35:
                terms.append(last[: rng.randrange(4, 7)] if len(last) > 4 else last)
            elif kind < 0.55:
                terms.append(last)
            elif kind < 0.70:
                terms.append(f"{first} {last}")
            else:  # a typo: two neighbouring letters swapped, or one dropped
                word = last if len(last) >= 5 else first
                if len(word) < 4:
                    terms.append(word)
                    continue
                j = rng.randrange(1, len(word) - 2)
                if rng.random() < 0.6:
                    word = word[:j] + word[j + 1] + word[j] + word[j + 2:]
                else:
                    word = word[:j] + word[j + 1:]
                terms.append(word)
        return terms


async def _create_tenant(db: Database, name: str) -> tuple[uuid.UUID, str]:
    """The platform's create_tenant, through a UnitOfWork on the owner connection."""
    from crm_api.config import Settings
    from crm_api.kit.db import make_engine, make_sessionmaker
    from crm_api.kit.uow import UnitOfWork
    from crm_api.tenants.service import create_tenant

    engine = make_engine(db.sqlalchemy_url, Settings(database_url=db.sqlalchemy_url))
    try:
        async with UnitOfWork(make_sessionmaker(engine)) as uow:
            tenant, key = await create_tenant(uow, name)
        return tenant.id, key
    finally:
        await engine.dispose()


async def _chunks(gen: Generator, total: int) -> AsyncIterator[tuple[Any, ...]]:
    for start in range(0, total, CHUNK):
        for record in gen.contact_records(start, min(total, start + CHUNK)):
            yield record
        await asyncio.sleep(0)  # let the connection drain what is buffered


async def generate(db: Database, contacts: int, *, seed: int = 42, quiet: bool = False) -> Dataset:
    """Create a tenant with `contacts` contacts (and contacts/10 companies) in `db`; ANALYZE; report rows/s."""
    say = (lambda *a: None) if quiet else print
    started = time.perf_counter()
    tenant_id, api_key = await _create_tenant(db, f"Bench {contacts:,} contacts")
    gen = Generator(tenant_id, contacts, seed)
    conn = await db.connect()
    try:
        async with conn.transaction():
            # Superuser (or BYPASSRLS) owner: row-level security does not apply to COPY.
            await conn.execute("SET LOCAL synchronous_commit = off")
            await conn.copy_records_to_table("users", records=gen.users(), columns=USER_COLUMNS)
            await conn.execute("ALTER TABLE companies DISABLE TRIGGER companies_search_terms_write")
            await conn.copy_records_to_table("companies", records=list(gen.company_records()),
                                             columns=COMPANY_COLUMNS)
            await conn.execute("ALTER TABLE companies ENABLE TRIGGER companies_search_terms_write")
            t0 = time.perf_counter()
            # Bulk load as PostgreSQL's docs advise: drop the foreign keys and secondary indexes, COPY,
            # then build and check them again (the table is new and empty, so nothing else uses them).
            foreign_keys = await conn.fetch(
                "SELECT conname, pg_get_constraintdef(oid) AS definition FROM pg_constraint "
                "WHERE conrelid = 'contacts'::regclass AND contype = 'f'")
            for fk in foreign_keys:
                await conn.execute(f'ALTER TABLE contacts DROP CONSTRAINT "{fk["conname"]}"')
            indexes = await conn.fetch(
                "SELECT i.indexname, i.indexdef FROM pg_indexes i JOIN pg_class c ON c.relname = i.indexname "
                "JOIN pg_index x ON x.indexrelid = c.oid "
                "WHERE i.tablename = 'contacts' AND i.schemaname = current_schema() AND NOT x.indisprimary")
            for index in indexes:
                await conn.execute(f'DROP INDEX "{index["indexname"]}"')
            # The search-term index is filled in one statement after the COPY, not row by row.
            await conn.execute("ALTER TABLE contacts DISABLE TRIGGER contacts_search_terms_write")
            await conn.copy_records_to_table("contacts", records=_chunks(gen, contacts), columns=CONTACT_COLUMNS)
            await conn.execute("ALTER TABLE contacts ENABLE TRIGGER contacts_search_terms_write")
            copy_seconds = time.perf_counter() - t0
            say(f"  contacts COPY: {copy_seconds:.1f}s")
            await conn.execute("ALTER TABLE search_terms DROP CONSTRAINT search_terms_pkey")
            await conn.execute("""INSERT INTO search_terms (tenant_id, object_type, term, record_id)
                                  SELECT tenant_id, 'contact', unnest(search_terms), id FROM contacts
                                  WHERE tenant_id = $1
                                  UNION ALL
                                  SELECT tenant_id, 'company', unnest(search_terms), id FROM companies
                                  WHERE tenant_id = $1""", tenant_id)
            await conn.execute("SET LOCAL maintenance_work_mem = '1GB'")
            await conn.execute("SET LOCAL max_parallel_maintenance_workers = 2")
            for index in indexes:
                await conn.execute(index["indexdef"])
            for fk in foreign_keys:
                await conn.execute(f'ALTER TABLE contacts ADD CONSTRAINT "{fk["conname"]}" {fk["definition"]}')
            await conn.execute("ALTER TABLE search_terms ADD PRIMARY KEY (tenant_id, object_type, term, record_id)")
            copy_seconds = time.perf_counter() - t0
            say(f"  + {len(indexes)} indexes and {len(foreign_keys)} foreign keys again: {copy_seconds:.1f}s")
        t1 = time.perf_counter()
        for table in ("users", "companies", "contacts", "search_terms"):
            await conn.execute(f"VACUUM (ANALYZE) {table}")
        say(f"  vacuum + analyze: {time.perf_counter() - t1:.1f}s")
    finally:
        await conn.close()
    seconds = time.perf_counter() - started
    rows = contacts + gen.companies + USERS
    say(f"  contacts: {contacts:,} rows in {copy_seconds:.1f}s with their indexes "
        f"({contacts / copy_seconds:,.0f} rows/s)")
    say(f"  total: {rows:,} rows in {seconds:.1f}s ({rows / seconds:,.0f} rows/s, tenant creation, COPY and ANALYZE)")
    sample = gen.sample_ids or []
    gen.rng.shuffle(sample)
    return Dataset(database_url=db.sqlalchemy_url, tenant_id=str(tenant_id), api_key=api_key, contacts=contacts,
                   companies=gen.companies, contact_ids=[str(i) for i in sample[:20_000]],
                   search_terms=gen.search_terms(), seconds=round(seconds, 2),
                   rows_per_second=round(rows / seconds))


async def prepare_database(server: Database) -> Database:
    """A fresh `crm_bench` database on the server, migrated to head (as the owner)."""
    from crm_api.config import Settings
    from crm_api.migrate import upgrade_async

    db = await recreate_database(server, BENCH_DB)
    await upgrade_async(db.sqlalchemy_url, Settings(database_url=db.sqlalchemy_url))
    return db


async def _main(args: argparse.Namespace) -> None:
    with Servers() as servers:
        assert servers.server is not None
        db = await prepare_database(servers.server)
        print(f"generating {args.contacts:,} contacts in {db.url.database} ...")
        dataset = await generate(db, args.contacts, seed=args.seed)
        dataset.save(args.out)
        print(f"dataset written to {args.out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", type=Path, default=OUT / "dataset.json")
    asyncio.run(_main(parser.parse_args()))


if __name__ == "__main__":
    main()
