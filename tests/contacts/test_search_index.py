"""The search-term index stays equal to what each record's fields say, through every kind of write."""

from sqlalchemy import text

TERMS = text("""SELECT record_id::text, array_agg(term ORDER BY term) FROM search_terms
                WHERE tenant_id = :tenant AND object_type = 'contact' GROUP BY record_id""")
EXPECTED = text("""
    SELECT ct.id::text, crm_contact_search_terms(ct.first_name, ct.last_name, ct.email, ct.phone, ct.mobile,
                                                 co.name)
    FROM contacts ct LEFT JOIN companies co ON co.tenant_id = ct.tenant_id AND co.id = ct.company_id
    WHERE ct.tenant_id = :tenant""")


async def index_of(owner_engine, tenant):
    async with owner_engine.connect() as conn:
        indexed = dict((await conn.execute(TERMS, {"tenant": tenant.id})).all())
        expected = {k: sorted(v) for k, v in (await conn.execute(EXPECTED, {"tenant": tenant.id})).all() if v}
    return {k: sorted(v) for k, v in indexed.items()}, expected


async def test_index_follows_creates_updates_company_renames_and_purges(tenant, owner_engine):
    company = (await tenant.post("/v1/companies", json={"name": "Acme Rockets"})).json()
    ada = (await tenant.post("/v1/contacts", json={
        "first_name": "Ada", "last_name": "Lovelace", "email": "ada.l@analytical.example",
        "phone": "+44 20 7946 0018", "company_id": company["id"]})).json()
    bob = (await tenant.post("/v1/contacts", json={"first_name": "Bob", "mobile": "0151 2345"})).json()
    indexed, expected = await index_of(owner_engine, tenant)
    assert indexed == expected
    assert {"ada", "lovelace", "analytical", "example", "acme", "rockets", "442079460018", "2079460018",
            "79460018"} <= set(indexed[ada["id"]])
    assert indexed[bob["id"]] == ["01512345", "1512345", "bob"]

    await tenant.patch(f"/v1/contacts/{ada['id']}", json={"last_name": "King", "phone": None})
    await tenant.patch(f"/v1/companies/{company['id']}", json={"name": "Globex"})
    indexed, expected = await index_of(owner_engine, tenant)
    assert indexed == expected
    assert "lovelace" not in indexed[ada["id"]] and "rockets" not in indexed[ada["id"]]
    assert {"king", "globex"} <= set(indexed[ada["id"]])

    async with owner_engine.begin() as conn:  # the trash purge deletes rows for good
        await conn.execute(text("DELETE FROM contacts WHERE id = :id"), {"id": bob["id"]})
    indexed, expected = await index_of(owner_engine, tenant)
    assert indexed == expected
    assert bob["id"] not in indexed


async def test_the_index_is_tenant_scoped_under_row_level_security(tenant, other_tenant):
    await tenant.post("/v1/contacts", json={"first_name": "Quentin", "last_name": "Zebulon"})
    # The other tenant's expansion of the same words sees no terms of the first tenant's.
    response = await other_tenant.get("/v1/contacts", params={"q": "zebulo"})
    assert response.status_code == 200 and response.json()["data"] == []
    response = await tenant.get("/v1/contacts", params={"q": "zebulo"})
    assert len(response.json()["data"]) == 1


RECORD_TERMS = {  # object type -> (table, the columns its terms come from)
    "company": ("companies", "name, domain"),
    "deal": ("deals", "title"),
    "lead": ("leads", "first_name, last_name, email, company_name"),
}


async def record_index(owner_engine, tenant, kind):
    table, columns = RECORD_TERMS[kind]
    async with owner_engine.connect() as conn:
        indexed = dict((await conn.execute(text(
            "SELECT record_id::text, array_agg(term ORDER BY term) FROM search_terms "
            "WHERE tenant_id = :tenant AND object_type = :kind GROUP BY record_id"),
            {"tenant": tenant.id, "kind": kind})).all())
        expected = dict((await conn.execute(text(
            f"SELECT id::text, crm_search_words(concat_ws(' ', {columns})) FROM {table} WHERE tenant_id = :tenant"),
            {"tenant": tenant.id})).all())
    return {k: sorted(v) for k, v in indexed.items()}, {k: sorted(v) for k, v in expected.items() if v}


async def test_company_and_deal_terms_follow_their_names(tenant, owner_engine):
    acme = (await tenant.post("/v1/companies", json={"name": "Acme Rockets", "domain": "acme.example"})).json()
    deal = (await tenant.post("/v1/deals", json={"title": "Rocket fuel, 2027 renewal"})).json()
    assert (await record_index(owner_engine, tenant, "company"))[0][acme["id"]] == ["acme", "example", "rockets"]
    assert (await record_index(owner_engine, tenant, "deal"))[0][deal["id"]] == ["2027", "fuel", "renewal",
                                                                                 "rocket"]
    lead = (await tenant.post("/v1/leads", json={"first_name": "Grace", "email": "grace@navy.example",
                                                 "company_name": "Harvard Mark", "source": "referral"})).json()
    assert (await record_index(owner_engine, tenant, "lead"))[0][lead["id"]] == ["example", "grace", "harvard",
                                                                                 "mark", "navy"]
    await tenant.patch(f"/v1/leads/{lead['id']}", json={"last_name": "Hopper", "company_name": None})
    await tenant.patch(f"/v1/companies/{acme['id']}", json={"name": "Globex", "domain": None})
    await tenant.patch(f"/v1/deals/{deal['id']}", json={"title": "Launch pad"})
    for kind in RECORD_TERMS:
        indexed, expected = await record_index(owner_engine, tenant, kind)
        assert indexed == expected
    assert (await record_index(owner_engine, tenant, "company"))[0][acme["id"]] == ["globex"]
    assert (await record_index(owner_engine, tenant, "lead"))[0][lead["id"]] == ["example", "grace", "hopper",
                                                                                 "navy"]

    async with owner_engine.begin() as conn:
        await conn.execute(text("DELETE FROM deals WHERE id = :id"), {"id": deal["id"]})
    assert deal["id"] not in (await record_index(owner_engine, tenant, "deal"))[0]


async def test_deal_and_company_q_use_words_beginnings_and_typos(tenant, other_tenant):
    fuel = (await tenant.post("/v1/deals", json={"title": "Rocket fuel renewal"})).json()
    pads = (await tenant.post("/v1/deals", json={"title": "Launch pads"})).json()
    acme = (await tenant.post("/v1/companies", json={"name": "Acme Rockets", "domain": "acme.example"})).json()

    async def found(resource, q, client=tenant):
        response = await client.get(f"/v1/{resource}", params={"q": q})
        assert response.status_code == 200, response.text
        return [r["id"] for r in response.json()["data"]]

    assert await found("deals", "renew") == [fuel["id"]]
    assert await found("deals", "lanch pads") == [pads["id"]]  # a typo in one word
    assert await found("deals", "launch fuel") == []  # every word must match
    assert await found("companies", "rock") == [acme["id"]]
    assert await found("companies", "acme.exmaple") == [acme["id"]]
    assert await found("deals", "renew", other_tenant) == []
    assert await found("companies", "rock", other_tenant) == []
