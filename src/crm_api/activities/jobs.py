"""Reminders: `activity.reminder_due` once per activity when remind_at passes, even across restarts."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from crm_api.activities.service import represent
from crm_api.kit.clock import utcnow
from crm_api.kit.uow import UnitOfWork
from crm_api.maintenance.jobs import tenant_ids
from crm_api.models.activity import Activity

BATCH = 500


async def remind_tenant(ctx: dict[str, Any], tenant_id: uuid.UUID) -> int:
    """Emit the tenant's due reminders; the flag and the event commit together."""
    async with UnitOfWork(ctx["sessionmaker"], ctx.get("redis"), settings=ctx["settings"]) as uow:
        await uow.set_tenant(tenant_id)
        now = utcnow()
        due = (await uow.session.execute(select(Activity).where(
            Activity.tenant_id == tenant_id, Activity.deleted_at.is_(None), Activity.remind_at <= now,
            Activity.reminded_at.is_(None)).order_by(Activity.remind_at).limit(BATCH)
            .with_for_update(skip_locked=True))).scalars().all()
        for activity in due:
            activity.reminded_at = now
            data = represent(activity).model_dump(mode="json")
            uow.outbox.add("activity.reminder_due", "activity", activity.id, data)
        return len(due)


async def send_reminders(ctx: dict[str, Any]) -> int:
    """Cron: every tenant, one transaction each."""
    total = 0
    for tenant_id in await tenant_ids(ctx):
        total += await remind_tenant(ctx, tenant_id)
    return total
