"""`?tag=` on contacts: a join to the tag's record_values rows, read newest first from their own index.

The answers must be those of any list (every page, in order, ties on created_at broken by id, each
contact once, only live ones, only the tenant's), and the plan must be bounded: no sort of all of a
tag's contacts, and a later page starts at the cursor inside the index.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select, text

from crm_api.kit.pagination import after_cursor, encode_cursor
from crm_api.kit.record_values import array_value_filter
from crm_api.models.contact import Contact
from tests.kit.test_index_use_under_rls import plan_as_app
from tests.kit.test_record_values import assert_index_exact


async def create(tenant, **body):
    response = await tenant.post("/v1/contacts", json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def all_pages(tenant, url="/v1/contacts", **params):
    """Every page of a list with limit 2, in order; each page's cursor leads to the next."""
    ids, cursor = [], None
    while True:
        response = await tenant.get(url, params={**params, "limit": 2, **({"cursor": cursor} if cursor else {})})
        assert response.status_code == 200, response.text
        body = response.json()
        ids += [c["id"] for c in body["data"]]
        cursor = body["next_cursor"]
        if cursor is None:
            return ids


def newest_first(contacts):
    return [c["id"] for c in sorted(contacts, key=lambda c: (datetime.fromisoformat(c["created_at"]),
                                                            uuid.UUID(c["id"])), reverse=True)]


async def test_tag_pages_in_order_across_ties_trash_and_tenants(tenant, other_tenant, owner_engine):
    company = (await tenant.post("/v1/companies", json={"name": "Acme"})).json()
    tagged = [await create(tenant, first_name=name, last_name=f"Z{9 - i}", tags=["vip", f"t{i}"],
                           company_id=company["id"] if i % 2 else None)
              for i, name in enumerate(["Ada", "Bea", "Cyd", "Dot", "Eve", "Fay", "Gil"])]
    await create(tenant, first_name="Plain", tags=["other"])
    theirs = await create(other_tenant, first_name="Theirs", tags=["vip"])
    trashed = await create(tenant, first_name="Gone", tags=["vip"])
    assert (await tenant.delete(f"/v1/contacts/{trashed['id']}")).status_code == 204
    # Three contacts created in the same instant: the id breaks the tie, in the index as in the list.
    async with owner_engine.begin() as conn:
        await conn.execute(text("UPDATE contacts SET created_at = '2026-01-01T00:00:00Z' WHERE tenant_id = :t "
                                "AND id IN (:a, :b, :c)"),
                           {"t": tenant.id, "a": tagged[1]["id"], "b": tagged[4]["id"], "c": tagged[5]["id"]})
    await assert_index_exact(owner_engine, tenant)  # the rows' created_at followed the owner's UPDATE
    tagged = [(await tenant.get(f"/v1/contacts/{c['id']}")).json() for c in tagged]

    assert await all_pages(tenant, tag="vip") == newest_first(tagged)
    assert await all_pages(tenant, tag="vip", sort="-created_at") == newest_first(tagged)
    assert await all_pages(tenant, tag="vip", sort="created_at") == newest_first(tagged)[::-1]
    assert await all_pages(tenant, tag="vip", sort="last_name") == [c["id"] for c in tagged[::-1]]
    assert await all_pages(tenant, tag="t3") == [tagged[3]["id"]]
    assert await all_pages(tenant, tag="nobody") == []
    assert await all_pages(tenant, tag="vip", q="eve") == [tagged[4]["id"]]
    assert await all_pages(tenant, tag="vip", q="eve", sort="-created_at") == [tagged[4]["id"]]
    assert await all_pages(tenant, tag="t4", q="plain") == []
    odd = [c for c in tagged if c["company_id"]]
    assert await all_pages(tenant, f"/v1/companies/{company['id']}/contacts", tag="vip") == newest_first(odd)
    assert await all_pages(other_tenant, tag="vip") == [theirs["id"]]


async def test_a_cursor_of_another_shape_is_422_not_a_database_error(tenant):
    await create(tenant, first_name="A", tags=["vip"])
    for cursor in (encode_cursor("-created_at", ["not a time", "not an id"]), encode_cursor("last_name", ["a", "b"]),
                   "garbage"):
        response = await tenant.get("/v1/contacts", params={"tag": "vip", "cursor": cursor})
        assert response.status_code == 422, (cursor, response.text)


async def test_a_tag_page_is_read_from_the_newest_rows_of_the_tag(settings, database_url, tenant, owner_engine):
    """As the app role under RLS: the page walks the tag's rows in the list's order (no sort of every tagged
    contact, whatever the tag's size), and a later page starts at the cursor inside that index."""
    async with owner_engine.begin() as conn:
        await conn.execute(text("""
            INSERT INTO contacts (tenant_id, id, first_name, created_at, tags)
            SELECT :t, gen_random_uuid(), 'c' || i, now() - i * interval '1 minute',
                   CASE WHEN i % 300 = 0 THEN ARRAY['rare', 'common'] WHEN i % 2 = 0 THEN ARRAY['common']
                        ELSE ARRAY[]::text[] END
            FROM generate_series(1, 30000) i"""), {"t": tenant.id})
        for table in ("contacts", "record_values"):
            await conn.execute(text(f"ANALYZE {table}"))
    position = [datetime.fromisoformat("2026-01-01T00:00:00+00:00"), uuid.UUID(int=2**127)]
    for tag in ("rare", "common"):
        for cursor in (None, encode_cursor("-created_at", position)):
            # The statement pagination runs (kit/pagination.py), with the filter's conditions and order.
            conditions, sort = array_value_filter(Contact, "contact", "tags", tag, "-created_at", cursor)
            columns = [*sort.columns, (Contact.id, True)]
            stmt = (select(Contact.id).where(Contact.tenant_id == tenant.id, Contact.deleted_at.is_(None), *conditions)
                    .order_by(*[c.desc() for c, _ in columns]).limit(51))
            if cursor:
                stmt = stmt.where(after_cursor(columns, position))
            plan = await plan_as_app(settings, database_url, tenant, stmt)
            assert "Sort" not in plan, plan
            walk = [line for line in plan.splitlines() if "Index Only Scan Backward" in line]
            assert walk and "record_values_contact_tenant_id_object_type_key_value_creat" in walk[0], plan
            if cursor:
                bound = [line for line in plan.splitlines() if "Index Cond" in line and "created_at" in line]
                assert bound and "record_id" in bound[0], plan
