"""Companies: each committed change writes one event; updates carry the old values."""

from sqlalchemy import text


async def events(owner_engine, tenant):
    async with owner_engine.connect() as conn:
        rows = await conn.execute(text(
            "SELECT type, object_id, data, previous FROM events "
            "WHERE tenant_id = :t AND object_type = 'company' ORDER BY sequence"), {"t": tenant.id})
        return [dict(r._mapping) for r in rows]


async def test_create_update_delete_restore_each_write_one_event(make_tenant, owner_engine):
    tenant = await make_tenant("US tenant", currency="USD")
    created = (await tenant.post("/v1/companies", json={"name": "Acme", "industry": "Rockets",
                                                        "annual_revenue": {"amount": "100"}})).json()
    updated = (await tenant.patch(f"/v1/companies/{created['id']}", json={
        "name": "Acme Inc", "industry": "Rockets", "annual_revenue": {"amount": "250.5"}})).json()
    await tenant.delete(f"/v1/companies/{created['id']}")
    restored = (await tenant.post(f"/v1/companies/{created['id']}/restore")).json()
    rows = await events(owner_engine, tenant)
    assert [r["type"] for r in rows] == ["company.created", "company.updated", "company.deleted",
                                         "company.restored"]
    assert all(str(r["object_id"]) == created["id"] for r in rows)
    assert rows[0]["data"] == created and rows[0]["previous"] is None
    assert rows[1]["data"] == updated
    assert rows[1]["previous"] == {"name": "Acme", "annual_revenue": {"amount": "100.00", "currency": "USD"}}
    assert rows[3]["data"] == restored


async def test_failed_changes_write_no_event(tenant, owner_engine):
    created = (await tenant.post("/v1/companies", json={"name": "Acme"})).json()
    assert (await tenant.patch(f"/v1/companies/{created['id']}", json={"name": None})).status_code == 422
    assert (await tenant.patch(f"/v1/companies/{created['id']}", json={"name": "Acme"})).status_code == 200
    assert (await tenant.post("/v1/companies", json={"name": "B", "domain": "nope"})).status_code == 422
    assert [r["type"] for r in await events(owner_engine, tenant)] == ["company.created"]
