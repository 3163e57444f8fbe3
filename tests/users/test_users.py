"""/v1/users: create, list, get, patch, delete, restore; email unique per tenant; admin only."""

from __future__ import annotations

import uuid

from tests.kit.rows import assert_problem, error_fields, events_of


async def _create(tenant, email: str = "ann@example.com", **fields) -> dict:
    response = await tenant.post("/v1/users", json={"email": email, "name": "Ann", **fields})
    assert response.status_code == 201, response.text
    return response.json()


async def test_create_get_list(tenant):
    response = await tenant.post("/v1/users", json={"email": "ann@example.com", "name": "  Ann Lee ",
                                                    "role": "manager", "time_zone": "Europe/Berlin"})
    assert response.status_code == 201, response.text
    user = response.json()
    assert user["email"] == "ann@example.com"
    assert user["name"] == "Ann Lee"
    assert user["role"] == "manager"
    assert user["time_zone"] == "Europe/Berlin"
    assert user["version"] == 1
    assert response.headers["location"] == f"/v1/users/{user['id']}"

    fetched = await tenant.get(f"/v1/users/{user['id']}")
    assert fetched.json() == user
    assert fetched.headers["etag"] == '"1"'

    default = await _create(tenant, "bob@example.com")
    assert default["role"] == "member"
    assert default["time_zone"] is None

    listed = (await tenant.get("/v1/users")).json()
    assert [u["id"] for u in listed["data"]] == [default["id"], user["id"]]  # newest first
    assert listed["next_cursor"] is None
    managers = (await tenant.get("/v1/users?role=manager")).json()["data"]
    assert [u["id"] for u in managers] == [user["id"]]
    by_email = (await tenant.get("/v1/users?email=BOB@example.com")).json()["data"]
    assert [u["id"] for u in by_email] == [default["id"]]


async def test_patch_sets_given_fields_keeps_absent_and_clears_null(tenant, owner_engine):
    user = await _create(tenant, time_zone="Asia/Tokyo")
    patched = await tenant.patch(f"/v1/users/{user['id']}", json={"name": "Ann B", "time_zone": None})
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert body["name"] == "Ann B"
    assert body["time_zone"] is None
    assert body["email"] == user["email"]
    assert body["role"] == user["role"]
    assert body["version"] == 2
    assert patched.headers["etag"] == '"2"'
    event = (await events_of(owner_engine, tenant.id))[-1]
    assert event["type"] == "user.updated"
    assert event["previous"] == {"name": "Ann", "time_zone": "Asia/Tokyo"}


async def test_required_fields_cannot_be_cleared(tenant):
    user = await _create(tenant)
    for field in ("email", "name", "role"):
        response = await tenant.patch(f"/v1/users/{user['id']}", json={field: None})
        assert_problem(response, 422)
        assert field in error_fields(response)
    assert (await tenant.get(f"/v1/users/{user['id']}")).json()["version"] == 1


async def test_delete_and_restore(tenant):
    user = await _create(tenant)
    url = f"/v1/users/{user['id']}"
    assert (await tenant.delete(url)).status_code == 204
    assert_problem(await tenant.get(url), 404)
    assert_problem(await tenant.patch(url, json={"name": "X"}), 404)
    assert_problem(await tenant.delete(url), 404)
    assert user["id"] not in {u["id"] for u in (await tenant.get("/v1/users")).json()["data"]}

    restored = await tenant.post(f"{url}/restore")
    assert restored.status_code == 200, restored.text
    assert restored.json()["version"] == 3
    assert restored.headers["etag"] == '"3"'
    assert (await tenant.get(url)).status_code == 200
    # A live record is not in the trash.
    assert_problem(await tenant.post(f"{url}/restore"), 404)


async def test_email_is_unique_per_tenant_case_insensitively(tenant, other_tenant):
    first = await _create(tenant, "Dup@Example.com")
    clash = await tenant.post("/v1/users", json={"email": "dup@example.com", "name": "Other"})
    assert assert_problem(clash, 409)["existing_id"] == first["id"]
    # Another tenant may use the same address.
    assert (await other_tenant.post("/v1/users", json={"email": "dup@example.com", "name": "O"})).status_code == 201

    second = await _create(tenant, "second@example.com")
    moved = await tenant.patch(f"/v1/users/{second['id']}", json={"email": "DUP@example.com"})
    assert assert_problem(moved, 409)["existing_id"] == first["id"]
    assert (await tenant.get(f"/v1/users/{second['id']}")).json()["email"] == "second@example.com"


async def test_a_trashed_users_email_can_be_reused_and_blocks_its_restore(tenant):
    old = await _create(tenant, "reuse@example.com")
    assert (await tenant.delete(f"/v1/users/{old['id']}")).status_code == 204
    new = await _create(tenant, "reuse@example.com")
    restore = await tenant.post(f"/v1/users/{old['id']}/restore")
    assert assert_problem(restore, 409)["existing_id"] == new["id"]
    assert_problem(await tenant.get(f"/v1/users/{old['id']}"), 404)


async def test_invalid_input_is_422(tenant):
    cases = [
        ({"email": "a@example.com", "name": "A", "time_zone": "Mars/Olympus"}, "time_zone"),
        ({"email": "a@example.com", "name": "A", "time_zone": "utc+2"}, "time_zone"),
        ({"email": "not-an-email", "name": "A"}, "email"),
        ({"email": "a@example.com", "name": "A", "role": "owner"}, "role"),
        ({"email": "a@example.com", "name": "   "}, "name"),
        ({"email": "a@example.com"}, "name"),
        ({"email": "a@example.com", "name": "A", "password": "x"}, "password"),
    ]
    for body, field in cases:
        response = await tenant.post("/v1/users", json=body)
        assert_problem(response, 422)
        assert field in error_fields(response), (body, response.json())
    user = await _create(tenant)
    bad_zone = await tenant.patch(f"/v1/users/{user['id']}", json={"time_zone": "Nowhere/City"})
    assert_problem(bad_zone, 422)
    assert "time_zone" in error_fields(bad_zone)
    assert_problem(await tenant.get("/v1/users?role=owner"), 422)


async def test_another_tenants_user_is_404(tenant, other_tenant):
    theirs = await _create(other_tenant, "theirs@example.com")
    url = f"/v1/users/{theirs['id']}"
    assert_problem(await tenant.get(url), 404)
    assert_problem(await tenant.patch(url, json={"name": "Mine now"}), 404)
    assert_problem(await tenant.delete(url), 404)
    assert (await other_tenant.delete(url)).status_code == 204
    assert_problem(await tenant.post(f"{url}/restore"), 404)
    assert_problem(await tenant.get(f"/v1/users/{uuid.uuid4()}"), 404)
    assert (await other_tenant.get("/v1/users")).json()["data"] == []


async def test_users_need_admin(tenant):
    user = await _create(tenant)
    reader = await tenant.with_scopes("contacts:read", "contacts:write")
    assert_problem(await reader.get("/v1/users"), 403)
    assert_problem(await reader.get(f"/v1/users/{user['id']}"), 403)
    assert_problem(await reader.post("/v1/users", json={"email": "x@example.com", "name": "X"}), 403)
    assert_problem(await reader.patch(f"/v1/users/{user['id']}", json={"name": "X"}), 403)
    assert_problem(await reader.delete(f"/v1/users/{user['id']}"), 403)
    assert_problem(await reader.post(f"/v1/users/{user['id']}/restore"), 403)
    assert (await tenant.get(f"/v1/users/{user['id']}")).json()["name"] == "Ann"
