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
    ("John", "john"), ("joh", "john"), ("smi", "john"), ("SMITH", "john"), ("garc", "maria"),
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


async def test_a_word_matches_from_its_beginning_not_from_its_middle(tenant, people):
    # `q` matches words by their start (as people type names), so "smi" finds Smith but "mit" does not;
    # a longer fragment one letter off a word ("mith") still finds it as a typo.
    assert await search(tenant, "smi") == [people["john"]["id"]]
    assert await search(tenant, "mit") == []
    assert await search(tenant, "mith") == [people["john"]["id"]]


async def test_finds_a_phone_number_without_its_country_code(tenant, people):
    assert await search(tenant, "30 1234567") == [people["john"]["id"]]
    assert await search(tenant, "(030) 123-4567") == [people["john"]["id"]]  # with a trunk prefix
    assert await search(tenant, "0049 30 1234567") == [people["john"]["id"]]  # with an international one
    assert await search(tenant, "600111222") == [people["maria"]["id"]]


async def test_exact_words_then_word_beginnings_newest_first(tenant):
    older_exact = await create_contact(tenant, first_name="Ann", last_name="Smith")
    prefix = await create_contact(tenant, first_name="Bob", last_name="Smithers")
    typo = await create_contact(tenant, first_name="Cid", last_name="Smiht")
    newer_exact = await create_contact(tenant, first_name="Dee", last_name="Smith")
    both = await create_contact(tenant, first_name="Smithson", last_name="Smith")  # exact and prefix: once
    # A word found as typed (or as a beginning) is not also looked up with its typos.
    assert await search(tenant, "smith") == [both["id"], newer_exact["id"], older_exact["id"], prefix["id"]]
    # A word found nowhere is: every spelling one letter off it, newest first.
    assert await search(tenant, "smitth") == [both["id"], newer_exact["id"], older_exact["id"]]
    assert await search(tenant, "smhit") == [typo["id"]]


async def test_ranked_pages_walk_every_match_once_across_tiers(tenant):
    made = {}
    for i, last in enumerate(["Smith", "Smithers", "Smiht", "Smith", "Smithson", "Smith", "Jones", "Smithers"]):
        made[i] = (await create_contact(tenant, first_name=f"P{i}", last_name=last))["id"]
    everything = await search(tenant, "smith", limit=50)
    seen, cursor = [], None
    while True:
        page = {"q": "smith", "limit": 2, **({"cursor": cursor} if cursor else {})}
        response = await tenant.get("/v1/contacts", params=page)
        assert response.status_code == 200, response.text
        seen += [c["id"] for c in response.json()["data"]]
        cursor = response.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == everything
    assert set(seen) == {made[i] for i in (0, 1, 3, 4, 5, 7)}
    assert await search(tenant, "smitt") == [made[5], made[3], made[2], made[0]]  # typos: smith, smiht


async def test_every_word_must_match_and_filters_apply_before_the_page(tenant):
    made = []
    for i in range(6):
        made.append(await create_contact(tenant, first_name="Anna" if i % 2 else "Bert", last_name="Schmidt",
                                         lifecycle_stage="lead" if i == 1 else "customer"))
    response = await tenant.get("/v1/contacts", params={"q": "anna schmidt", "lifecycle_stage": "lead", "limit": 1})
    assert [c["id"] for c in response.json()["data"]] == [made[1]["id"]]
    assert response.json()["next_cursor"] is None
    assert await search(tenant, "schmidt anna") == [made[5]["id"], made[3]["id"], made[1]["id"]]
    assert await search(tenant, "schmidt zora") == []


async def test_trashed_contacts_leave_search_and_restored_ones_return(tenant, people):
    john = people["john"]["id"]
    assert (await tenant.delete(f"/v1/contacts/{john}")).status_code == 204
    assert await search(tenant, "smith") == []
    assert (await tenant.post(f"/v1/contacts/{john}/restore")).status_code == 200
    assert await search(tenant, "smith") == [john]


async def test_a_cursor_from_another_order_or_tampered_is_422(tenant, people):
    listed = (await tenant.get("/v1/contacts", params={"limit": 1})).json()
    response = await tenant.get("/v1/contacts", params={"q": "smith", "cursor": listed["next_cursor"]})
    assert response.status_code == 422, response.text
    response = await tenant.get("/v1/contacts", params={"q": "smith", "cursor": "bm90LWEtY3Vyc29y"})
    assert response.status_code == 422, response.text
