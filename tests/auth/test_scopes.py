"""Scopes: a key's scopes gate each endpoint; a key acting for a user is capped by the user's role."""

from __future__ import annotations

from tests.kit.rows import assert_problem


async def _user(tenant, role: str) -> dict:
    response = await tenant.post("/v1/users", json={"email": f"{role}@example.com", "name": role.title(),
                                                    "role": role})
    assert response.status_code == 201, response.text
    return response.json()


async def test_read_and_write_scopes_are_separate(tenant):
    reader = await tenant.with_scopes("contacts:read")
    writer = await tenant.with_scopes("contacts:write")
    assert (await reader.get("/v1/contacts")).status_code == 200
    assert_problem(await reader.post("/v1/contacts", json={"first_name": "R"}), 403)
    created = await writer.post("/v1/contacts", json={"first_name": "W"})
    assert created.status_code == 201
    assert_problem(await writer.get("/v1/contacts"), 403)
    assert_problem(await writer.get(f"/v1/contacts/{created.json()['id']}"), 403)
    assert_problem(await reader.delete(f"/v1/contacts/{created.json()['id']}"), 403)
    # A scope of one resource grants nothing on another.
    assert_problem(await reader.get("/v1/companies"), 403)


async def test_a_star_key_of_a_member_is_capped_by_the_role(tenant):
    member = await _user(tenant, "member")
    keyed = await tenant.with_scopes("*", user_id=member["id"])
    assert (await keyed.get("/v1/contacts")).status_code == 200
    assert (await keyed.post("/v1/contacts", json={"first_name": "By member"})).status_code == 201
    assert (await keyed.get("/v1/custom-fields")).status_code == 200
    assert_problem(await keyed.get("/v1/users"), 403)
    assert_problem(await keyed.patch(f"/v1/users/{member['id']}", json={"role": "admin"}), 403)
    assert_problem(await keyed.get("/v1/api-keys"), 403)
    assert_problem(await keyed.post("/v1/custom-fields", json={"object_type": "contact", "key": "k",
                                                               "label": "K", "type": "text"}), 403)


async def test_a_manager_may_define_custom_fields_but_not_manage_users(tenant):
    manager = await _user(tenant, "manager")
    keyed = await tenant.with_scopes("*", user_id=manager["id"])
    created = await keyed.post("/v1/custom-fields", json={"object_type": "contact", "key": "tier",
                                                          "label": "Tier", "type": "text"})
    assert created.status_code == 201, created.text
    assert_problem(await keyed.get("/v1/users"), 403)


async def test_an_admin_users_key_keeps_its_scopes(tenant):
    admin = await _user(tenant, "admin")
    keyed = await tenant.with_scopes("*", user_id=admin["id"])
    assert (await keyed.get("/v1/users")).status_code == 200
    narrow = await tenant.with_scopes("contacts:read", user_id=admin["id"])
    assert_problem(await narrow.get("/v1/users"), 403)


async def test_the_cap_follows_role_changes(tenant):
    user = await _user(tenant, "member")
    keyed = await tenant.with_scopes("*", user_id=user["id"])
    assert_problem(await keyed.get("/v1/users"), 403)
    assert (await tenant.patch(f"/v1/users/{user['id']}", json={"role": "admin"})).status_code == 200
    assert (await keyed.get("/v1/users")).status_code == 200
    assert (await tenant.patch(f"/v1/users/{user['id']}", json={"role": "member"})).status_code == 200
    assert_problem(await keyed.get("/v1/users"), 403)


async def test_users_need_the_admin_scope(tenant):
    user = await _user(tenant, "member")
    nearly = await tenant.with_scopes("contacts:read", "contacts:write", "companies:read", "companies:write",
                                      "custom_fields:read", "custom_fields:write")
    assert_problem(await nearly.get("/v1/users"), 403)
    assert_problem(await nearly.get(f"/v1/users/{user['id']}"), 403)
    assert_problem(await nearly.post("/v1/users", json={"email": "x@example.com", "name": "X"}), 403)
    assert_problem(await nearly.patch(f"/v1/users/{user['id']}", json={"name": "Y"}), 403)
    assert_problem(await nearly.delete(f"/v1/users/{user['id']}"), 403)
    admin_only = await tenant.with_scopes("admin")
    assert (await admin_only.get("/v1/users")).status_code == 200
    assert_problem(await admin_only.get("/v1/contacts"), 403)
