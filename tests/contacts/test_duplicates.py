"""Contacts: /v1/contacts/duplicates finds likely existing matches by email, phone and name."""

import re

from sqlalchemy import text

from crm_api.contacts.schemas import DuplicateParams
from crm_api.contacts.service import duplicates_statement
from crm_api.kit.search import WordTerms
from tests.kit.test_index_use_under_rls import plan_as_app


async def create_contact(tenant, **body):
    response = await tenant.post("/v1/contacts", json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def duplicates(tenant, **params):
    response = await tenant.get("/v1/contacts/duplicates", params=params)
    assert response.status_code == 200, response.text
    assert set(response.json()) == {"data"}
    return response.json()["data"]


async def test_by_email_case_insensitively_scores_one(tenant):
    ada = await create_contact(tenant, first_name="Ada", last_name="Lovelace", email="Ada@Example.com")
    await create_contact(tenant, first_name="Other", email="other@example.com")
    found = await duplicates(tenant, email="ada@EXAMPLE.com")
    assert len(found) == 1
    assert found[0]["contact"]["id"] == ada["id"]
    assert found[0]["contact"] == ada
    assert found[0]["score"] == 1.0
    assert found[0]["reasons"] == ["email"]


async def test_by_phone_written_differently(tenant):
    berlin = await create_contact(tenant, first_name="Hans", phone="+49 30 1234567")
    mobile = await create_contact(tenant, first_name="Klaus", mobile="(030) 123-4567")
    await create_contact(tenant, first_name="Other", phone="+49 30 7654321")
    found = await duplicates(tenant, phone="030-1234567")
    assert {m["contact"]["id"] for m in found} == {berlin["id"], mobile["id"]}
    assert all(m["reasons"] == ["phone"] for m in found)
    assert all(0 < m["score"] < 1 for m in found)
    found = await duplicates(tenant, phone="+49301234567")
    assert {m["contact"]["id"] for m in found} == {berlin["id"], mobile["id"]}


async def test_by_similar_name(tenant):
    john = await create_contact(tenant, first_name="John", last_name="Smith")
    await create_contact(tenant, first_name="Maria", last_name="Garcia")
    found = await duplicates(tenant, name="Jon Smith")
    assert [m["contact"]["id"] for m in found] == [john["id"]]
    assert found[0]["reasons"] == ["name"]
    assert 0 < found[0]["score"] < 1
    assert [m["contact"]["id"] for m in await duplicates(tenant, name="JOHN SMITH")] == [john["id"]]
    assert await duplicates(tenant, name="Wei Zhang") == []


async def test_several_reasons_rank_above_one(tenant):
    both = await create_contact(tenant, first_name="John", last_name="Smith", phone="030 1234567")
    phone_only = await create_contact(tenant, first_name="Hans", last_name="Meier", phone="+49 30 1234567")
    found = await duplicates(tenant, name="John Smith", phone="0049 30 1234567")
    assert [m["contact"]["id"] for m in found] == [both["id"], phone_only["id"]]
    assert found[0]["reasons"] == ["phone", "name"]
    assert found[1]["reasons"] == ["phone"]
    assert found[0]["score"] > found[1]["score"]


async def test_email_match_ranks_first(tenant):
    by_name = await create_contact(tenant, first_name="John", last_name="Smith")
    by_email = await create_contact(tenant, first_name="J", last_name="S", email="js@example.com")
    found = await duplicates(tenant, name="John Smith", email="JS@example.com")
    assert [m["contact"]["id"] for m in found] == [by_email["id"], by_name["id"]]
    assert found[0]["score"] == 1.0


async def test_deleted_contacts_are_not_duplicates(tenant):
    ada = await create_contact(tenant, first_name="Ada", email="ada@example.com", phone="030 1234567")
    await tenant.delete(f"/v1/contacts/{ada['id']}")
    assert await duplicates(tenant, email="ada@example.com") == []
    assert await duplicates(tenant, phone="030 1234567") == []
    assert await duplicates(tenant, name="Ada") == []


async def test_nothing_matches_nothing(tenant):
    await create_contact(tenant, first_name="Ada", email="ada@example.com", phone="030 1234567")
    assert await duplicates(tenant, email="nobody@example.com") == []
    assert await duplicates(tenant, phone="12") == []
    assert await duplicates(tenant, phone="+1 555 0100 999") == []


async def test_bad_parameters_are_422(tenant):
    for params in ({}, {"phone": "call me"}, {"limit": "5"}):
        response = await tenant.get("/v1/contacts/duplicates", params=params)
        assert response.status_code == 422, params
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["errors"]


async def test_one_typo_in_any_name_word_even_a_short_one(tenant):
    john = await create_contact(tenant, first_name="John", last_name="Smith")
    await create_contact(tenant, first_name="Johnny", last_name="Walker")
    for name in ("Jon Smith", "John Smiht", "Johm Smith", "john smith", "Smith John"):
        assert [m["contact"]["id"] for m in await duplicates(tenant, name=name)] == [john["id"]], name
    assert await duplicates(tenant, name="Jane Doe") == []


async def test_a_name_found_only_in_other_fields_is_not_a_name_match(tenant):
    await create_contact(tenant, first_name="Maria", last_name="Garcia", email="john.smith@example.com")
    assert await duplicates(tenant, name="John Smith") == []


async def test_the_statement_reads_only_candidates_under_row_level_security(settings, database_url, tenant,
                                                                            owner_engine):
    """As the app role with the tenant set, among 5,000 contacts: every node of the plan handles a few rows
    (email key, phone keys and name words are index lookups; similarity is computed for candidates only)."""
    await create_contact(tenant, first_name="John", last_name="Smith", email="js@example.com", phone="030 1234567")
    async with owner_engine.begin() as conn:
        await conn.execute(text("""
            INSERT INTO contacts (tenant_id, id, first_name, last_name, email, phone)
            SELECT :t, gen_random_uuid(), 'First' || i, 'Last' || (i % 50), 'p' || i || '@example.com',
                   '+1 555 ' || lpad(i::text, 7, '0')
            FROM generate_series(1, 5000) i"""), {"t": tenant.id})
        for table in ("contacts", "search_terms"):
            await conn.execute(text(f"ANALYZE {table}"))
    params = DuplicateParams(name="Jon Smith", email="JS@example.com", phone="+49 30 1234567")
    words = [WordTerms("jon", {"john": 0}), WordTerms("smith", {"smith": 0})]
    stmt = duplicates_statement(tenant.id, params, words)
    plan = await plan_as_app(settings, database_url, tenant, stmt, analyze=True)
    rows = [int(float(n)) for n in re.findall(r"actual time=[0-9.]+\.\.[0-9.]+ rows=([0-9.]+)", plan)]
    removed = [int(n) for n in re.findall(r"Rows Removed by Filter: ([0-9]+)", plan)]
    assert rows and max(rows) < 20 and sum(removed) < 20, plan
    assert "Seq Scan" not in plan, plan
