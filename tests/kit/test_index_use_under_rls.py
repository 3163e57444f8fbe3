"""The lookups that must stay on an index do so as the app role, under row-level security.

PostgreSQL runs a condition inside an index under RLS only when it is leakproof; `lower(col) = v`,
LIKE, trigram and containment operators are not, and silently become a filter over every row of
the tenant. Each statement here is built by the code the API runs and planned as `crm_app` with
the tenant set and sequential scans disabled: a condition that cannot be an index condition shows
up as a Filter line, and the test fails.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import create_async_engine

from crm_api.companies.service import KIND as COMPANIES
from crm_api.contacts.service import KIND as CONTACTS
from crm_api.kit.db import app_database_url
from crm_api.kit.search import TermIndex, WordTerms
from crm_api.leads.service import KIND as LEADS
from crm_api.models.company import Company
from crm_api.models.contact import Contact
from crm_api.models.lead import Lead


def _sql(stmt) -> str:
    return str(stmt.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))


def _live(model, tenant_id):
    return select(model.id).where(model.tenant_id == tenant_id, model.deleted_at.is_(None))


CASES = {
    "contact city": lambda t: (_live(Contact, t).where(CONTACTS.filters["city"]("Berlin")), "address_city_key"),
    "contact email": lambda t: (_live(Contact, t).where(CONTACTS.filters["email"]("A@x.example")), "email_key"),
    "company domain": lambda t: (_live(Company, t).where(COMPANIES.filters["domain"]("Acme.example")), "domain_key"),
    "company industry": lambda t: (_live(Company, t).where(COMPANIES.filters["industry"]("Rockets")),
                                   "industry_key"),
    "company city": lambda t: (_live(Company, t).where(COMPANIES.filters["city"]("Paris")), "address_city_key"),
    "lead email": lambda t: (_live(Lead, t).where(Lead.email.is_not(None), LEADS.filters["email"]("B@x.example")),
                             "email_key"),
    "search word filter": lambda t: (
        _live(Contact, t).where(*TermIndex("contact").matches(Contact, [WordTerms("w7", {"w7": 0, "w70": 1})])),
        "term"),
}


@pytest.fixture
async def rows(tenant, owner_engine):
    """Enough rows with spread values that the planner prefers the selective index (on an empty
    table every plan costs the same and the choice would prove nothing)."""
    async with owner_engine.begin() as conn:
        for table, columns in [
            ("contacts", "first_name, email, address_city"),
            ("companies", "name, domain, industry, address_city"),
            ("leads", "first_name, email"),
        ]:
            values = ", ".join("'w' || i || '@x.example'" if c == "email" else f"'w' || (i % 500) || '{n}'"
                               for n, c in enumerate(columns.split(", ")))
            await conn.execute(text(f"""INSERT INTO {table} (tenant_id, id, {columns})
                                        SELECT :t, gen_random_uuid(), {values} FROM generate_series(1, 3000) i"""),
                               {"t": tenant.id})
        for table in ("contacts", "companies", "leads", "search_terms"):
            await conn.execute(text(f"ANALYZE {table}"))


async def plan_as_app(settings, database_url, tenant, stmt, *, analyze: bool = False) -> str:
    """EXPLAIN of the statement as the app role, the tenant set, sequential scans off; or with `analyze`,
    EXPLAIN ANALYZE of the plan the planner chooses itself (sequential scans allowed)."""
    engine = create_async_engine(app_database_url(settings, database_url))
    try:
        async with engine.begin() as conn:
            await conn.execute(text("SELECT set_config('app.tenant_id', :t, true)"), {"t": str(tenant.id)})
            if not analyze:
                await conn.execute(text("SET LOCAL enable_seqscan = off"))
            explain = "EXPLAIN (ANALYZE) " if analyze else "EXPLAIN "
            return "\n".join(r[0] for r in await conn.execute(text(explain + _sql(stmt))))
    finally:
        await engine.dispose()


@pytest.mark.parametrize("case", sorted(CASES))
async def test_lookup_is_an_index_condition_for_the_app_role(case, settings, database_url, tenant, rows):
    stmt, key = CASES[case](tenant.id)
    plan = await plan_as_app(settings, database_url, tenant, stmt)
    index_conditions = [line for line in plan.splitlines() if "Index Cond" in line]
    filters = [line for line in plan.splitlines() if "Filter:" in line and key in line]
    assert any(key in line for line in index_conditions), plan
    assert not filters, plan


async def test_a_lower_expression_would_be_caught(settings, database_url, tenant, rows):
    """The check itself: the old form of the city filter is planned as a Filter, not an index condition."""
    stmt = _live(Contact, tenant.id).where(func.lower(Contact.address_city) == "berlin")
    plan = await plan_as_app(settings, database_url, tenant, stmt)
    assert "Filter: (lower((address_city)::text) = 'berlin'::text)" in plan, plan
