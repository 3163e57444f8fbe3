"""GET /v1/events: the tenant's changes in sequence order, enough to rebuild a local copy."""

import uuid

from sqlalchemy import text


async def _all_events(client, **params):
    events, after = [], None
    while True:
        query = {"limit": 3, **params, **({"after": after} if after else {})}
        page = (await client.get("/v1/events", params=query)).json()
        events += page["data"]
        after = page["next_cursor"]
        if not page["has_more"]:
            return events, after


async def test_a_client_rebuilds_its_copy_of_contacts_from_the_feed(tenant):
    ids = []
    for i in range(5):
        created = await tenant.post("/v1/contacts", json={"first_name": f"P{i}", "email": f"p{i}@ex.com"})
        ids.append(created.json()["id"])
    await tenant.patch(f"/v1/contacts/{ids[0]}", json={"job_title": "CTO", "tags": ["vip"]})
    await tenant.patch(f"/v1/contacts/{ids[1]}", json={"first_name": "Renamed"})
    await tenant.delete(f"/v1/contacts/{ids[2]}")
    await tenant.delete(f"/v1/contacts/{ids[3]}")
    await tenant.post(f"/v1/contacts/{ids[3]}/restore")

    events, _ = await _all_events(tenant, type="contact.*")
    replica: dict[str, dict] = {}
    for event in events:
        obj = event["data"]["object"]
        if event["type"] == "contact.deleted":
            replica.pop(obj["id"], None)
        else:
            replica[obj["id"]] = obj

    listed = (await tenant.get("/v1/contacts", params={"limit": 200})).json()["data"]
    assert replica == {c["id"]: c for c in listed}
    assert ids[2] not in replica and ids[3] in replica


async def test_sequence_is_gap_free_and_updates_carry_previous_values(tenant):
    created = (await tenant.post("/v1/contacts", json={"first_name": "Ann", "lifecycle_stage": "lead"})).json()
    await tenant.patch(f"/v1/contacts/{created['id']}", json={"lifecycle_stage": "customer"})
    events, _ = await _all_events(tenant)
    assert [e["sequence"] for e in events] == list(range(1, len(events) + 1))
    update = next(e for e in events if e["type"] == "contact.updated")
    assert update["data"]["previous"] == {"lifecycle_stage": "lead"}
    assert update["data"]["object"]["lifecycle_stage"] == "customer"
    assert update["actor"]["type"] == "api_key"


async def test_type_patterns_and_object_filter(tenant):
    company = (await tenant.post("/v1/companies", json={"name": "Acme"})).json()
    contact = (await tenant.post("/v1/contacts", json={"first_name": "Bo"})).json()
    await tenant.patch(f"/v1/contacts/{contact['id']}", json={"first_name": "Bob"})

    only_contacts, _ = await _all_events(tenant, type="contact.*")
    assert {e["type"] for e in only_contacts} == {"contact.created", "contact.updated"}
    exact, _ = await _all_events(tenant, type="company.created,contact.updated")
    assert [e["type"] for e in exact] == ["company.created", "contact.updated"]
    by_object, _ = await _all_events(tenant, object_id=company["id"])
    assert [e["object_id"] for e in by_object] == [company["id"]]
    everything, _ = await _all_events(tenant, type="*")
    assert len(everything) == 3


async def test_polling_with_the_cursor_returns_only_new_events(tenant):
    await tenant.post("/v1/contacts", json={"first_name": "First"})
    _, cursor = await _all_events(tenant)
    empty = (await tenant.get("/v1/events", params={"after": cursor})).json()
    assert empty["data"] == [] and empty["next_cursor"] == cursor and empty["has_more"] is False
    await tenant.post("/v1/contacts", json={"first_name": "Second"})
    new = (await tenant.get("/v1/events", params={"after": cursor})).json()
    assert [e["data"]["object"]["first_name"] for e in new["data"]] == ["Second"]


async def test_rolled_back_writes_leave_no_event(tenant, owner_engine):
    await tenant.post("/v1/contacts", json={"first_name": "A", "email": "dup@ex.com"})
    conflict = await tenant.post("/v1/contacts", json={"first_name": "B", "email": "DUP@ex.com"})
    assert conflict.status_code == 409
    async with owner_engine.connect() as conn:
        count = (await conn.execute(text("SELECT count(*) FROM events WHERE tenant_id = :t"),
                                    {"t": tenant.id})).scalar_one()
    assert count == 1


async def test_feed_validation_scope_and_isolation(tenant, other_tenant):
    await other_tenant.post("/v1/contacts", json={"first_name": "Other"})
    assert (await tenant.get("/v1/events")).json()["data"] == []
    for bad in ({"after": "abc"}, {"type": "deal.*.won*"}, {"limit": 0}, {"object_id": "nope"}, {"bogus": 1}):
        response = await tenant.get("/v1/events", params=bad)
        assert response.status_code == 422, bad
        assert response.headers["content-type"] == "application/problem+json"
    reader = await tenant.with_scopes("contacts:read")
    assert (await reader.get("/v1/events")).status_code == 403
    assert (await tenant.client.get("/v1/events")).status_code == 401
    assert (await tenant.get("/v1/events", params={"object_id": str(uuid.uuid4())})).json()["data"] == []
