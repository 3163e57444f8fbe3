"""The outbox: one event per committed change, none for a rolled-back one, gap-free per-tenant sequences."""

from __future__ import annotations

import asyncio
import uuid

from crm_api.contacts.schemas import ContactCreate
from crm_api.contacts.service import ContactService
from crm_api.kit.db import make_sessionmaker
from crm_api.kit.uow import UnitOfWork
from tests.kit.rows import assert_problem, count_rows, events_of


async def _initial_key_id(tenant) -> str:
    keys = (await tenant.get("/v1/api-keys")).json()["data"]
    return next(k["id"] for k in keys if k["prefix"] == tenant.key[:12])


async def test_a_committed_create_writes_exactly_one_event(tenant, owner_engine):
    created = await tenant.post("/v1/contacts", json={"first_name": "Olive", "email": "olive@example.com"},
                                headers={"X-Request-Id": "outbox-create-1"})
    assert created.status_code == 201
    contact = created.json()

    events = await events_of(owner_engine, tenant.id)
    assert len(events) == 1
    event = events[0]
    assert event["type"] == "contact.created"
    assert event["object_type"] == "contact"
    assert event["object_id"] == uuid.UUID(contact["id"])
    assert event["sequence"] == 1
    assert event["actor"] == {"type": "api_key", "id": await _initial_key_id(tenant)}
    assert event["data"] == contact
    assert event["previous"] is None
    assert event["request_id"] == "outbox-create-1"


async def test_an_update_event_carries_the_previous_values_of_changed_fields(tenant, owner_engine):
    contact = (await tenant.post("/v1/contacts", json={"first_name": "Pia", "job_title": "CTO"})).json()
    updated = await tenant.patch(f"/v1/contacts/{contact['id']}", json={"job_title": "CEO", "first_name": "Pia"})
    assert updated.status_code == 200

    event = (await events_of(owner_engine, tenant.id))[-1]
    assert event["type"] == "contact.updated"
    assert event["data"] == updated.json()
    assert event["previous"] == {"job_title": "CTO"}
    # A PATCH that changes nothing is no event.
    same = await tenant.patch(f"/v1/contacts/{contact['id']}", json={"job_title": "CEO"})
    assert same.json()["version"] == 2
    assert len(await events_of(owner_engine, tenant.id)) == 2


async def test_a_request_that_fails_and_rolls_back_leaves_no_event(tenant, owner_engine):
    contact = (await tenant.post("/v1/contacts", json={"first_name": "Quinn", "email": "quinn@example.com"})).json()
    assert len(await events_of(owner_engine, tenant.id)) == 1

    duplicate = await tenant.post("/v1/contacts", json={"first_name": "Q", "email": "QUINN@example.com"})
    assert assert_problem(duplicate, 409)["existing_id"] == contact["id"]
    stale = await tenant.patch(f"/v1/contacts/{contact['id']}", json={"last_name": "Z"}, headers={"If-Match": '"7"'})
    assert_problem(stale, 412)
    invalid = await tenant.patch(f"/v1/contacts/{contact['id']}", json={"custom_fields": {"nope": 1}})
    assert_problem(invalid, 422)

    assert len(await events_of(owner_engine, tenant.id)) == 1
    assert await count_rows(owner_engine, "contacts", tenant.id) == 1


async def test_a_rolled_back_unit_of_work_leaves_no_event_a_committed_one_exactly_one(tenant, owner_engine):
    sessionmaker = make_sessionmaker(owner_engine)

    uow = UnitOfWork(sessionmaker)
    try:
        await uow.set_tenant(tenant.id)
        await ContactService(uow).create(ContactCreate(first_name="Ghost"))
        assert len(uow.outbox.pending) == 1
        await uow.rollback()
    finally:
        await uow.close()
    assert await count_rows(owner_engine, "contacts", tenant.id) == 0
    assert await events_of(owner_engine, tenant.id) == []

    # The context manager rolls back on an exception as well.
    try:
        async with UnitOfWork(sessionmaker) as uow:
            await uow.set_tenant(tenant.id)
            await ContactService(uow).create(ContactCreate(first_name="Ghost"))
            raise RuntimeError("abort")
    except RuntimeError:
        pass
    assert await count_rows(owner_engine, "contacts", tenant.id) == 0
    assert await events_of(owner_engine, tenant.id) == []

    async with UnitOfWork(sessionmaker) as uow:
        await uow.set_tenant(tenant.id)
        kept = await ContactService(uow).create(ContactCreate(first_name="Kept"))
    events = await events_of(owner_engine, tenant.id)
    assert [(e["type"], e["object_id"], e["sequence"]) for e in events] == [("contact.created", kept.id, 1)]
    assert events[0]["actor"] == {"type": "system", "id": None}
    assert await count_rows(owner_engine, "contacts", tenant.id) == 1


async def test_sequences_are_per_tenant_gap_free_and_increasing(tenant, other_tenant, owner_engine):
    a = (await tenant.post("/v1/contacts", json={"first_name": "A1", "email": "a1@example.com"})).json()
    await other_tenant.post("/v1/contacts", json={"first_name": "B1"})
    assert_problem(await tenant.post("/v1/contacts", json={"email": "a1@example.com"}), 409)  # no event
    await tenant.patch(f"/v1/contacts/{a['id']}", json={"last_name": "Smith"})
    await other_tenant.post("/v1/companies", json={"name": "B Corp"})
    await tenant.delete(f"/v1/contacts/{a['id']}")
    await tenant.post(f"/v1/contacts/{a['id']}/restore")
    await tenant.post("/v1/companies", json={"name": "A Corp"})

    mine = await events_of(owner_engine, tenant.id)
    assert [e["type"] for e in mine] == ["contact.created", "contact.updated", "contact.deleted",
                                         "contact.restored", "company.created"]
    assert [e["sequence"] for e in mine] == [1, 2, 3, 4, 5]
    assert [e["created_at"] for e in mine] == sorted(e["created_at"] for e in mine)
    theirs = await events_of(owner_engine, other_tenant.id)
    assert [e["sequence"] for e in theirs] == [1, 2]


async def test_concurrent_commits_get_gap_free_sequences(tenant, owner_engine):
    responses = await asyncio.gather(*[
        tenant.post("/v1/contacts", json={"first_name": f"Burst {i}"}) for i in range(15)])
    assert {r.status_code for r in responses} == {201}
    events = await events_of(owner_engine, tenant.id)
    assert [e["sequence"] for e in events] == list(range(1, 16))
    assert {str(e["object_id"]) for e in events} == {r.json()["id"] for r in responses}
