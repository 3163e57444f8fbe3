"""Trash purge: records trashed longer than the retention go for good; recent and live ones stay."""

from __future__ import annotations

from crm_api.maintenance.jobs import purge_tenant, purge_trash
from tests.kit.rows import assert_problem, count_rows, execute

RETENTION_DAYS = 30


async def _backdate(owner_engine, table: str, record_id: str, days: float) -> None:
    await execute(owner_engine, f"UPDATE {table} SET deleted_at = now() - make_interval(secs => :s) "
                                "WHERE id = :id", s=days * 86400, id=record_id)


async def _trashed(tenant, resource: str, body: dict) -> str:
    created = await tenant.post(f"/v1/{resource}", json=body)
    assert created.status_code == 201, created.text
    record_id = created.json()["id"]
    assert (await tenant.delete(f"/v1/{resource}/{record_id}")).status_code == 204
    return record_id


def _ctx(app) -> dict:
    """What the worker gives a job: the application's sessionmaker (the app role, under RLS)."""
    return {"sessionmaker": app.state.sessionmaker, "settings": app.state.settings}


async def test_purge_tenant_deletes_only_what_is_past_the_retention(app, tenant, owner_engine):
    old = await _trashed(tenant, "contacts", {"first_name": "Old"})
    recent = await _trashed(tenant, "contacts", {"first_name": "Recent"})
    live = (await tenant.post("/v1/contacts", json={"first_name": "Live"})).json()["id"]
    old_company = await _trashed(tenant, "companies", {"name": "Old Co"})
    old_field = await _trashed(tenant, "custom-fields", {"object_type": "contact", "key": "old", "label": "Old",
                                                         "type": "text"})
    old_user = await _trashed(tenant, "users", {"email": "old@example.com", "name": "Old"})
    await _backdate(owner_engine, "contacts", old, RETENTION_DAYS + 1)
    await _backdate(owner_engine, "contacts", recent, RETENTION_DAYS - 1)
    for table, record_id in (("companies", old_company), ("custom_fields", old_field), ("users", old_user)):
        await _backdate(owner_engine, table, record_id, RETENTION_DAYS + 0.01)

    assert await purge_tenant(_ctx(app), tenant.id) == 4

    remaining = await count_rows(owner_engine, "contacts", tenant.id, "id = ANY(CAST(:ids AS uuid[]))",
                                 ids=[old, recent, live])
    assert remaining == 2
    assert await count_rows(owner_engine, "contacts", tenant.id, "id = CAST(:id AS uuid)", id=old) == 0
    for table in ("companies", "custom_fields", "users"):
        assert await count_rows(owner_engine, table, tenant.id) == 0, table
    assert (await tenant.get(f"/v1/contacts/{live}")).status_code == 200
    # The recent one can still come back; the purged one cannot.
    assert (await tenant.post(f"/v1/contacts/{recent}/restore")).status_code == 200
    assert_problem(await tenant.post(f"/v1/contacts/{old}/restore"), 404)
    assert_problem(await tenant.post(f"/v1/companies/{old_company}/restore"), 404)
    # A second run finds nothing more.
    assert await purge_tenant(_ctx(app), tenant.id) == 0


async def test_a_record_past_the_retention_cannot_be_restored_even_before_the_purge(tenant, owner_engine):
    expired = await _trashed(tenant, "contacts", {"first_name": "Late"})
    await _backdate(owner_engine, "contacts", expired, RETENTION_DAYS + 0.01)
    assert_problem(await tenant.post(f"/v1/contacts/{expired}/restore"), 404)
    assert await count_rows(owner_engine, "contacts", tenant.id) == 1


async def test_purge_trash_visits_every_tenant_and_keeps_other_tenants_recent_trash(app, tenant, other_tenant,
                                                                                    owner_engine):
    mine = await _trashed(tenant, "contacts", {"first_name": "Mine"})
    theirs_old = await _trashed(other_tenant, "contacts", {"first_name": "Theirs old"})
    theirs_recent = await _trashed(other_tenant, "contacts", {"first_name": "Theirs recent"})
    await _backdate(owner_engine, "contacts", mine, RETENTION_DAYS + 2)
    await _backdate(owner_engine, "contacts", theirs_old, RETENTION_DAYS + 2)

    assert await purge_trash(_ctx(app)) >= 2

    assert await count_rows(owner_engine, "contacts", tenant.id) == 0
    assert await count_rows(owner_engine, "contacts", other_tenant.id) == 1
    assert (await other_tenant.post(f"/v1/contacts/{theirs_recent}/restore")).status_code == 200


async def test_purge_removes_expired_idempotency_keys_only(app, tenant, owner_engine):
    for key in ("expired", "fresh"):
        response = await tenant.post("/v1/contacts", json={"first_name": key}, headers={"Idempotency-Key": key})
        assert response.status_code == 201
    await execute(owner_engine, "UPDATE idempotency_keys SET expires_at = now() - interval '1 minute' "
                                "WHERE tenant_id = :t AND key = 'expired'", t=tenant.id)
    await purge_tenant(_ctx(app), tenant.id)
    async with owner_engine.connect() as conn:
        from sqlalchemy import text

        keys = (await conn.execute(text("SELECT key FROM idempotency_keys WHERE tenant_id = :t"),
                                   {"t": tenant.id})).scalars().all()
    assert keys == ["fresh"]


async def test_a_purged_users_keys_do_not_become_keys_of_the_whole_tenant(app, tenant, owner_engine):
    """A `*` key acting for a member is capped by the member's role; purging the user must not lift the cap."""
    member = (await tenant.post("/v1/users", json={"email": "gone@example.com", "name": "Gone"})).json()
    keyed = await tenant.with_scopes("*", user_id=member["id"])
    assert_problem(await keyed.get("/v1/users"), 403)
    assert (await tenant.delete(f"/v1/users/{member['id']}")).status_code == 204
    assert_problem(await keyed.get("/v1/contacts"), 401)

    await _backdate(owner_engine, "users", member["id"], RETENTION_DAYS + 1)
    assert await purge_tenant(_ctx(app), tenant.id) == 1

    assert_problem(await keyed.get("/v1/users"), 401)
    assert_problem(await keyed.get("/v1/contacts"), 401)
    # The database deletes a user's keys with the user (ON DELETE CASCADE), whoever deletes the user.
    keys = (await tenant.get("/v1/api-keys?include_revoked=true")).json()["data"]
    assert keyed.key[:12] not in [k["prefix"] for k in keys]


async def test_deleting_a_user_row_deletes_its_keys_in_the_database(tenant, owner_engine):
    """Not only the purge job: any deletion of a user takes its keys along (no uncapped leftovers)."""
    from sqlalchemy import text

    member = (await tenant.post("/v1/users", json={"email": "row@example.com", "name": "Row"})).json()
    keyed = await tenant.with_scopes("*", user_id=member["id"])
    async with owner_engine.begin() as conn:
        await conn.execute(text("DELETE FROM users WHERE id = :u"), {"u": member["id"]})
        left = (await conn.execute(text("SELECT count(*) FROM api_keys WHERE user_id = :u OR "
                                        "(tenant_id = :t AND user_id IS NULL AND name = 'scoped')"),
                                   {"u": member["id"], "t": tenant.id})).scalar_one()
    assert left == 0
    assert_problem(await keyed.get("/v1/contacts"), 401)
