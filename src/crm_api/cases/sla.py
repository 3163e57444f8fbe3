"""The case state machine and the SLA clock: which policy applies, due times, pauses, checks."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from crm_api.cases.business_time import Calendar, add_minutes, clock_seconds, minutes_between
from crm_api.kit.errors import Conflict
from crm_api.models.case import Case, SlaPolicy

TRANSITIONS: dict[str, tuple[str, ...]] = {
    "new": ("open", "pending", "on_hold", "resolved", "closed"),
    "open": ("pending", "on_hold", "resolved", "closed"),
    "pending": ("open", "on_hold", "resolved", "closed"),
    "on_hold": ("open", "pending", "resolved", "closed"),
    "resolved": ("open", "closed"),
    "closed": ("open",),
}
DONE = ("resolved", "closed")
PAUSED = ("pending",)  # waiting on the customer stops the clock
ESCALATED_PRIORITY = {"low": "normal", "normal": "high", "high": "urgent", "urgent": "urgent"}


def check_transition(current: str, new: str) -> None:
    """409 naming the allowed statuses when `current -> new` is not a transition."""
    if new != current and new not in TRANSITIONS[current]:
        allowed = TRANSITIONS[current]
        raise Conflict(f"A {current} case cannot become {new}; allowed: {', '.join(allowed)}",
                       allowed_statuses=list(allowed))


def matches(policy: SlaPolicy, case: Case, relationship: str | None) -> bool:
    rules: dict[str, Any] = policy.applies_to or {}
    checks = (("priorities", case.priority), ("types", case.type), ("channels", case.channel),
              ("company_relationships", relationship))
    return policy.enabled and case.priority in policy.targets and all(
        not rules.get(key) or value in rules[key] for key, value in checks)


def choose(policies: Iterable[SlaPolicy], case: Case, relationship: str | None) -> SlaPolicy | None:
    """The first matching policy in position order."""
    return next((p for p in policies if matches(p, case, relationship)), None)


def calendar(policy: SlaPolicy | None) -> Calendar | None:
    return Calendar.from_json(policy.business_hours) if policy else None


def schedule(case: Case, policy: SlaPolicy | None) -> None:
    """Due and warning times from creation, the policy's targets and the business minutes paused."""
    case.sla_policy_id = policy.id if policy else None
    target = policy.targets.get(case.priority) if policy else None
    if policy is None or target is None:
        case.first_response_due_at = case.resolution_due_at = None
        case.first_response_warn_at = case.resolution_warn_at = None
        case.sla_next_check_at = None
        return
    cal, start, paused = calendar(policy), case.created_at, case.sla_paused_minutes or 0.0
    first, resolution, share = target["first_response_minutes"], target["resolution_minutes"], policy.warning_threshold
    case.first_response_due_at = add_minutes(cal, start, first + paused)
    case.first_response_warn_at = add_minutes(cal, start, first * share + paused)
    case.resolution_due_at = add_minutes(cal, start, resolution + paused)
    case.resolution_warn_at = add_minutes(cal, start, resolution * share + paused)
    plan_next_check(case)


def plan_next_check(case: Case) -> None:
    """When the escalation job must look at the case next (None: nothing is pending)."""
    moments: list[datetime | None] = []
    if case.sla_paused_at is None and case.status not in DONE:
        if case.first_response_at is None:
            moments += [case.first_response_warn_at if case.first_response_warned_at is None else None,
                        case.first_response_due_at if case.first_response_breached_at is None else None]
        moments += [case.resolution_warn_at if case.resolution_warned_at is None else None,
                    case.resolution_due_at if case.resolution_breached_at is None else None]
    pending = [m for m in moments if m is not None]
    case.sla_next_check_at = min(pending) if pending else None


def clock_reading(case: Case, policy: SlaPolicy | None, until: datetime) -> Decimal | None:
    """The SLA clock at `until`: business seconds of the policy's calendar since creation, less the time it was
    paused (also a pause still running); None without a policy."""
    if policy is None:
        return None
    cal = calendar(policy)
    paused = case.sla_paused_minutes or 0.0
    if case.sla_paused_at is not None and case.sla_paused_at < until:
        paused += minutes_between(cal, case.sla_paused_at, until)
    return clock_seconds(cal, case.created_at, until, paused)


def change_status(case: Case, new: str, policy: SlaPolicy | None, now: datetime) -> None:
    """Apply a (checked) status change: timestamps, pauses, reopening."""
    old = case.status
    if new == old:
        return
    cal = calendar(policy)
    resumed = False
    if old in PAUSED and case.sla_paused_at is not None:
        case.sla_paused_minutes += minutes_between(cal, case.sla_paused_at, now)
        case.sla_paused_at = None
        resumed = True
    if old in DONE and new not in DONE:  # reopened: the time it spent resolved does not count
        case.reopened_count += 1
        if case.resolved_at is not None:
            case.sla_paused_minutes += minutes_between(cal, case.resolved_at, now)
        case.resolved_at = case.closed_at = None
        case.resolution_seconds = None
        resumed = True
    if new in PAUSED:
        case.sla_paused_at = now
    if new == "resolved":
        case.resolved_at = now
    if new == "closed":
        case.closed_at = now
        case.resolved_at = case.resolved_at or now
    if case.resolved_at == now:
        case.resolution_seconds = clock_reading(case, policy, now)
    case.status = new
    if resumed:
        schedule(case, policy)
    else:
        plan_next_check(case)
