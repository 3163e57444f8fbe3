"""Contacts: `q` finds people by name, email, phone and company name, tolerant of case and typos."""

import pytest


async def create_contact(tenant, **body):
    response = await tenant.post("/v1/contacts", json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def search(tenant, q, **params):
    response = await tenant.get("/v1/contacts", params={"q": q, **params})
    assert response.status_code == 200, response.text
    return [c["id"] for c in response.json()["data"]]


@pytest.fixture
async def people(tenant):
    acme = (await tenant.post("/v1/companies", json={"name": "Acme Rockets"})).json()
    john = await create_contact(tenant, first_name="John", last_name="Smith", email="jsmith@example.com",
                                phone="+49 30 1234567", company_id=acme["id"])
    maria = await create_contact(tenant, first_name="Maria", last_name="Garcia", email="mg@example.org",
                                 mobile="+34 600 111 222")
    wei = await create_contact(tenant, first_name="Wei", last_name="Zhang", email="wei.zhang@example.net")
    return {"acme": acme, "john": john, "maria": maria, "wei": wei}


@pytest.mark.parametrize(("q", "who"), [
    ("John", "john"), ("joh", "john"), ("mit", "john"), ("SMITH", "john"), ("garc", "maria"),
    ("wei.zhang@", "wei"), ("1234567", "john"), ("+49 30", "john"), ("600 111", "maria"),
    ("acme", "john"), ("ROCKETS", "john"), ("John Smith", "john"),
])
async def test_finds_by_part_of_name_email_phone_or_company(tenant, people, q, who):
    assert await search(tenant, q) == [people[who]["id"]]


@pytest.mark.parametrize(("q", "who"), [("jsmith@example.com", "john"), ("MG@example.org", "maria"),
                                        ("example.net", "wei")])
async def test_an_email_finds_its_contact_first(tenant, people, q, who):
    # Similar addresses (the same domain name) may follow: the search is fuzzy.
    assert (await search(tenant, q))[0] == people[who]["id"]


@pytest.mark.parametrize(("q", "who"), [("Jonh", "john"), ("Smiht", "john"), ("Garcai", "maria"),
                                        ("Zhamg", "wei"), ("Jonh Smith", "john")])
async def test_tolerates_a_small_typo(tenant, people, q, who):
    assert people[who]["id"] in await search(tenant, q)


@pytest.mark.parametrize("q", ["Xavier", "zzzz", "%", "_", "\\", "%%", "__"])
async def test_finds_nothing_for_unrelated_terms_or_wildcards(tenant, people, q):
    assert await search(tenant, q) == []


async def test_finds_by_the_company_name_after_the_company_is_renamed(tenant, people):
    response = await tenant.patch(f"/v1/companies/{people['acme']['id']}", json={"name": "Globex Industries"})
    assert response.status_code == 200, response.text
    assert await search(tenant, "globex") == [people["john"]["id"]]
    assert await search(tenant, "rockets") == []


async def test_finds_by_a_company_set_or_changed_later(tenant, people):
    globex = (await tenant.post("/v1/companies", json={"name": "Globex"})).json()
    await tenant.patch(f"/v1/contacts/{people['maria']['id']}", json={"company_id": globex["id"]})
    assert await search(tenant, "globex") == [people["maria"]["id"]]
    await tenant.patch(f"/v1/contacts/{people['maria']['id']}", json={"company_id": None})
    assert await search(tenant, "globex") == []


async def test_follows_changes_to_the_contact(tenant, people):
    await tenant.patch(f"/v1/contacts/{people['wei']['id']}", json={"last_name": "Wang", "email": None})
    assert await search(tenant, "zhang") == []
    assert await search(tenant, "wang") == [people["wei"]["id"]]


async def test_best_match_comes_first_without_sort(tenant):
    # Created first, so the default newest-first order would put it last.
    exact = await create_contact(tenant, first_name="John", last_name="Smith", email="a@example.com")
    partial = await create_contact(tenant, first_name="Johnny", last_name="Smithers", email="b@example.com")
    fuzzy = await create_contact(tenant, first_name="Jon", last_name="Smit", email="c@example.com")
    results = await search(tenant, "smith")
    assert results[0] == exact["id"]
    assert set(results) >= {exact["id"], partial["id"]}
    assert fuzzy["id"] not in results[:1]


async def test_an_explicit_sort_overrides_relevance(tenant):
    exact = await create_contact(tenant, first_name="John", last_name="Smith")
    partial = await create_contact(tenant, first_name="Johnny", last_name="Smithers")
    assert await search(tenant, "smith", sort="created_at") == [exact["id"], partial["id"]]
    assert await search(tenant, "smith", sort="-created_at") == [partial["id"], exact["id"]]


async def test_search_combines_with_filters(tenant, people):
    await tenant.patch(f"/v1/contacts/{people['john']['id']}", json={"lifecycle_stage": "customer"})
    twin = await create_contact(tenant, first_name="John", last_name="Doe", lifecycle_stage="lead")
    assert set(await search(tenant, "john")) == {people["john"]["id"], twin["id"]}
    assert await search(tenant, "john", lifecycle_stage="lead") == [twin["id"]]
