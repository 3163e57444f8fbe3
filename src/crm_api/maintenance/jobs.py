"""Purge the trash after its retention period, expired idempotency keys, and old events."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.config import get_settings
from crm_api.kit.clock import utcnow
from crm_api.kit.uow import UnitOfWork
from crm_api.models import Company, Contact, CustomField, Deal, IdempotencyRecord, Lead, LostReason, User
from crm_api.models.event import Event
from crm_api.models.webhook import WebhookEndpoint

log = logging.getLogger(__name__)
# Children before parents is not required (references are ON DELETE SET NULL), but keeps it tidy.
# Leads before deals, deals (with their stage history) before contacts and companies. Pipelines and
# stages stay: stage histories name them.
TRASHED = (Lead, Deal, LostReason, Contact, Company, CustomField, User)


async def tenant_ids(ctx: dict[str, Any]) -> list[Any]:
    """Every tenant id, read through the definer function the app role may call."""
    async with ctx["sessionmaker"]() as session:
        return list((await session.execute(text("SELECT crm_tenant_ids()"))).scalars())


async def purge_events(session: AsyncSession, tenant_id: Any, retention_days: int) -> int:
    """Delete events older than the retention, but none an enabled webhook endpoint has yet to handle."""
    handled_through = select(func.min(WebhookEndpoint.cursor_sequence)).where(
        WebhookEndpoint.tenant_id == tenant_id, WebhookEndpoint.enabled, WebhookEndpoint.deleted_at.is_(None),
    ).scalar_subquery()
    result = await session.execute(delete(Event).where(
        Event.tenant_id == tenant_id, Event.created_at < utcnow() - timedelta(days=retention_days),
        Event.sequence <= func.coalesce(handled_through, Event.sequence),
    ).execution_options(synchronize_session=False))
    return result.rowcount or 0


async def purge_tenant(ctx: dict[str, Any], tenant_id: Any) -> int:
    """Delete one tenant's records trashed longer than the retention period (returns how many), and old events."""
    settings = ctx.get("settings") or get_settings()
    cutoff = utcnow() - timedelta(days=settings.trash_retention_days)
    purged = 0
    # A purged user's API keys go with the user (ON DELETE CASCADE): none is left uncapped by a role.
    async with UnitOfWork(ctx["sessionmaker"], settings=settings) as uow:
        await uow.set_tenant(tenant_id)
        for model in TRASHED:
            result = await uow.session.execute(
                delete(model).where(model.tenant_id == tenant_id, model.deleted_at < cutoff))
            purged += result.rowcount or 0
        await uow.session.execute(delete(IdempotencyRecord).where(
            IdempotencyRecord.tenant_id == tenant_id, IdempotencyRecord.expires_at < utcnow()))
        events = await purge_events(uow.session, tenant_id, settings.events_retention_days)
        if events:
            log.info("purged %d events of tenant %s past the retention", events, tenant_id)
    return purged


async def purge_trash(ctx: dict[str, Any]) -> int:
    """The cron job: purge every tenant, one transaction each."""
    total = 0
    for tenant_id in await tenant_ids(ctx):
        total += await purge_tenant(ctx, tenant_id)
    if total:
        log.info("purged %d trashed records", total)
    return total
