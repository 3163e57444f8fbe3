"""Cron: send each due digest once. A digest is claimed (committed) before it is sent, so a worker restart
or a second worker never sends it twice; a failed send releases the claim for the next run."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from crm_api.digests import mail, service
from crm_api.kit.clock import utcnow
from crm_api.kit.uow import UnitOfWork
from crm_api.maintenance.jobs import tenant_ids

log = logging.getLogger(__name__)


async def send_tenant_digests(ctx: dict[str, Any], tenant_id: uuid.UUID) -> int:
    """Send the tenant's due digests; the number sent."""
    settings = ctx["settings"]
    if not settings.smtp_host:
        return 0
    sessionmaker, now, sent = ctx["sessionmaker"], utcnow(), 0
    async with UnitOfWork(sessionmaker, settings=settings) as uow:
        await uow.set_tenant(tenant_id)
        due = await service.due_digests(uow, now)
    for digest in due:
        async with UnitOfWork(sessionmaker, settings=settings) as uow:
            await uow.set_tenant(tenant_id)
            if not await service.claim(uow, digest):
                continue
        try:
            async with UnitOfWork(sessionmaker, settings=settings) as uow:
                await uow.set_tenant(tenant_id)
                message = mail.build(digest, await service.contents(uow, digest), settings.digest_from)
            await mail.send(settings, message)
        except Exception:
            log.exception("digest for user %s (%s) not sent; retried next run", digest.user_id, digest.period_start)
            async with UnitOfWork(sessionmaker, settings=settings) as uow:
                await uow.set_tenant(tenant_id)
                await service.release(uow, digest)
            continue
        async with UnitOfWork(sessionmaker, settings=settings) as uow:
            await uow.set_tenant(tenant_id)
            await service.mark_sent(uow, digest)
        sent += 1
    return sent


async def send_digests(ctx: dict[str, Any]) -> int:
    """Cron: every tenant's due digests."""
    total = 0
    for tenant_id in await tenant_ids(ctx):
        total += await send_tenant_digests(ctx, tenant_id)
    return total
