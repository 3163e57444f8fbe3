"""record_values: custom-field, tag and contact_id filters of every record type go through one table of typed
keys, kept by triggers; these tests check the filters' answers and that the table always equals what the
records hold (a fresh computation from the records themselves)."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from decimal import Decimal

import pytest
from sqlalchemy import select, text

from crm_api.deals.service import KIND as DEALS
from crm_api.kit.record_values import array_value_filter, filters_on_values, value_key
from crm_api.models.contact import Contact
from crm_api.models.deal import Deal
from tests.pipelines.helpers import created, make_deal

# Every record table and the array columns the triggers index (as in migration 20261125_0302).
TABLES = [("contacts", "contact", ["tags"]), ("companies", "company", ["tags"]), ("deals", "deal", ["contact_ids"]),
          ("leads", "lead", []), ("cases", "case", ["tags"]), ("activities", "activity", ["contact_ids"]),
          ("campaigns", "campaign", [])]


async def assert_index_exact(owner_engine, tenant):
    """The tenant's record_values rows are exactly those its live records give (with their created_at), for every
    record type."""
    fresh = " UNION ALL ".join(
        f"""SELECT '{kind}', v.key, v.value, t.id::text, t.created_at FROM {table} t,
                   record_value_rows(to_jsonb(t), ARRAY[{', '.join(f"'{a}'" for a in arrays)}]::text[]) v
            WHERE t.tenant_id = :tenant AND t.deleted_at IS NULL"""
        for table, kind, arrays in TABLES)
    async with owner_engine.connect() as conn:
        stored = (await conn.execute(text("SELECT object_type, key, value, record_id::text, created_at "
                                          "FROM record_values WHERE tenant_id = :tenant"), {"tenant": tenant.id})).all()
        expected = (await conn.execute(text(fresh), {"tenant": tenant.id})).all()
    assert sorted(stored) == sorted(expected)
    return stored


async def ids(tenant, url, **params):
    response = await tenant.get(url, params=params)
    assert response.status_code == 200, response.text
    return {r["id"] for r in response.json()["data"]}


async def define(tenant, object_type, key, type_, **extra):
    return await created(tenant, "/v1/custom-fields", object_type=object_type, key=key, label=key.title(),
                         type=type_, **extra)


@pytest.mark.parametrize(("value", "expected"), [
    ("gold", "s:gold"), (True, "b:true"), (False, "b:false"), (42, "n:42"), (42.0, "n:42"), (-3.25, "n:-3.25"),
    (0, "n:0"), (-0.0, "n:0"), (1e20, "n:100000000000000000000"), (10**40, "n:1" + "0" * 40),
    (Decimal("1.500"), "n:1.5"), (1.5e-7, "n:0.00000015")])
def test_value_keys(value, expected):
    assert value_key(value) == expected


async def test_python_and_database_keys_agree(owner_engine):
    long = "é" * 300
    async with owner_engine.connect() as conn:
        for value in ("gold", 42, -3.25, 0, 1e20, 10**40, 5.5, True, long, "x" * 200, "x" * 201):
            rows = (await conn.execute(text("SELECT record_value_keys(CAST(:v AS jsonb))"),
                                       {"v": json.dumps(value)})).scalars().all()
            assert rows == [value_key(value)], value
    assert len(value_key(long)) == 160 + 1 + 32


async def test_custom_field_filters_through_every_write(tenant, owner_engine):
    await define(tenant, "deal", "region", "select", options=["emea", "apac"])
    await define(tenant, "deal", "score", "number")
    await define(tenant, "deal", "langs", "multiselect", options=["en", "de", "fr"])
    await define(tenant, "deal", "note", "text")
    long_a, long_b = "n" * 300 + "a", "n" * 300 + "b"  # the same first 160 characters
    a = await make_deal(tenant, title="a", custom_fields={"region": "emea", "score": 5, "langs": ["en", "de"],
                                                          "note": long_a})
    b = await make_deal(tenant, title="b", custom_fields={"region": "apac", "score": 5.5, "note": long_b})
    c = await make_deal(tenant, title="c")
    await assert_index_exact(owner_engine, tenant)

    async def deals(**params):
        return await ids(tenant, "/v1/deals", **params)

    assert await deals(**{"custom_fields.region": "emea"}) == {a["id"]}
    assert await deals(**{"custom_fields.score": "5.0"}) == {a["id"]}
    assert await deals(**{"custom_fields.score": "5.50"}) == {b["id"]}
    assert await deals(**{"custom_fields.langs": "de"}) == {a["id"]}
    assert await deals(**{"custom_fields.langs": "fr"}) == set()
    assert await deals(**{"custom_fields.note": long_b}) == {b["id"]}
    assert await deals(**{"custom_fields.note": "n" * 300}) == set()
    assert await deals(**{"custom_fields.region": "emea", "custom_fields.score": "5.5"}) == set()

    # Changes, clearing one value, trash and restore, and a hard delete (the purge).
    response = await tenant.patch(f"/v1/deals/{a['id']}", json={"custom_fields": {"region": "apac", "langs": None}})
    assert response.status_code == 200, response.text
    assert (await tenant.patch(f"/v1/deals/{c['id']}", json={"custom_fields": {"region": "emea"}})).status_code == 200
    assert await deals(**{"custom_fields.region": "emea"}) == {c["id"]}
    assert await deals(**{"custom_fields.region": "apac"}) == {a["id"], b["id"]}
    assert await deals(**{"custom_fields.langs": "de"}) == set()
    await assert_index_exact(owner_engine, tenant)
    assert (await tenant.delete(f"/v1/deals/{b['id']}")).status_code == 204
    stored = await assert_index_exact(owner_engine, tenant)
    assert b["id"] not in {r[3] for r in stored}
    assert await deals(**{"custom_fields.region": "apac"}) == {a["id"]}
    assert (await tenant.post(f"/v1/deals/{b['id']}/restore")).status_code == 200
    assert await deals(**{"custom_fields.region": "apac"}) == {a["id"], b["id"]}
    await assert_index_exact(owner_engine, tenant)
    async with owner_engine.begin() as conn:
        await conn.execute(text("DELETE FROM deals WHERE tenant_id = :t AND id = :id"), {"t": tenant.id, "id": a["id"]})
    assert await deals(**{"custom_fields.region": "apac"}) == {b["id"]}
    await assert_index_exact(owner_engine, tenant)


async def test_deal_contact_filter(tenant, other_tenant, owner_engine):
    ada = await created(tenant, "/v1/contacts", first_name="Ada")
    bob = await created(tenant, "/v1/contacts", first_name="Bob")
    one = await make_deal(tenant, title="one", contact_ids=[ada["id"]])
    two = await make_deal(tenant, title="two", contact_ids=[ada["id"], bob["id"]])
    await make_deal(tenant, title="none")
    assert await ids(tenant, "/v1/deals", contact_id=ada["id"]) == {one["id"], two["id"]}
    assert await ids(tenant, "/v1/deals", contact_id=bob["id"]) == {two["id"]}
    assert await ids(other_tenant, "/v1/deals", contact_id=ada["id"]) == set()
    assert (await tenant.patch(f"/v1/deals/{two['id']}", json={"contact_ids": [bob["id"]]})).status_code == 200
    assert await ids(tenant, "/v1/deals", contact_id=ada["id"]) == {one["id"]}
    await assert_index_exact(owner_engine, tenant)

    # A contact purged from the trash leaves the deals it was on, live and trashed ones.
    assert (await tenant.delete(f"/v1/deals/{one['id']}")).status_code == 204
    assert (await tenant.delete(f"/v1/contacts/{bob['id']}")).status_code == 204
    async with owner_engine.begin() as conn:
        await conn.execute(text("DELETE FROM contacts WHERE tenant_id = :t AND id IN (:a, :b)"),
                           {"t": tenant.id, "a": bob["id"], "b": ada["id"]})
        left = (await conn.execute(text("SELECT count(*) FROM deals WHERE tenant_id = :t AND contact_ids <> '{}'"),
                                   {"t": tenant.id})).scalar_one()
    assert left == 0
    assert await ids(tenant, "/v1/deals", contact_id=bob["id"]) == set()
    await assert_index_exact(owner_engine, tenant)


async def test_activity_contact_filter(tenant, owner_engine):
    ada = await created(tenant, "/v1/contacts", first_name="Ada")
    bob = await created(tenant, "/v1/contacts", first_name="Bob")
    call = await created(tenant, "/v1/activities", type="note", subject="n", body="b", contact_ids=[ada["id"]])
    both = await created(tenant, "/v1/activities", type="note", subject="m", body="b",
                         contact_ids=[ada["id"], bob["id"]])
    assert await ids(tenant, "/v1/activities", contact_id=ada["id"]) == {call["id"], both["id"]}
    assert await ids(tenant, "/v1/activities", contact_id=bob["id"]) == {both["id"]}
    assert (await tenant.patch(f"/v1/activities/{both['id']}", json={"contact_ids": [bob["id"]]})).status_code == 200
    assert (await tenant.delete(f"/v1/activities/{call['id']}")).status_code == 204
    assert await ids(tenant, "/v1/activities", contact_id=ada["id"]) == set()
    assert await ids(tenant, "/v1/activities", contact_id=bob["id"]) == {both["id"]}
    await assert_index_exact(owner_engine, tenant)


@pytest.mark.parametrize(("url", "body"), [
    ("/v1/contacts", {"first_name": "T"}), ("/v1/companies", {"name": "T"}), ("/v1/cases", {"subject": "T"})])
async def test_tag_filters(tenant, owner_engine, url, body):
    first = await created(tenant, url, **body, tags=["vip", "Berlin"])
    second = await created(tenant, url, **{**body, "name": "U"} if "name" in body else body, tags=["berlin"])
    assert await ids(tenant, url, tag="vip") == {first["id"]}
    assert await ids(tenant, url, tag="berlin") == {second["id"]}  # exact, as containment was
    assert await ids(tenant, url, tag="nope") == set()
    assert (await tenant.patch(f"{url}/{first['id']}", json={"tags": ["berlin"]})).status_code == 200
    assert await ids(tenant, url, tag="berlin") == {first["id"], second["id"]}
    assert await ids(tenant, url, tag="vip") == set()
    await assert_index_exact(owner_engine, tenant)


@pytest.mark.parametrize(("object_type", "url", "body"), [
    ("contact", "/v1/contacts", {"first_name": "F"}), ("company", "/v1/companies", {"name": "F"}),
    ("lead", "/v1/leads", {"first_name": "F"}), ("case", "/v1/cases", {"subject": "F"}),
    ("activity", "/v1/activities", {"type": "note", "subject": "F", "body": "b"}),
    ("campaign", "/v1/campaigns", {"name": "F", "channel": "other"})])
async def test_custom_field_filter_on_every_record_type(tenant, owner_engine, object_type, url, body):
    await define(tenant, object_type, "tier", "select", options=["gold", "silver"])
    gold = await created(tenant, url, **body, custom_fields={"tier": "gold"})
    assert await ids(tenant, url, **{"custom_fields.tier": "gold"}) == {gold["id"]}
    assert await ids(tenant, url, **{"custom_fields.tier": "silver"}) == set()
    await assert_index_exact(owner_engine, tenant)


def test_lists_filtering_on_record_values_are_planned_for_their_values():
    assert filters_on_values(select(Deal).where(DEALS.filters["contact_id"]("c")))
    for sort in ("-created_at", "last_name"):  # a join, or a semi-join
        conditions, _ = array_value_filter(Contact, "contact", "tags", "vip", sort, None)
        assert filters_on_values(select(Contact).where(*conditions))
    assert not filters_on_values(select(Deal).where(DEALS.filters["owner_id"]("o")))


@pytest.mark.parametrize(("url", "body"), [
    ("/v1/contacts", {"first_name": "T"}), ("/v1/companies", {"name": "T"}), ("/v1/cases", {"subject": "T"})])
async def test_tag_pages_follow_the_list_order(tenant, other_tenant, url, body):
    """`?tag=` pages (a join to the tag's rows, ordered by their created_at): every page in order, newest or
    oldest first, each record once, trashed and other tenants' records left out, with q and another sort."""
    async def pages(client, **params):
        ids, cursor = [], None
        while True:
            response = await client.get(url, params={**params, "limit": 2, **({"cursor": cursor} if cursor else {})})
            assert response.status_code == 200, response.text
            ids += [r["id"] for r in response.json()["data"]]
            cursor = response.json()["next_cursor"]
            if cursor is None:
                return ids

    tagged = [await created(tenant, url, **body, tags=["vip", f"t{i}"]) for i in range(5)]
    await created(tenant, url, **body, tags=["other"])
    theirs = await created(other_tenant, url, **body, tags=["vip"])
    trashed = await created(tenant, url, **body, tags=["vip"])
    assert (await tenant.delete(f"{url}/{trashed['id']}")).status_code == 204
    position = {r["id"]: (datetime.fromisoformat(r["created_at"]), uuid.UUID(r["id"])) for r in tagged}
    newest = sorted(position, key=position.__getitem__, reverse=True)
    assert await pages(tenant, tag="vip") == newest
    assert await pages(tenant, tag="vip", sort="created_at") == newest[::-1]
    assert await pages(tenant, tag="vip", sort="-updated_at") == newest
    assert await pages(tenant, tag="t2") == [tagged[2]["id"]]
    assert set(await pages(tenant, tag="vip", q="t")) == set(newest)
    assert await pages(other_tenant, tag="vip") == [theirs["id"]]
