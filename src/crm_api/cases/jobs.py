"""SLA escalation: warnings and breaches, each announced exactly once.

The flag that says an announcement was made is written in the same transaction as its event, so
a worker that dies before committing announces again later and one that committed never does.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from crm_api.cases import sla
from crm_api.cases.service import policy_of, represent_case
from crm_api.kit.clock import utcnow
from crm_api.kit.uow import UnitOfWork
from crm_api.maintenance.jobs import tenant_ids
from crm_api.models.case import Case, SlaPolicy

BATCH = 500


async def escalate_tenant(ctx: dict[str, Any], tenant_id: uuid.UUID) -> int:
    """Announce the tenant's due warnings and breaches; returns how many were announced."""
    announced = 0
    async with UnitOfWork(ctx["sessionmaker"], ctx.get("redis"), settings=ctx["settings"]) as uow:
        await uow.set_tenant(tenant_id)
        now = utcnow()
        cases = (await uow.session.execute(
            select(Case).where(Case.tenant_id == tenant_id, Case.deleted_at.is_(None),
                               Case.sla_next_check_at <= now)
            .order_by(Case.sla_next_check_at).limit(BATCH).with_for_update(skip_locked=True))).scalars().all()
        for case in cases:
            announced += _announce(uow, case, await policy_of(uow, case), now)
            sla.plan_next_check(case)
    return announced


def _announce(uow: UnitOfWork, case: Case, policy: SlaPolicy | None, now: Any) -> int:
    before = represent_case(case).model_dump(mode="json")
    fired = 0
    targets = [("resolution", case.resolution_warn_at, case.resolution_due_at)]
    if case.first_response_at is None:
        targets.insert(0, ("first_response", case.first_response_warn_at, case.first_response_due_at))
    for target, warn_at, due_at in targets:
        if getattr(case, f"{target}_warned_at") is None and warn_at is not None and warn_at <= now:
            setattr(case, f"{target}_warned_at", now)
            uow.outbox.add("case.sla_warning", "case", case.id, _with_target(case, target))
            fired += 1
        if getattr(case, f"{target}_breached_at") is None and due_at is not None and due_at <= now:
            setattr(case, f"{target}_breached_at", now)
            _escalate(case, policy)
            uow.outbox.add("case.sla_breached", "case", case.id, _with_target(case, target))
            fired += 1
    if fired:
        case.version += 1
        case.updated_at = now
        after = represent_case(case).model_dump(mode="json")
        changed = {k: before[k] for k in ("priority", "assignee_id") if before[k] != after[k]}
        if changed:  # the escalation's own change, for timelines and subscribers
            uow.outbox.add("case.updated", "case", case.id, after, changed)
    return fired


def _escalate(case: Case, policy: SlaPolicy | None) -> None:
    rule = (policy.escalation if policy else None) or {}
    if rule.get("raise_priority"):
        case.priority = sla.ESCALATED_PRIORITY[case.priority]
    if rule.get("reassign_to"):
        case.assignee_id = uuid.UUID(str(rule["reassign_to"]))


def _with_target(case: Case, target: str) -> dict[str, Any]:
    return {**represent_case(case).model_dump(mode="json"), "sla_target": target}


async def escalate_cases(ctx: dict[str, Any]) -> int:
    """Cron: every tenant, one transaction each."""
    total = 0
    for tenant_id in await tenant_ids(ctx):
        total += await escalate_tenant(ctx, tenant_id)
    return total
