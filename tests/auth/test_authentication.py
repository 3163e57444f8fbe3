"""Who may call: 401 for missing, malformed, unknown, revoked and expired keys, and for keys of deleted users."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from crm_api.auth.keys import new_key
from tests.kit.rows import api_routes, assert_problem, execute


@pytest.mark.parametrize("authorization", [
    None,
    "",
    "Bearer",
    "Bearer ",
    "Token crm_abc",
    "Basic dXNlcjpwYXNz",
    "Bearer not-a-crm-key",
    "crm_abc",
])
async def test_missing_or_malformed_credentials_are_401(client, authorization):
    headers = {} if authorization is None else {"Authorization": authorization}
    body = assert_problem(await client.get("/v1/contacts", headers=headers), 401)
    assert body["type"].endswith(":unauthorized")


async def test_an_unknown_key_is_401(client, tenant):
    unknown = new_key()
    assert_problem(await client.get("/v1/contacts", headers={"Authorization": f"Bearer {unknown}"}), 401)
    # A known key with one character changed is unknown too.
    tampered = tenant.key[:-1] + ("A" if tenant.key[-1] != "A" else "B")
    assert_problem(await client.get("/v1/contacts", headers={"Authorization": f"Bearer {tampered}"}), 401)


async def test_every_authenticated_route_answers_401_without_a_key(client, app):
    checked = 0
    for route in api_routes(app):
        if not route.path.startswith("/v1/") or (route.openapi_extra or {}).get("security") == []:
            continue  # public routes (a calendar feed is authorized by the token in its path)
        path = re.sub(r"\{[a-z_]+\}", "01a00000-0000-7000-8000-000000000000", route.path)
        for method in route.methods:
            response = await client.request(method, path, json={} if method in ("POST", "PATCH") else None)
            assert response.status_code == 401, (method, route.path, response.status_code)
            checked += 1
    assert checked > 100  # every route of every resource, not none


async def test_a_revoked_key_is_401_at_once(tenant):
    created = await tenant.post("/v1/api-keys", json={"name": "soon revoked", "scopes": ["contacts:read"]})
    assert created.status_code == 201
    key = created.json()
    headers = {"Authorization": f"Bearer {key['api_key']}"}
    assert (await tenant.client.get("/v1/contacts", headers=headers)).status_code == 200

    assert (await tenant.delete(f"/v1/api-keys/{key['id']}")).status_code == 204
    assert_problem(await tenant.client.get("/v1/contacts", headers=headers), 401)
    # Revoking again changes nothing; the key stays revoked and visible only on request.
    assert (await tenant.delete(f"/v1/api-keys/{key['id']}")).status_code == 204
    listed = (await tenant.get("/v1/api-keys")).json()["data"]
    assert key["id"] not in {k["id"] for k in listed}
    revoked = (await tenant.get("/v1/api-keys?include_revoked=true")).json()["data"]
    assert next(k for k in revoked if k["id"] == key["id"])["revoked_at"] is not None
    assert (await tenant.get(f"/v1/api-keys/{key['id']}")).json()["revoked_at"] is not None


async def test_a_key_can_revoke_itself(tenant):
    created = (await tenant.post("/v1/api-keys", json={"name": "self", "scopes": ["admin"]})).json()
    headers = {"Authorization": f"Bearer {created['api_key']}"}
    assert (await tenant.client.delete(f"/v1/api-keys/{created['id']}", headers=headers)).status_code == 204
    assert_problem(await tenant.client.get("/v1/api-keys", headers=headers), 401)


async def test_an_expired_key_is_401(tenant, owner_engine):
    expires = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    created = await tenant.post("/v1/api-keys", json={"name": "short", "scopes": ["contacts:read"],
                                                      "expires_at": expires})
    assert created.status_code == 201, created.text
    key = created.json()
    headers = {"Authorization": f"Bearer {key['api_key']}"}
    assert (await tenant.client.get("/v1/contacts", headers=headers)).status_code == 200

    await execute(owner_engine, "UPDATE api_keys SET expires_at = now() - interval '1 second' "
                                "WHERE tenant_id = :t AND id = :id", t=tenant.id, id=key["id"])
    assert_problem(await tenant.client.get("/v1/contacts", headers=headers), 401)


async def test_a_key_cannot_be_created_already_expired(tenant):
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    response = await tenant.post("/v1/api-keys", json={"name": "old", "scopes": ["contacts:read"],
                                                       "expires_at": past})
    assert_problem(response, 422)
    assert {e["field"] for e in response.json()["errors"]} == {"expires_at"}
    # A time without an offset is ambiguous: 422, not a comparison error.
    naive = await tenant.post("/v1/api-keys", json={"name": "naive", "scopes": ["contacts:read"],
                                                    "expires_at": "2099-01-01T00:00:00"})
    assert_problem(naive, 422)
    assert {e["field"] for e in naive.json()["errors"]} == {"expires_at"}


async def test_a_key_of_a_deleted_user_is_401_until_the_user_is_restored(tenant):
    user = (await tenant.post("/v1/users", json={"email": "leaver@example.com", "name": "Leaver",
                                                 "role": "manager"})).json()
    keyed = await tenant.with_scopes("contacts:read", user_id=user["id"])
    assert (await keyed.get("/v1/contacts")).status_code == 200

    assert (await tenant.delete(f"/v1/users/{user['id']}")).status_code == 204
    assert_problem(await keyed.get("/v1/contacts"), 401)

    assert (await tenant.post(f"/v1/users/{user['id']}/restore")).status_code == 200
    assert (await keyed.get("/v1/contacts")).status_code == 200


async def test_changes_made_with_a_user_key_are_attributed_to_the_user(tenant, owner_engine):
    from tests.kit.rows import events_of

    user = (await tenant.post("/v1/users", json={"email": "actor@example.com", "name": "Actor"})).json()
    keyed = await tenant.with_scopes("contacts:write", user_id=user["id"])
    created = await keyed.post("/v1/contacts", json={"first_name": "By a user"})
    assert created.status_code == 201
    event = (await events_of(owner_engine, tenant.id))[-1]
    assert event["object_id"].hex == created.json()["id"].replace("-", "")
    assert event["actor"] == {"type": "user", "id": user["id"]}
