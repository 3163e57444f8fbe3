"""Cases' `q`: the subject's words through the search-term index, OR-ed with an exact case number."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import or_, select, text
from sqlalchemy.ext.asyncio import create_async_engine

from crm_api.kit.db import app_database_url
from crm_api.kit.search import WordTerms
from crm_api.kit.term_match import every_word_condition
from crm_api.models.case import Case
from tests.kit.test_index_use_under_rls import plan_as_app


async def create(tenant, subject):
    response = await tenant.post("/v1/cases", json={"subject": subject})
    assert response.status_code == 201, response.text
    return response.json()


async def found(tenant, q, **params):
    response = await tenant.get("/v1/cases", params={"q": q, **params})
    assert response.status_code == 200, response.text
    return [c["id"] for c in response.json()["data"]]


async def test_words_of_the_subject_or_the_number(tenant, other_tenant):
    invoice = await create(tenant, "Invoice wrong after the Upgrade")  # CASE-1
    login = await create(tenant, "Login broken")  # CASE-2
    printer = await create(tenant, "Printer error 1")  # CASE-3
    theirs = await create(other_tenant, "Invoice wrong too")  # their CASE-1
    assert invoice["number"] == "CASE-1" and theirs["number"] == "CASE-1"

    assert await found(tenant, "invoice") == [invoice["id"]]
    assert await found(tenant, "INV wrong") == [invoice["id"]]  # a beginning, any case, any order
    assert await found(tenant, "wrong invioce") == [invoice["id"]]  # one typo
    assert await found(tenant, "upgrade login") == []  # every word must match
    assert await found(tenant, "voice") == []  # words match from their beginning
    assert await found(tenant, "CASE-2") == [login["id"]]
    assert await found(tenant, "case-3") == [printer["id"]]
    assert set(await found(tenant, "1")) == {invoice["id"], printer["id"]}  # number 1, or the word "1"
    assert await found(tenant, "CASE-1", sort="-created_at") == [invoice["id"]]  # only this tenant's CASE-1
    assert await found(tenant, "CASE-99") == []
    assert await found(tenant, "!!!") == []
    assert await found(other_tenant, "printer") == []
    assert await found(other_tenant, "invoice") == [theirs["id"]]

    # The index follows the subject, and trashed cases are not listed.
    assert (await tenant.patch(f"/v1/cases/{login['id']}", json={"subject": "Password reset"})).status_code == 200
    assert await found(tenant, "login") == []
    assert await found(tenant, "password") == [login["id"]]
    assert (await tenant.delete(f"/v1/cases/{printer['id']}")).status_code == 204
    assert await found(tenant, "printer") == []
    assert await found(tenant, "1") == [invoice["id"]]
    assert (await tenant.post(f"/v1/cases/{printer['id']}/restore")).status_code == 200
    assert await found(tenant, "printer") == [printer["id"]]


@pytest.mark.parametrize("word", ["refund", "subject"])
async def test_the_match_reads_only_a_page_of_rows_under_row_level_security(settings, database_url, tenant,
                                                                             owner_engine, word):
    """As the app role among 5,000 cases, a word on 5 of them and a word on all of them: the rare one is
    fetched by id, the common one found by walking the list with one probe per case, both a few rows
    (ILIKE was a filter over every case of the tenant)."""
    async with owner_engine.begin() as conn:
        await conn.execute(text("""
            INSERT INTO cases (tenant_id, id, number, subject, channel, type, priority, status)
            SELECT :t, gen_random_uuid(), 1000 + i, 'Subject ' || (i % 500) || CASE WHEN i % 1000 = 0
                   THEN ' refund' ELSE '' END, 'email', 'question', 'normal', 'new'
            FROM generate_series(1, 5000) i"""), {"t": tenant.id})
        for table in ("cases", "search_terms"):
            await conn.execute(text(f"ANALYZE {table}"))
    engine = create_async_engine(app_database_url(settings, database_url))
    try:
        async with engine.begin() as conn:
            await conn.execute(text("SELECT set_config('app.tenant_id', :t, true)"), {"t": str(tenant.id)})
            match = await every_word_condition(conn, "case", Case, tenant.id, [WordTerms(word, {word: 0})])
    finally:
        await engine.dispose()
    stmt = (select(Case.id).where(Case.tenant_id == tenant.id, Case.deleted_at.is_(None),
                                  or_(match, Case.number == 1042))
            .order_by(Case.created_at.desc(), Case.id.desc()).limit(51))
    plan = await plan_as_app(settings, database_url, tenant, stmt, analyze=True)
    rows = [int(float(n)) for n in re.findall(r"actual time=[0-9.]+\.\.[0-9.]+ rows=([0-9.]+)", plan)]
    removed = [int(n) for n in re.findall(r"Rows Removed by Filter: ([0-9]+)", plan)]
    assert rows and max(rows) <= 60 and sum(removed) < 20, plan
    assert "Seq Scan" not in plan, plan
