"""Contacts: every list filter narrows to exactly the matching records."""

import pytest


async def create_contact(tenant, **body):
    response = await tenant.post("/v1/contacts", json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def ids(tenant, url="/v1/contacts", **params):
    response = await tenant.get(url, params=params)
    assert response.status_code == 200, response.text
    return {c["id"] for c in response.json()["data"]}


async def add_custom_field(tenant, key, type_, **extra):
    response = await tenant.post("/v1/custom-fields", json={"object_type": "contact", "key": key,
                                                             "label": key.title(), "type": type_, **extra})
    assert response.status_code == 201, response.text


async def test_owner_and_company_filters(tenant):
    alice = (await tenant.post("/v1/users", json={"email": "alice@example.com", "name": "Alice"})).json()
    bob = (await tenant.post("/v1/users", json={"email": "bob@example.com", "name": "Bob"})).json()
    acme = (await tenant.post("/v1/companies", json={"name": "Acme"})).json()
    globex = (await tenant.post("/v1/companies", json={"name": "Globex"})).json()
    a = await create_contact(tenant, first_name="A", owner_id=alice["id"], company_id=acme["id"])
    b = await create_contact(tenant, first_name="B", owner_id=bob["id"], company_id=acme["id"])
    c = await create_contact(tenant, first_name="C", owner_id=alice["id"], company_id=globex["id"])
    await create_contact(tenant, first_name="D")
    assert await ids(tenant, owner_id=alice["id"]) == {a["id"], c["id"]}
    assert await ids(tenant, owner_id=bob["id"]) == {b["id"]}
    assert await ids(tenant, company_id=acme["id"]) == {a["id"], b["id"]}
    assert await ids(tenant, company_id=acme["id"], owner_id=alice["id"]) == {a["id"]}


async def test_tag_filter_matches_one_element(tenant):
    a = await create_contact(tenant, first_name="A", tags=["vip", "berlin"])
    b = await create_contact(tenant, first_name="B", tags=["vip"])
    await create_contact(tenant, first_name="C", tags=["vipx", "other"])
    await create_contact(tenant, first_name="D")
    assert await ids(tenant, tag="vip") == {a["id"], b["id"]}
    assert await ids(tenant, tag="berlin") == {a["id"]}
    assert await ids(tenant, tag="nobody") == set()


async def test_city_is_case_insensitive_and_country_matches_the_code(tenant):
    a = await create_contact(tenant, first_name="A", address={"city": "Berlin", "country": "DE"})
    b = await create_contact(tenant, first_name="B", address={"city": "BERLIN", "country": "DE"})
    c = await create_contact(tenant, first_name="C", address={"city": "Paris", "country": "FR"})
    await create_contact(tenant, first_name="D", address={"city": "Berlingen"})
    assert await ids(tenant, city="berlin") == {a["id"], b["id"]}
    assert await ids(tenant, city="Paris") == {c["id"]}
    assert await ids(tenant, country="DE") == {a["id"], b["id"]}
    assert await ids(tenant, country="fr") == {c["id"]}
    assert await ids(tenant, country="FR", city="berlin") == set()


async def test_lifecycle_stage_source_and_email_filters(tenant):
    a = await create_contact(tenant, first_name="A", lifecycle_stage="lead", source="web", email="a@example.com")
    b = await create_contact(tenant, first_name="B", lifecycle_stage="customer", source="web")
    c = await create_contact(tenant, first_name="C", lifecycle_stage="lead", source="fair")
    assert await ids(tenant, lifecycle_stage="lead") == {a["id"], c["id"]}
    assert await ids(tenant, lifecycle_stage="customer") == {b["id"]}
    assert await ids(tenant, source="web") == {a["id"], b["id"]}
    assert await ids(tenant, source="web", lifecycle_stage="lead") == {a["id"]}
    assert await ids(tenant, email="A@EXAMPLE.com") == {a["id"]}


async def test_created_and_updated_ranges(tenant):
    a = await create_contact(tenant, first_name="A")
    b = await create_contact(tenant, first_name="B")
    c = await create_contact(tenant, first_name="C")
    assert await ids(tenant, created_after=b["created_at"]) == {b["id"], c["id"]}
    assert await ids(tenant, created_before=b["created_at"]) == {a["id"]}
    assert await ids(tenant, created_after=a["created_at"], created_before=c["created_at"]) == {a["id"], b["id"]}
    patched = (await tenant.patch(f"/v1/contacts/{a['id']}", json={"first_name": "A2"})).json()
    assert await ids(tenant, updated_after=patched["updated_at"]) == {a["id"]}
    assert await ids(tenant, updated_after=c["updated_at"]) == {a["id"], c["id"]}
    assert await ids(tenant, updated_before=patched["updated_at"]) == {b["id"], c["id"]}


async def test_ranges_accept_an_offset_timestamp(tenant):
    a = await create_contact(tenant, first_name="A")
    assert await ids(tenant, created_after="2000-01-01T01:00:00+01:00") == {a["id"]}
    assert await ids(tenant, created_before="2000-01-01T00:00:00Z") == set()


async def test_custom_field_filters(tenant):
    await add_custom_field(tenant, "score", "number")
    await add_custom_field(tenant, "vip", "boolean")
    await add_custom_field(tenant, "tier", "select", options=["gold", "silver"])
    await add_custom_field(tenant, "nickname", "text")
    await add_custom_field(tenant, "langs", "multiselect", options=["en", "de", "fr"])
    a = await create_contact(tenant, first_name="A", custom_fields={"score": 5, "vip": True, "tier": "gold",
                                                                     "nickname": "Ace", "langs": ["en", "de"]})
    b = await create_contact(tenant, first_name="B", custom_fields={"score": 5.5, "vip": False, "tier": "silver",
                                                                     "langs": ["fr"]})
    await create_contact(tenant, first_name="C")
    assert await ids(tenant, **{"custom_fields.score": "5"}) == {a["id"]}
    assert await ids(tenant, **{"custom_fields.score": "5.5"}) == {b["id"]}
    assert await ids(tenant, **{"custom_fields.vip": "true"}) == {a["id"]}
    assert await ids(tenant, **{"custom_fields.vip": "false"}) == {b["id"]}
    assert await ids(tenant, **{"custom_fields.tier": "silver"}) == {b["id"]}
    assert await ids(tenant, **{"custom_fields.nickname": "Ace"}) == {a["id"]}
    assert await ids(tenant, **{"custom_fields.nickname": "ace"}) == set()
    assert await ids(tenant, **{"custom_fields.langs": "de"}) == {a["id"]}
    assert await ids(tenant, **{"custom_fields.vip": "true", "custom_fields.tier": "silver"}) == set()


async def test_a_cleared_custom_field_no_longer_matches(tenant):
    await add_custom_field(tenant, "nickname", "text")
    a = await create_contact(tenant, first_name="A", custom_fields={"nickname": "Ace"})
    assert await ids(tenant, **{"custom_fields.nickname": "Ace"}) == {a["id"]}
    await tenant.patch(f"/v1/contacts/{a['id']}", json={"custom_fields": {"nickname": None}})
    assert await ids(tenant, **{"custom_fields.nickname": "Ace"}) == set()


async def test_company_contacts_list_and_its_filters(tenant):
    acme = (await tenant.post("/v1/companies", json={"name": "Acme"})).json()
    other = (await tenant.post("/v1/companies", json={"name": "Other"})).json()
    a = await create_contact(tenant, first_name="A", company_id=acme["id"], lifecycle_stage="lead", tags=["x"])
    b = await create_contact(tenant, first_name="B", company_id=acme["id"], lifecycle_stage="customer")
    gone = await create_contact(tenant, first_name="Gone", company_id=acme["id"])
    await tenant.delete(f"/v1/contacts/{gone['id']}")
    await create_contact(tenant, first_name="C", company_id=other["id"], lifecycle_stage="lead")
    await create_contact(tenant, first_name="D", lifecycle_stage="lead")
    url = f"/v1/companies/{acme['id']}/contacts"
    response = await tenant.get(url)
    assert response.status_code == 200
    assert set(response.json()) == {"data", "next_cursor"}
    assert [c["id"] for c in response.json()["data"]] == [b["id"], a["id"]]
    assert await ids(tenant, url, lifecycle_stage="lead") == {a["id"]}
    assert await ids(tenant, url, tag="x") == {a["id"]}
    page = (await tenant.get(url, params={"limit": 1})).json()
    assert len(page["data"]) == 1 and page["next_cursor"]
    rest = (await tenant.get(url, params={"limit": 1, "cursor": page["next_cursor"]})).json()
    assert {page["data"][0]["id"], rest["data"][0]["id"]} == {a["id"], b["id"]}


@pytest.mark.parametrize("params", [{"owner_id": "x"}, {"q": "a"}, {"limit": 0}, {"custom_fields.k": "v"}])
async def test_company_contacts_bad_parameters_are_422(tenant, params):
    acme = (await tenant.post("/v1/companies", json={"name": "Acme"})).json()
    response = await tenant.get(f"/v1/companies/{acme['id']}/contacts", params=params)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["errors"][0]["field"] == next(iter(params))


async def test_company_contacts_of_a_deleted_company_is_404(tenant):
    acme = (await tenant.post("/v1/companies", json={"name": "Acme"})).json()
    await create_contact(tenant, first_name="A", company_id=acme["id"])
    await tenant.delete(f"/v1/companies/{acme['id']}")
    assert (await tenant.get(f"/v1/companies/{acme['id']}/contacts")).status_code == 404
