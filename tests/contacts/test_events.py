"""Contacts: every committed change writes exactly one event to the outbox, and failed ones none."""

from sqlalchemy import text


async def events(owner_engine, tenant):
    async with owner_engine.connect() as conn:
        rows = await conn.execute(text(
            "SELECT type, object_type, object_id, data, previous, actor, sequence FROM events "
            "WHERE tenant_id = :t AND object_type = 'contact' ORDER BY sequence"), {"t": tenant.id})
        return [dict(r._mapping) for r in rows]


async def test_create_update_delete_restore_each_write_one_event(tenant, owner_engine):
    created = (await tenant.post("/v1/contacts", json={
        "first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com", "tags": ["a"],
        "address": {"city": "London", "country": "GB"}})).json()
    [event] = await events(owner_engine, tenant)
    assert event["type"] == "contact.created"
    assert str(event["object_id"]) == created["id"]
    assert event["data"] == created
    assert event["previous"] is None
    assert event["actor"]["type"] == "api_key"

    updated = (await tenant.patch(f"/v1/contacts/{created['id']}", json={
        "first_name": "Augusta", "job_title": "Analyst", "address": {"city": "Paris"}, "last_name": "Lovelace"})).json()
    rows = await events(owner_engine, tenant)
    assert [r["type"] for r in rows] == ["contact.created", "contact.updated"]
    assert rows[1]["data"] == updated
    assert rows[1]["previous"] == {
        "first_name": "Ada", "job_title": None,
        "address": {"street": None, "city": "London", "region": None, "postal_code": None, "country": "GB"},
    }

    assert (await tenant.delete(f"/v1/contacts/{created['id']}")).status_code == 204
    restored = (await tenant.post(f"/v1/contacts/{created['id']}/restore")).json()
    rows = await events(owner_engine, tenant)
    assert [r["type"] for r in rows] == ["contact.created", "contact.updated", "contact.deleted", "contact.restored"]
    assert all(str(r["object_id"]) == created["id"] for r in rows)
    assert rows[2]["data"]["id"] == created["id"]
    assert rows[3]["data"] == restored
    sequences = [r["sequence"] for r in rows]
    assert sequences == list(range(sequences[0], sequences[0] + 4))


async def test_custom_field_changes_record_the_old_values(tenant, owner_engine):
    await tenant.post("/v1/custom-fields", json={"object_type": "contact", "key": "score", "label": "S",
                                                  "type": "number"})
    created = (await tenant.post("/v1/contacts", json={"first_name": "A", "custom_fields": {"score": 1}})).json()
    await tenant.patch(f"/v1/contacts/{created['id']}", json={"custom_fields": {"score": 2}})
    rows = await events(owner_engine, tenant)
    assert rows[-1]["type"] == "contact.updated"
    assert rows[-1]["previous"] == {"custom_fields": {"score": 1}}
    assert rows[-1]["data"]["custom_fields"] == {"score": 2}


async def test_a_patch_that_changes_nothing_writes_no_event(tenant, owner_engine):
    created = (await tenant.post("/v1/contacts", json={"first_name": "Ada", "tags": ["x"]})).json()
    await tenant.patch(f"/v1/contacts/{created['id']}", json={"first_name": "Ada", "tags": ["x"]})
    assert [r["type"] for r in await events(owner_engine, tenant)] == ["contact.created"]


async def test_failed_requests_write_no_event(tenant, owner_engine):
    created = (await tenant.post("/v1/contacts", json={"first_name": "Ada", "email": "ada@example.com"})).json()
    other = (await tenant.post("/v1/contacts", json={"first_name": "Bob", "email": "bob@example.com"})).json()
    assert (await tenant.post("/v1/contacts", json={"first_name": "X", "email": "ADA@example.com"})).status_code == 409
    assert (await tenant.patch(f"/v1/contacts/{other['id']}", json={"email": "ada@example.com"})).status_code == 409
    assert (await tenant.post("/v1/contacts", json={"first_name": "X", "bogus": 1})).status_code == 422
    assert (await tenant.patch(f"/v1/contacts/{created['id']}", json={"first_name": "B"},
                               headers={"If-Match": '"7"'})).status_code == 412
    await tenant.delete(f"/v1/contacts/{created['id']}")
    await tenant.post("/v1/contacts", json={"first_name": "New", "email": "ada@example.com"})
    assert (await tenant.post(f"/v1/contacts/{created['id']}/restore")).status_code == 409
    types = [r["type"] for r in await events(owner_engine, tenant)]
    assert types == ["contact.created", "contact.created", "contact.deleted", "contact.created"]


async def test_events_stay_in_their_tenant(tenant, other_tenant, owner_engine):
    await tenant.post("/v1/contacts", json={"first_name": "Mine"})
    assert await events(owner_engine, other_tenant) == []
