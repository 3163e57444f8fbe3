"""Events are kept `events_retention_days`, then purged; never one an enabled webhook endpoint has yet to handle."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from crm_api.maintenance.jobs import purge_tenant
from tests.kit.rows import execute

RETENTION_DAYS = 30  # the default setting
HOOK = "http://127.0.0.1:9/hook"  # never called: these tests only move the endpoints' cursors


def _ctx(app: Any, **settings: Any) -> dict[str, Any]:
    """What the worker gives a job: the app role's sessionmaker (under RLS) and the settings."""
    return {"sessionmaker": app.state.sessionmaker, "settings": app.state.settings.model_copy(update=settings)}


async def _sequences(owner_engine: Any, tenant_id: Any) -> list[int]:
    async with owner_engine.connect() as conn:
        return list((await conn.execute(text("SELECT sequence FROM events WHERE tenant_id = :t ORDER BY sequence"),
                                        {"t": tenant_id})).scalars())


async def _age(owner_engine: Any, tenant_id: Any, days: float, sequences: list[int] | None = None) -> None:
    """Make events `days` old (all of the tenant's, or those with the given sequences)."""
    only = "" if sequences is None else " AND sequence = ANY(CAST(:s AS bigint[]))"
    await execute(owner_engine, "UPDATE events SET created_at = now() - make_interval(secs => :d) "
                                f"WHERE tenant_id = :t{only}", d=days * 86400, t=tenant_id, s=sequences)


async def _contacts(tenant: Any, count: int) -> list[int]:
    """Create contacts; the sequence of each one's event."""
    sequences = []
    for i in range(count):
        assert (await tenant.post("/v1/contacts", json={"first_name": f"E{i}"})).status_code == 201
        feed = (await tenant.get("/v1/events", params={"type": "contact.created", "limit": 200})).json()["data"]
        sequences.append(feed[-1]["sequence"])
    return sequences


async def _endpoint(tenant: Any) -> dict[str, Any]:
    response = await tenant.post("/v1/webhook-endpoints", json={"url": HOOK})
    assert response.status_code == 201, response.text
    return response.json()


async def _handled_through(owner_engine: Any, endpoint: dict[str, Any], sequence: int) -> None:
    """As if the endpoint had been delivered everything up to `sequence`."""
    await execute(owner_engine, "UPDATE webhook_endpoints SET cursor_sequence = :s WHERE id = :i",
                  s=sequence, i=endpoint["id"])


async def test_events_past_the_retention_are_purged_and_the_rest_kept(app, tenant, owner_engine):
    old, older, recent, fresh = await _contacts(tenant, 4)
    await _age(owner_engine, tenant.id, RETENTION_DAYS + 1, [old])
    await _age(owner_engine, tenant.id, RETENTION_DAYS + 200, [older])
    await _age(owner_engine, tenant.id, RETENTION_DAYS - 0.01, [recent])

    await purge_tenant(_ctx(app), tenant.id)

    assert await _sequences(owner_engine, tenant.id) == [recent, fresh]
    feed = (await tenant.get("/v1/events")).json()["data"]
    assert [e["sequence"] for e in feed] == [recent, fresh]
    await purge_tenant(_ctx(app), tenant.id)
    assert await _sequences(owner_engine, tenant.id) == [recent, fresh]


async def test_the_retention_is_a_setting(app, tenant, owner_engine):
    (two_days,) = await _contacts(tenant, 1)
    await _age(owner_engine, tenant.id, 2)
    await purge_tenant(_ctx(app), tenant.id)
    assert await _sequences(owner_engine, tenant.id) == [two_days]
    await purge_tenant(_ctx(app, events_retention_days=1), tenant.id)
    assert await _sequences(owner_engine, tenant.id) == []


async def test_an_enabled_endpoint_keeps_every_event_it_has_yet_to_handle(app, tenant, owner_engine):
    endpoint = await _endpoint(tenant)
    _, second, third, fourth = await _contacts(tenant, 4)
    await _handled_through(owner_engine, endpoint, second)
    await _age(owner_engine, tenant.id, RETENTION_DAYS + 5)

    await purge_tenant(_ctx(app), tenant.id)
    # Handled (its own creation included) went; from the first it has not handled on, everything stays.
    assert await _sequences(owner_engine, tenant.id) == [third, fourth]

    await _handled_through(owner_engine, endpoint, fourth)
    await purge_tenant(_ctx(app), tenant.id)
    assert await _sequences(owner_engine, tenant.id) == []


async def test_the_endpoint_furthest_behind_decides(app, tenant, owner_engine):
    ahead, behind = await _endpoint(tenant), await _endpoint(tenant)
    sequences = await _contacts(tenant, 3)
    await _handled_through(owner_engine, ahead, sequences[-1])
    await _handled_through(owner_engine, behind, sequences[0])
    await _age(owner_engine, tenant.id, RETENTION_DAYS + 5)
    await purge_tenant(_ctx(app), tenant.id)
    assert await _sequences(owner_engine, tenant.id) == sequences[1:]


async def test_disabled_and_deleted_endpoints_keep_nothing(app, tenant, owner_engine):
    disabled, deleted = await _endpoint(tenant), await _endpoint(tenant)
    await _contacts(tenant, 2)
    for endpoint in (disabled, deleted):
        await _handled_through(owner_engine, endpoint, 0)
    assert (await tenant.patch(f"/v1/webhook-endpoints/{disabled['id']}", json={"enabled": False})).status_code == 200
    assert (await tenant.delete(f"/v1/webhook-endpoints/{deleted['id']}")).status_code == 204
    await _age(owner_engine, tenant.id, RETENTION_DAYS + 5)
    await purge_tenant(_ctx(app), tenant.id)
    assert await _sequences(owner_engine, tenant.id) == []


async def test_other_tenants_events_are_not_touched(app, tenant, other_tenant, owner_engine):
    await _contacts(tenant, 1)
    theirs = await _contacts(other_tenant, 2)
    await _age(owner_engine, tenant.id, RETENTION_DAYS + 5)
    await _age(owner_engine, other_tenant.id, RETENTION_DAYS + 5)
    await purge_tenant(_ctx(app), tenant.id)
    assert await _sequences(owner_engine, tenant.id) == []
    assert await _sequences(owner_engine, other_tenant.id) == theirs
