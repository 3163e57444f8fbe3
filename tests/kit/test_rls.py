"""Row-level security: every tenant table has it (ENABLE + FORCE + policy), and it really isolates tenants."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from crm_api.kit.db import app_database_url


@pytest_asyncio.fixture
async def app_engine(settings, database_url) -> AsyncIterator[AsyncEngine]:
    """A connection as the application role, the one the API uses."""
    engine = create_async_engine(app_database_url(settings, database_url))
    yield engine
    await engine.dispose()


async def _tenant_tables(conn) -> set[str]:
    rows = await conn.execute(text("""
        SELECT c.relname FROM pg_attribute a
        JOIN pg_class c ON c.oid = a.attrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND a.attname = 'tenant_id' AND NOT a.attisdropped
          AND c.relkind IN ('r', 'p')"""))
    return {r[0] for r in rows} | {"tenants"}


async def test_every_tenant_table_has_rls_enabled_forced_and_a_tenant_policy(owner_engine, settings):
    async with owner_engine.connect() as conn:
        tables = await _tenant_tables(conn)
        assert {"tenants", "users", "api_keys", "events", "contacts"} <= tables
        flags = {r.relname: (r.relrowsecurity, r.relforcerowsecurity) for r in await conn.execute(text(
            "SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND relkind IN ('r', 'p')"))}
        policies = (await conn.execute(text(
            "SELECT tablename, policyname, permissive, roles, cmd, qual FROM pg_policies "
            "WHERE schemaname = 'public'"))).all()

    missing = []
    for table in sorted(tables):
        enabled, forced = flags[table]
        column = "id" if table == "tenants" else "tenant_id"
        isolating = [p for p in policies if p.tablename == table and p.cmd == "ALL"
                     and "crm_current_tenant()" in (p.qual or "") and column in (p.qual or "")]
        if not (enabled and forced and isolating):
            missing.append(f"{table}: enabled={enabled} forced={forced} tenant policies={len(isolating)}")
    assert not missing, "tables without ENABLE + FORCE ROW LEVEL SECURITY and a tenant policy:\n" + "\n".join(missing)

    # No policy that lets everything through may apply to the application (or to everyone).
    app_role = settings.app_db_role
    open_to_app = [f"{p.tablename}.{p.policyname}" for p in policies
                   if p.permissive == "PERMISSIVE" and (p.qual or "").strip("() ") == "true"
                   and ({"public", app_role} & set(p.roles))]
    assert not open_to_app, f"policies that show every tenant to {app_role}: {open_to_app}"


async def test_every_table_but_tenants_belongs_to_a_tenant(owner_engine):
    """Business tables carry tenant_id (DESIGN.md): a table without it would escape the RLS check above."""
    async with owner_engine.connect() as conn:
        tables = set((await conn.execute(text(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')"))).scalars())
        tenant_tables = await _tenant_tables(conn)
    assert tables - tenant_tables == {"alembic_version"}


async def test_the_app_role_is_no_superuser_cannot_bypass_rls_and_owns_no_table(owner_engine, settings):
    role = settings.app_db_role
    async with owner_engine.connect() as conn:
        row = (await conn.execute(text("SELECT rolsuper, rolbypassrls, oid FROM pg_roles WHERE rolname = :r"),
                                  {"r": role})).one()
        assert row.rolsuper is False
        assert row.rolbypassrls is False
        owned = (await conn.execute(text(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relowner = :oid AND n.nspname NOT IN ('pg_catalog', 'information_schema')"),
            {"oid": row.oid})).scalars().all()
        assert owned == []
        # Nor is it a member of a role that owns tables or bypasses RLS.
        inherited = (await conn.execute(text(
            "SELECT r.rolname FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid "
            "WHERE m.member = :oid AND (r.rolsuper OR r.rolbypassrls OR EXISTS "
            "(SELECT 1 FROM pg_class c WHERE c.relowner = r.oid))"), {"oid": row.oid})).scalars().all()
        assert inherited == []


async def test_the_api_connects_as_the_app_role(app, settings):
    async with app.state.engine.connect() as conn:
        assert (await conn.execute(text("SELECT current_user"))).scalar_one() == settings.app_db_role


async def test_rls_hides_other_tenants_rows_without_any_where_clause(tenant, other_tenant, app_engine):
    mine = (await tenant.post("/v1/contacts", json={"first_name": "Mine"})).json()
    theirs = (await other_tenant.post("/v1/contacts", json={"first_name": "Theirs"})).json()

    async with app_engine.connect() as conn, conn.begin():
        await conn.execute(text("SELECT set_config('app.tenant_id', :t, true)"), {"t": str(tenant.id)})
        rows = (await conn.execute(text("SELECT id::text, tenant_id FROM contacts"))).all()
        assert [r.id for r in rows] == [mine["id"]]
        assert {r.tenant_id for r in rows} == {tenant.id}
        by_id = await conn.execute(text("SELECT count(*) FROM contacts WHERE id = :id"), {"id": theirs["id"]})
        assert by_id.scalar_one() == 0
        assert (await conn.execute(text("SELECT id FROM tenants"))).scalars().all() == [tenant.id]
        assert {r for r in (await conn.execute(text("SELECT DISTINCT tenant_id FROM events"))).scalars()} == {
            tenant.id}
        assert {r for r in (await conn.execute(text("SELECT DISTINCT tenant_id FROM api_keys"))).scalars()} == {
            tenant.id}
        # Updates and deletes cannot reach the other tenant's row either.
        changed = await conn.execute(text("UPDATE contacts SET first_name = 'Hacked' WHERE id = :id"),
                                     {"id": theirs["id"]})
        assert changed.rowcount == 0
        await conn.rollback()

    assert (await other_tenant.get(f"/v1/contacts/{theirs['id']}")).json()["first_name"] == "Theirs"


async def test_rls_refuses_writing_a_row_for_another_tenant(tenant, other_tenant, app_engine):
    async with app_engine.connect() as conn:
        await conn.begin()
        await conn.execute(text("SELECT set_config('app.tenant_id', :t, true)"), {"t": str(tenant.id)})
        with pytest.raises(DBAPIError, match="row-level security"):
            await conn.execute(text(
                "INSERT INTO contacts (tenant_id, id, first_name) VALUES (:t, gen_random_uuid(), 'Intruder')"),
                {"t": other_tenant.id})
        await conn.rollback()


async def test_with_no_tenant_set_no_rows_are_visible(tenant, app_engine):
    await tenant.post("/v1/contacts", json={"first_name": "Hidden"})
    async with app_engine.connect() as conn:
        for table in ("contacts", "tenants", "api_keys", "events", "users", "companies", "custom_fields",
                      "idempotency_keys"):
            count = (await conn.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one()
            assert count == 0, table
        await conn.commit()
        # A tenant set in an earlier transaction does not leak into the next one.
        async with conn.begin():
            await conn.execute(text("SELECT set_config('app.tenant_id', :t, true)"), {"t": str(tenant.id)})
            assert (await conn.execute(text("SELECT count(*) FROM contacts"))).scalar_one() == 1
        assert (await conn.execute(text("SELECT count(*) FROM contacts"))).scalar_one() == 0
        await conn.rollback()
