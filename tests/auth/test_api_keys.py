"""/v1/api-keys: the secret is shown once and stored only as a hash; admin only; tenant-scoped."""

from __future__ import annotations

import hashlib
import uuid

from sqlalchemy import text

from tests.kit.rows import assert_problem, error_fields


async def test_create_shows_the_secret_once_and_never_again(tenant):
    response = await tenant.post("/v1/api-keys", json={"name": "integration", "scopes": ["contacts:read"]})
    assert response.status_code == 201, response.text
    created = response.json()
    secret = created["api_key"]
    assert secret.startswith("crm_") and len(secret) >= 40
    assert created["prefix"] == secret[:12]
    assert created["scopes"] == ["contacts:read"]
    assert response.headers["location"] == f"/v1/api-keys/{created['id']}"

    fetched = await tenant.get(f"/v1/api-keys/{created['id']}")
    assert fetched.status_code == 200
    assert "api_key" not in fetched.json()
    assert secret not in fetched.text
    assert fetched.json() == {k: v for k, v in created.items() if k != "api_key"}

    listed = await tenant.get("/v1/api-keys")
    assert created["id"] in {k["id"] for k in listed.json()["data"]}
    assert all("api_key" not in k for k in listed.json()["data"])
    assert secret not in listed.text


async def test_only_a_hash_of_the_key_is_stored(tenant, owner_engine):
    created = (await tenant.post("/v1/api-keys", json={"name": "hashed", "scopes": ["contacts:read"]})).json()
    secret = created["api_key"]
    async with owner_engine.connect() as conn:
        row = (await conn.execute(text("SELECT key_hash, prefix, name FROM api_keys WHERE tenant_id = :t AND id = :id"),
                                  {"t": tenant.id, "id": created["id"]})).one()
    stored = bytes(row.key_hash)
    assert stored != secret.encode()
    assert secret.encode() not in stored
    assert stored == hashlib.sha256(secret.encode()).digest()
    assert row.prefix == secret[:12]


async def test_two_keys_never_share_a_secret(tenant):
    first = (await tenant.post("/v1/api-keys", json={"name": "a", "scopes": ["contacts:read"]})).json()
    second = (await tenant.post("/v1/api-keys", json={"name": "a", "scopes": ["contacts:read"]})).json()
    assert first["api_key"] != second["api_key"]
    assert first["id"] != second["id"]


async def test_an_unknown_scope_is_422(tenant):
    for scopes in (["contacts:read", "contacts:delete"], ["deals:read:all"], ["ADMIN"], []):
        response = await tenant.post("/v1/api-keys", json={"name": "bad", "scopes": scopes})
        assert_problem(response, 422)
        assert "scopes" in error_fields(response)


async def test_a_non_star_admin_key_cannot_mint_scopes_it_lacks(tenant):
    admin = await tenant.with_scopes("admin", "contacts:read")
    assert_problem(await admin.post("/v1/api-keys", json={"name": "more", "scopes": ["contacts:write"]}), 403)
    assert_problem(await admin.post("/v1/api-keys", json={"name": "all", "scopes": ["*"]}), 403)
    allowed = await admin.post("/v1/api-keys", json={"name": "less", "scopes": ["contacts:read"]})
    assert allowed.status_code == 201, allowed.text
    also = await admin.post("/v1/api-keys", json={"name": "same", "scopes": ["admin", "contacts:read"]})
    assert also.status_code == 201, also.text


async def test_a_star_key_may_mint_any_scope(tenant):
    response = await tenant.post("/v1/api-keys", json={"name": "root", "scopes": ["*"]})
    assert response.status_code == 201
    assert response.json()["scopes"] == ["*"]


async def test_api_keys_need_the_admin_scope(tenant):
    worker = await tenant.with_scopes("contacts:read", "contacts:write", "custom_fields:write")
    some_id = (await tenant.get("/v1/api-keys")).json()["data"][0]["id"]
    assert_problem(await worker.get("/v1/api-keys"), 403)
    assert_problem(await worker.get(f"/v1/api-keys/{some_id}"), 403)
    assert_problem(await worker.post("/v1/api-keys", json={"name": "x", "scopes": ["contacts:read"]}), 403)
    assert_problem(await worker.delete(f"/v1/api-keys/{some_id}"), 403)
    # The key it tried to revoke still works.
    assert (await tenant.get("/v1/api-keys")).status_code == 200


async def test_another_tenants_key_is_404(tenant, other_tenant):
    theirs = (await other_tenant.post("/v1/api-keys", json={"name": "theirs", "scopes": ["contacts:read"]})).json()
    assert_problem(await tenant.get(f"/v1/api-keys/{theirs['id']}"), 404)
    assert_problem(await tenant.delete(f"/v1/api-keys/{theirs['id']}"), 404)
    assert_problem(await tenant.get(f"/v1/api-keys/{uuid.uuid4()}"), 404)
    assert theirs["id"] not in {k["id"] for k in (await tenant.get("/v1/api-keys")).json()["data"]}
    headers = {"Authorization": f"Bearer {theirs['api_key']}"}
    assert (await tenant.client.get("/v1/contacts", headers=headers)).status_code == 200


async def test_a_key_for_a_user_of_another_tenant_is_422(tenant, other_tenant):
    stranger = (await other_tenant.post("/v1/users", json={"email": "s@example.com", "name": "S"})).json()
    response = await tenant.post("/v1/api-keys", json={"name": "x", "scopes": ["contacts:read"],
                                                       "user_id": stranger["id"]})
    assert_problem(response, 422)
    assert "user_id" in error_fields(response)


async def test_a_key_sees_only_its_own_tenants_records(tenant, other_tenant):
    theirs = (await other_tenant.post("/v1/contacts", json={"first_name": "Theirs"})).json()
    mine = (await tenant.post("/v1/contacts", json={"first_name": "Mine"})).json()
    listed = (await tenant.get("/v1/contacts")).json()["data"]
    assert [c["id"] for c in listed] == [mine["id"]]
    assert_problem(await tenant.get(f"/v1/contacts/{theirs['id']}"), 404)
    assert_problem(await tenant.patch(f"/v1/contacts/{theirs['id']}", json={"first_name": "X"}), 404)
    assert_problem(await tenant.delete(f"/v1/contacts/{theirs['id']}"), 404)
    assert (await other_tenant.get(f"/v1/contacts/{theirs['id']}")).json()["first_name"] == "Theirs"


async def test_key_events_never_carry_the_secret(tenant, owner_engine):
    from tests.kit.rows import events_of

    created = (await tenant.post("/v1/api-keys", json={"name": "evented", "scopes": ["contacts:read"]})).json()
    assert (await tenant.delete(f"/v1/api-keys/{created['id']}")).status_code == 204
    events = [e for e in await events_of(owner_engine, tenant.id) if e["object_type"] == "api_key"]
    assert [e["type"] for e in events] == ["api_key.created", "api_key.revoked"]
    for event in events:
        assert str(event["object_id"]) == created["id"]
        assert "api_key" not in event["data"]
        assert created["api_key"] not in str(event["data"])
        assert created["api_key"][4:] not in str(event["data"])
    assert events[1]["data"]["revoked_at"] is not None
