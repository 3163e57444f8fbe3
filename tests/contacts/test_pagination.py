"""Contacts: sorts and cursor pagination return every record exactly once in a stable order."""

import uuid

import pytest


async def walk(tenant, url="/v1/contacts", **params):
    """Every page of a list with limit=2; the ids in the order they came."""
    seen, cursor, pages = [], None, 0
    while True:
        query = {**params, "limit": 2, **({"cursor": cursor} if cursor else {})}
        response = await tenant.get(url, params=query)
        assert response.status_code == 200, response.text
        body = response.json()
        assert len(body["data"]) <= 2
        seen += [c["id"] for c in body["data"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            return seen
        assert pages < 50


@pytest.fixture
async def contacts(tenant):
    # Repeated and missing last names: ties must be broken (by id) for pages not to skip or repeat.
    names = ["Smith", "adams", None, "Smith", "Baker", "smith", "Adams", None, "Zed"]
    created = []
    for i, last in enumerate(names):
        response = await tenant.post("/v1/contacts", json={"first_name": f"P{i}", "last_name": last})
        assert response.status_code == 201
        created.append(response.json())
    return created


async def test_default_order_is_newest_first(tenant, contacts):
    assert await walk(tenant) == [c["id"] for c in reversed(contacts)]


async def test_created_at_ascending_and_descending(tenant, contacts):
    assert await walk(tenant, sort="created_at") == [c["id"] for c in contacts]
    assert await walk(tenant, sort="-created_at") == [c["id"] for c in reversed(contacts)]


async def test_last_name_sort_is_case_insensitive_with_ties_broken_by_id(tenant, contacts):
    expected = sorted(contacts, key=lambda c: ((c["last_name"] or "").lower(), uuid.UUID(c["id"])))
    assert await walk(tenant, sort="last_name") == [c["id"] for c in expected]
    assert await walk(tenant, sort="-last_name") == [c["id"] for c in reversed(expected)]


async def test_updated_at_sort_follows_changes(tenant, contacts):
    await tenant.patch(f"/v1/contacts/{contacts[0]['id']}", json={"first_name": "Changed"})
    order = await walk(tenant, sort="-updated_at")
    assert order[0] == contacts[0]["id"]
    assert sorted(order) == sorted(c["id"] for c in contacts)


async def test_a_full_page_at_the_end_has_no_next_cursor(tenant):
    for name in ("A", "B"):
        await tenant.post("/v1/contacts", json={"first_name": name})
    body = (await tenant.get("/v1/contacts", params={"limit": 2})).json()
    assert len(body["data"]) == 2
    assert body["next_cursor"] is None


async def test_filtered_walk_returns_each_match_once(tenant, contacts):
    for c in contacts[::2]:
        await tenant.patch(f"/v1/contacts/{c['id']}", json={"tags": ["even"]})
    got = await walk(tenant, tag="even", sort="last_name")
    assert len(got) == len(set(got)) == len(contacts[::2])
    assert set(got) == {c["id"] for c in contacts[::2]}


async def test_search_results_paginate_without_repeats(tenant, contacts):
    got = await walk(tenant, q="smith")
    expected = {c["id"] for c in contacts if (c["last_name"] or "").lower() == "smith"}
    assert len(got) == len(set(got))
    assert expected <= set(got)


async def test_company_contacts_walk(tenant):
    company = (await tenant.post("/v1/companies", json={"name": "Acme"})).json()
    made = []
    for i in range(5):
        made.append((await tenant.post("/v1/contacts", json={"first_name": f"P{i}", "last_name": "Same",
                                                             "company_id": company["id"]})).json())
    url = f"/v1/companies/{company['id']}/contacts"
    assert await walk(tenant, url, sort="created_at") == [c["id"] for c in made]
    assert await walk(tenant, url) == [c["id"] for c in reversed(made)]
