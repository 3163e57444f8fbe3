"""Behaviour settled in review: exact duplicate matches survive any number of weaker ones, a null
custom_fields clears them, and money changed without a currency keeps the one it had."""

from sqlalchemy import text


async def test_an_exact_email_match_is_found_among_hundreds_of_similar_names(tenant, owner_engine):
    async with owner_engine.begin() as conn:
        await conn.execute(text(
            "INSERT INTO contacts (tenant_id, id, first_name, last_name, email) "
            "SELECT :t, gen_random_uuid(), 'John', 'Smith', 'john' || i || '@similar.example' "
            "FROM generate_series(1, 250) AS i"), {"t": tenant.id})
    target = (await tenant.post("/v1/contacts", json={"first_name": "Jon", "last_name": "Smyth",
                                                     "email": "the.one@exact.example"})).json()
    found = (await tenant.get("/v1/contacts/duplicates",
                              params={"name": "John Smith", "email": "THE.ONE@exact.example"})).json()["data"]
    assert found[0]["contact"]["id"] == target["id"] and "email" in found[0]["reasons"]
    assert len(found) == 20


async def test_null_custom_fields_clears_every_value(tenant):
    await tenant.post("/v1/custom-fields", json={"object_type": "contact", "key": "tier", "label": "Tier",
                                                 "type": "text"})
    contact = (await tenant.post("/v1/contacts", json={"first_name": "A", "custom_fields": {"tier": "gold"}})).json()
    cleared = await tenant.patch(f"/v1/contacts/{contact['id']}", json={"custom_fields": None})
    assert cleared.status_code == 200 and cleared.json()["custom_fields"] == {}


async def test_null_custom_fields_cannot_clear_a_required_one(tenant):
    await tenant.post("/v1/custom-fields", json={"object_type": "company", "key": "vat", "label": "VAT",
                                                 "type": "text", "required": True})
    company = (await tenant.post("/v1/companies", json={"name": "A", "custom_fields": {"vat": "DE1"}})).json()
    refused = await tenant.patch(f"/v1/companies/{company['id']}", json={"custom_fields": None})
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "custom_fields.vat"


async def test_an_amount_without_currency_keeps_the_current_currency(make_tenant):
    tenant = await make_tenant(currency="EUR")
    company = (await tenant.post("/v1/companies", json={
        "name": "A", "annual_revenue": {"amount": "10.00", "currency": "JPY"}})).json()
    changed = (await tenant.patch(f"/v1/companies/{company['id']}",
                                  json={"annual_revenue": {"amount": "20"}})).json()
    assert changed["annual_revenue"] == {"amount": "20.00", "currency": "JPY"}
