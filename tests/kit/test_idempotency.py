"""Idempotency-Key on POST: replay, another body, concurrency, tenancy, failures, expiry, scopes."""

from __future__ import annotations

import asyncio
import uuid

from tests.kit.rows import assert_problem, count_rows, error_fields, events_of, execute


def new_key() -> str:
    return f"idem-{uuid.uuid4()}"


async def test_a_repeat_replays_the_first_response_and_creates_nothing(tenant, owner_engine):
    key = new_key()
    # No email: a second real create would succeed, so only the replay keeps the count at one.
    body = {"first_name": "Ida", "tags": ["vip"]}
    first = await tenant.post("/v1/contacts", json=body, headers={"Idempotency-Key": key})
    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers

    second = await tenant.post("/v1/contacts", json=body, headers={"Idempotency-Key": key})
    assert second.status_code == 201
    assert second.headers["idempotent-replayed"] == "true"
    assert second.content == first.content
    assert second.json()["id"] == first.json()["id"]
    assert second.headers["location"] == first.headers["location"] == f"/v1/contacts/{first.json()['id']}"
    assert second.headers["etag"] == first.headers["etag"]
    assert second.headers["content-type"] == first.headers["content-type"]

    assert await count_rows(owner_engine, "contacts", tenant.id) == 1
    assert len(await events_of(owner_engine, tenant.id)) == 1


async def test_the_same_key_with_another_body_is_422_and_creates_nothing(tenant, owner_engine):
    key = new_key()
    first = await tenant.post("/v1/contacts", json={"first_name": "Ida"}, headers={"Idempotency-Key": key})
    assert first.status_code == 201
    other = await tenant.post("/v1/contacts", json={"first_name": "Ada"}, headers={"Idempotency-Key": key})
    assert_problem(other, 422)
    assert "Idempotency-Key" in error_fields(other)
    # The same body on another endpoint is another request too.
    elsewhere = await tenant.post("/v1/companies", json={"name": "Ida"}, headers={"Idempotency-Key": key})
    assert_problem(elsewhere, 422)
    assert await count_rows(owner_engine, "contacts", tenant.id) == 1
    assert await count_rows(owner_engine, "companies", tenant.id) == 0


async def test_fifty_concurrent_posts_with_one_key_create_one_contact(tenant, owner_engine):
    key = new_key()
    body = {"first_name": "Racer"}
    # Open pooled connections first: requests that must first connect would start one by one, and a
    # missing lock could then go unnoticed.
    await asyncio.gather(*[tenant.get("/v1/contacts") for _ in range(20)])
    responses = await asyncio.gather(*[
        tenant.post("/v1/contacts", json=body, headers={"Idempotency-Key": key}) for _ in range(50)])

    created = [r for r in responses if r.status_code == 201]
    in_flight = [r for r in responses if r.status_code == 409]
    assert len(created) + len(in_flight) == 50, sorted({r.status_code for r in responses})
    assert created, "one of the requests must have done the work"
    originals = [r for r in created if "idempotent-replayed" not in r.headers]
    assert len(originals) == 1
    assert {r.content for r in created} == {originals[0].content}
    for response in in_flight:
        assert assert_problem(response, 409)["type"].endswith(":idempotency-in-flight")

    assert await count_rows(owner_engine, "contacts", tenant.id) == 1
    listed = (await tenant.get("/v1/contacts")).json()["data"]
    assert [c["id"] for c in listed] == [originals[0].json()["id"]]


async def test_keys_are_per_tenant(tenant, other_tenant, owner_engine):
    key = new_key()
    body = {"first_name": "Shared"}
    mine = await tenant.post("/v1/contacts", json=body, headers={"Idempotency-Key": key})
    theirs = await other_tenant.post("/v1/contacts", json=body, headers={"Idempotency-Key": key})
    assert mine.status_code == theirs.status_code == 201
    assert "idempotent-replayed" not in theirs.headers
    assert mine.json()["id"] != theirs.json()["id"]
    assert await count_rows(owner_engine, "contacts", tenant.id) == 1
    assert await count_rows(owner_engine, "contacts", other_tenant.id) == 1
    # Each tenant still replays its own.
    again = await other_tenant.post("/v1/contacts", json=body, headers={"Idempotency-Key": key})
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["id"] == theirs.json()["id"]


async def test_a_failed_request_does_not_burn_the_key(tenant, owner_engine):
    key = new_key()
    headers = {"Idempotency-Key": key}
    invalid_body = await tenant.post("/v1/contacts", json={"email": "not an email"}, headers=headers)
    assert_problem(invalid_body, 422)
    rule_broken = await tenant.post("/v1/contacts", json={"job_title": "Nameless"}, headers=headers)
    assert_problem(rule_broken, 422)
    await tenant.post("/v1/contacts", json={"first_name": "Taken", "email": "taken@example.com"})
    duplicate = await tenant.post("/v1/contacts", json={"email": "taken@example.com"}, headers=headers)
    assert_problem(duplicate, 409)
    assert await count_rows(owner_engine, "idempotency_keys", tenant.id) == 0

    ok = await tenant.post("/v1/contacts", json={"first_name": "Finally"}, headers=headers)
    assert ok.status_code == 201, ok.text
    assert "idempotent-replayed" not in ok.headers
    replay = await tenant.post("/v1/contacts", json={"first_name": "Finally"}, headers=headers)
    assert replay.headers["idempotent-replayed"] == "true"
    assert await count_rows(owner_engine, "contacts", tenant.id) == 2


async def test_an_expired_key_is_a_new_request(tenant, owner_engine):
    key = new_key()
    body = {"first_name": "Twice"}
    first = await tenant.post("/v1/contacts", json=body, headers={"Idempotency-Key": key})
    await execute(owner_engine, "UPDATE idempotency_keys SET expires_at = now() - interval '1 second' "
                                "WHERE tenant_id = :t AND key = :k", t=tenant.id, k=key)
    second = await tenant.post("/v1/contacts", json=body, headers={"Idempotency-Key": key})
    assert second.status_code == 201
    assert "idempotent-replayed" not in second.headers
    assert second.json()["id"] != first.json()["id"]
    # The stored response is now the second one.
    third = await tenant.post("/v1/contacts", json=body, headers={"Idempotency-Key": key})
    assert third.json()["id"] == second.json()["id"]
    assert await count_rows(owner_engine, "contacts", tenant.id) == 2


async def test_a_key_longer_than_255_characters_is_422(tenant, owner_engine):
    response = await tenant.post("/v1/contacts", json={"first_name": "Long"}, headers={"Idempotency-Key": "k" * 256})
    assert_problem(response, 422)
    assert "Idempotency-Key" in error_fields(response)
    assert await count_rows(owner_engine, "contacts", tenant.id) == 0


async def test_a_replay_needs_the_scope_of_the_endpoint(tenant):
    """A key without the write scope must not obtain a stored response by repeating someone's key."""
    key = new_key()
    body = {"first_name": "Secret"}
    first = await tenant.post("/v1/contacts", json=body, headers={"Idempotency-Key": key})
    assert first.status_code == 201
    reader = await tenant.with_scopes("contacts:read")
    replay = await reader.post("/v1/contacts", json=body, headers={"Idempotency-Key": key})
    assert_problem(replay, 403)
    assert "idempotent-replayed" not in replay.headers


async def test_stored_responses_are_encrypted_at_rest(tenant, owner_engine):
    """A replayable response may hold a secret shown once (here a new API key): never stored in clear."""
    from sqlalchemy import text

    created = await tenant.post("/v1/api-keys", json={"name": "ci", "scopes": ["contacts:read"]},
                                headers={"Idempotency-Key": "mint-once"})
    secret = created.json()["api_key"]
    async with owner_engine.connect() as conn:
        stored = bytes((await conn.execute(text(
            "SELECT response_body FROM idempotency_keys WHERE tenant_id = :t AND key = 'mint-once'"),
            {"t": tenant.id})).scalar_one())
    assert secret.encode() not in stored and b"api_key" not in stored
    replay = await tenant.post("/v1/api-keys", json={"name": "ci", "scopes": ["contacts:read"]},
                               headers={"Idempotency-Key": "mint-once"})
    assert replay.json()["api_key"] == secret and replay.headers["idempotent-replayed"] == "true"
