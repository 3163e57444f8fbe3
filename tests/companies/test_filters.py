"""Companies: filters, `q` on name and domain, sorts and cursor pagination."""

import uuid

import pytest


async def create_company(tenant, **body):
    response = await tenant.post("/v1/companies", json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def ids(tenant, **params):
    response = await tenant.get("/v1/companies", params=params)
    assert response.status_code == 200, response.text
    return {c["id"] for c in response.json()["data"]}


async def walk(tenant, **params):
    seen, cursor = [], None
    for _ in range(50):
        query = {**params, "limit": 2, **({"cursor": cursor} if cursor else {})}
        body = (await tenant.get("/v1/companies", params=query)).json()
        assert len(body["data"]) <= 2
        seen += [c["id"] for c in body["data"]]
        cursor = body["next_cursor"]
        if cursor is None:
            return seen
    raise AssertionError("pagination does not end")


async def test_relationship_industry_tag_country_city_domain_and_owner(tenant):
    owner = (await tenant.post("/v1/users", json={"email": "o@example.com", "name": "O"})).json()
    a = await create_company(tenant, name="A", relationship="customer", industry="Software", tags=["key", "eu"],
                             address={"city": "Berlin", "country": "DE"}, domain="a.example", owner_id=owner["id"])
    b = await create_company(tenant, name="B", relationship="prospect", industry="software", tags=["eu"],
                             address={"city": "BERLIN", "country": "DE"})
    c = await create_company(tenant, name="C", relationship="customer", industry="Retail",
                             address={"city": "Lyon", "country": "FR"}, domain="c.example")
    assert await ids(tenant, relationship="customer") == {a["id"], c["id"]}
    assert await ids(tenant, relationship="partner") == set()
    assert await ids(tenant, industry="SOFTWARE") == {a["id"], b["id"]}
    assert await ids(tenant, tag="eu") == {a["id"], b["id"]}
    assert await ids(tenant, tag="key") == {a["id"]}
    assert await ids(tenant, country="de") == {a["id"], b["id"]}
    assert await ids(tenant, country="FR") == {c["id"]}
    assert await ids(tenant, city="berlin") == {a["id"], b["id"]}
    assert await ids(tenant, domain="C.Example") == {c["id"]}
    assert await ids(tenant, owner_id=owner["id"]) == {a["id"]}
    assert await ids(tenant, relationship="customer", industry="software") == {a["id"]}


async def test_created_and_updated_ranges(tenant):
    a = await create_company(tenant, name="A")
    b = await create_company(tenant, name="B")
    assert await ids(tenant, created_after=b["created_at"]) == {b["id"]}
    assert await ids(tenant, created_before=b["created_at"]) == {a["id"]}
    patched = (await tenant.patch(f"/v1/companies/{a['id']}", json={"name": "A2"})).json()
    assert await ids(tenant, updated_after=patched["updated_at"]) == {a["id"]}


async def test_custom_field_filter(tenant):
    await tenant.post("/v1/custom-fields", json={"object_type": "company", "key": "tier", "label": "Tier",
                                                  "type": "select", "options": ["gold", "silver"]})
    gold = await create_company(tenant, name="G", custom_fields={"tier": "gold"})
    await create_company(tenant, name="S", custom_fields={"tier": "silver"})
    assert await ids(tenant, **{"custom_fields.tier": "gold"}) == {gold["id"]}
    response = await tenant.get("/v1/companies", params={"custom_fields.tier": "bronze"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "custom_fields.tier"


@pytest.mark.parametrize(("q", "who"), [
    ("acme", {"acme"}), ("ACME", {"acme"}), ("rock", {"acme"}), ("globex.example", {"globex"}),
    ("example", {"acme", "globex"}), (".example", {"acme", "globex"}), ("zzz", set()), ("%", set()),
    ("_", set()),
])
async def test_q_matches_part_of_name_or_domain(tenant, q, who):
    made = {
        "acme": await create_company(tenant, name="Acme Rockets", domain="acme.example"),
        "globex": await create_company(tenant, name="Globex", domain="globex.example"),
        "initech": await create_company(tenant, name="Initech"),
    }
    assert await ids(tenant, q=q) == {made[w]["id"] for w in who}


async def test_q_follows_a_rename(tenant):
    company = await create_company(tenant, name="Acme")
    await tenant.patch(f"/v1/companies/{company['id']}", json={"name": "Globex"})
    assert await ids(tenant, q="acme") == set()
    assert await ids(tenant, q="glob") == {company["id"]}


@pytest.fixture
async def companies(tenant):
    names = ["beta", "Alpha", "gamma", "alpha", "Beta", "delta", "ALPHA"]
    return [await create_company(tenant, name=n) for n in names]


async def test_created_at_sorts_walk_every_company_once(tenant, companies):
    assert await walk(tenant, sort="created_at") == [c["id"] for c in companies]
    assert await walk(tenant, sort="-created_at") == [c["id"] for c in reversed(companies)]
    assert await walk(tenant) == [c["id"] for c in reversed(companies)]


async def test_name_sort_is_case_insensitive_with_ties_broken_by_id(tenant, companies):
    expected = [c["id"] for c in sorted(companies, key=lambda c: (c["name"].lower(), uuid.UUID(c["id"])))]
    assert await walk(tenant, sort="name") == expected
    assert await walk(tenant, sort="-name") == list(reversed(expected))


async def test_filtered_and_searched_walks(tenant, companies):
    got = await walk(tenant, q="alpha", sort="name")
    assert len(got) == len(set(got)) == 3
    assert set(got) == {c["id"] for c in companies if c["name"].lower() == "alpha"}
