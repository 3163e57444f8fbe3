"""Delivery of the outbox to webhook endpoints: at least once, in sequence order per endpoint.

PostgreSQL holds every delivery's state (the endpoint's cursor, attempt count, next attempt);
Redis only carries wake-ups. A worker claims an endpoint with a lease, sends outside any
transaction, and records each outcome in a short transaction that also advances the cursor. A
killed worker's lease lapses and the sweeper hands the endpoint to another; an event whose
outcome was not recorded is sent again with the same webhook-id and body.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select, text

from crm_api.events.service import type_condition
from crm_api.kit.clock import utcnow
from crm_api.kit.events import DISPATCH_JOB
from crm_api.kit.ids import uuid7
from crm_api.kit.uow import UnitOfWork
from crm_api.models.event import Event
from crm_api.models.tenant import Tenant
from crm_api.models.webhook import WebhookDelivery, WebhookEndpoint
from crm_api.webhooks import delivery
from crm_api.webhooks.service import REDELIVER_JOB, REPLAY_JOB, represent, signing_secrets

log = logging.getLogger(__name__)
DELIVER_JOB = "deliver_endpoint"


@dataclass
class PendingEvent:
    id: uuid.UUID
    sequence: int
    type: str
    body: str


@dataclass
class Claim:
    tenant_id: uuid.UUID
    endpoint_id: uuid.UUID
    token: uuid.UUID
    url: str
    secrets: list[str]
    parallel: bool
    events: list[PendingEvent]
    high_water: int  # the tenant's last committed sequence when the batch was read
    complete: bool  # the batch holds every matching event up to high_water


def _uow(ctx: dict[str, Any]) -> UnitOfWork:
    return UnitOfWork(ctx["sessionmaker"], ctx.get("redis"), settings=ctx["settings"])


def _pending(event: Event) -> PendingEvent:
    body = delivery.payload(event.id, event.type, event.created_at, event.sequence,
                            {"object": event.data, "previous": event.previous})
    return PendingEvent(event.id, event.sequence, event.type, body)


async def enqueue_delivery(redis: Any, tenant_id: Any, endpoint_id: Any, defer: float | None = None,
                           *, coalesce: bool = True) -> None:
    """Wake the deliverer of one endpoint (coalesced: one queued job per endpoint, unless told otherwise)."""
    await redis.enqueue_job(DELIVER_JOB, str(tenant_id), str(endpoint_id),
                            _job_id=f"{DELIVER_JOB}:{endpoint_id}" if coalesce else None, _defer_by=defer)


async def dispatch_events(ctx: dict[str, Any], tenant_id: str) -> int:
    """After a commit with events: wake every endpoint of the tenant that is behind."""
    async with _uow(ctx) as uow:
        await uow.set_tenant(uuid.UUID(tenant_id))
        behind = (await uow.session.execute(
            select(WebhookEndpoint.id).join(Tenant, Tenant.id == WebhookEndpoint.tenant_id).where(
                WebhookEndpoint.enabled, WebhookEndpoint.deleted_at.is_(None),
                WebhookEndpoint.cursor_sequence < Tenant.event_seq,
                (WebhookEndpoint.next_attempt_at.is_(None)) | (WebhookEndpoint.next_attempt_at <= utcnow())))
        ).scalars().all()
    for endpoint_id in behind:
        await enqueue_delivery(ctx["redis"], tenant_id, endpoint_id)
    return len(behind)


async def sweep_webhooks(ctx: dict[str, Any]) -> int:
    """Cron: wake every endpoint with due work, whatever Redis lost."""
    async with ctx["sessionmaker"]() as session:
        due = (await session.execute(text("SELECT tenant_id, endpoint_id FROM crm_webhook_due()"))).all()
    for tenant_id, endpoint_id in due:
        # Not under the coalesced id: a worker killed mid-job leaves that id "in progress" in arq, which
        # refuses it and runs it nowhere until its in-progress key expires (the job timeout, minutes).
        await enqueue_delivery(ctx["redis"], tenant_id, endpoint_id, coalesce=False)
    return len(due)


async def _claim(ctx: dict[str, Any], tenant_id: uuid.UUID, endpoint_id: uuid.UUID) -> Claim | None:
    settings = ctx["settings"]
    async with _uow(ctx) as uow:
        await uow.set_tenant(tenant_id)
        now = utcnow()
        endpoint = (await uow.session.execute(
            select(WebhookEndpoint).where(
                WebhookEndpoint.tenant_id == tenant_id, WebhookEndpoint.id == endpoint_id, WebhookEndpoint.enabled,
                WebhookEndpoint.deleted_at.is_(None),
                (WebhookEndpoint.lease_until.is_(None)) | (WebhookEndpoint.lease_until < now),
                (WebhookEndpoint.next_attempt_at.is_(None)) | (WebhookEndpoint.next_attempt_at <= now),
            ).with_for_update(skip_locked=True))).scalar_one_or_none()
        if endpoint is None:
            return None
        high_water = (await uow.session.execute(
            select(Tenant.event_seq).where(Tenant.id == tenant_id))).scalar_one()
        stmt = (select(Event).where(Event.tenant_id == tenant_id, Event.sequence > endpoint.cursor_sequence,
                                    Event.sequence <= high_water)
                .order_by(Event.sequence).limit(settings.webhook_batch_size))
        condition = type_condition(",".join(endpoint.event_types))
        if condition is not None:
            stmt = stmt.where(condition)
        events = list((await uow.session.execute(stmt)).scalars())
        if not events:
            endpoint.cursor_sequence = max(endpoint.cursor_sequence, high_water)
            return None
        token = uuid7()
        endpoint.lease_token = token
        endpoint.lease_until = now + timedelta(seconds=settings.webhook_lease_seconds)
        return Claim(tenant_id, endpoint_id, token, endpoint.url, signing_secrets(settings, endpoint, now),
                     endpoint.parallel, [_pending(e) for e in events], high_water,
                     len(events) < settings.webhook_batch_size)


async def _release(ctx: dict[str, Any], claim: Claim) -> None:
    async with _uow(ctx) as uow:
        await uow.set_tenant(claim.tenant_id)
        await uow.session.execute(
            text("UPDATE webhook_endpoints SET lease_token = NULL, lease_until = NULL "
                 "WHERE tenant_id = :t AND id = :e AND lease_token = :k"),
            {"t": claim.tenant_id, "e": claim.endpoint_id, "k": claim.token})


def _retry_delay(settings: Any, failures: int, retry_after: float | None) -> float | None:
    """Seconds until the next attempt after `failures` failed ones; None when the schedule is spent."""
    schedule = settings.webhook_retry_schedule
    if failures > len(schedule):
        return None
    base = schedule[failures - 1]
    delay = base * (1 + random.uniform(-settings.webhook_retry_jitter, settings.webhook_retry_jitter))
    if retry_after is not None:
        delay = max(delay, min(retry_after, 24 * 3600))
    return max(0.0, delay)


async def _record(ctx: dict[str, Any], claim: Claim, event: PendingEvent, outcome: delivery.Outcome,
                  *, last_in_batch: bool) -> bool:
    """Record one outcome and move the endpoint on; False when delivery must stop for now."""
    settings = ctx["settings"]
    async with _uow(ctx) as uow:
        await uow.set_tenant(claim.tenant_id)
        endpoint = (await uow.session.execute(select(WebhookEndpoint).where(
            WebhookEndpoint.tenant_id == claim.tenant_id, WebhookEndpoint.id == claim.endpoint_id,
            WebhookEndpoint.lease_token == claim.token).with_for_update())).scalar_one_or_none()
        if endpoint is None:
            return False  # the lease lapsed and someone else has the endpoint now
        now = utcnow()
        row = WebhookDelivery(
            tenant_id=claim.tenant_id, id=uuid7(), endpoint_id=claim.endpoint_id, event_id=event.id,
            event_sequence=event.sequence, event_type=event.type, attempt=endpoint.attempt + 1,
            status="succeeded" if outcome.ok else "failed", response_status=outcome.status_code,
            duration_ms=outcome.duration_ms, response_body=outcome.body, error=outcome.error, created_at=now)
        uow.session.add(row)
        endpoint.lease_until = now + timedelta(seconds=settings.webhook_lease_seconds)
        if outcome.ok:
            endpoint.cursor_sequence = claim.high_water if last_in_batch and claim.complete else event.sequence
            endpoint.attempt, endpoint.failing_since, endpoint.next_attempt_at = 0, None, None
            return True
        endpoint.failing_since = endpoint.failing_since or now
        if outcome.status_code == 410:
            _disable(uow, endpoint, "the receiver answered 410 Gone")
            return False
        if (now - endpoint.failing_since).total_seconds() >= settings.webhook_disable_after_seconds:
            _disable(uow, endpoint, "failing for too long")
            return False
        failures = endpoint.attempt + 1
        delay = _retry_delay(settings, failures, outcome.retry_after)
        if delay is None:  # the schedule is spent: give this event up and go on with the next
            endpoint.cursor_sequence = event.sequence
            endpoint.attempt = 0
            return True
        endpoint.attempt = failures
        endpoint.next_attempt_at = row.next_retry_at = now + timedelta(seconds=delay)
        # An id of its own: this job still holds the coalesced id, and arq refuses a job whose id exists.
        uow.enqueue(DELIVER_JOB, str(claim.tenant_id), str(claim.endpoint_id),
                    job_id=f"{DELIVER_JOB}:{claim.endpoint_id}:{row.id}", defer_seconds=delay)
        return False


def _disable(uow: UnitOfWork, endpoint: WebhookEndpoint, reason: str) -> None:
    endpoint.enabled = False
    endpoint.disabled_reason = reason
    endpoint.version += 1
    endpoint.updated_at = utcnow()
    uow.outbox.add("webhook_endpoint.disabled", "webhook_endpoint", endpoint.id,
                   represent(endpoint).model_dump(mode="json"), {"enabled": True})
    log.warning("webhook endpoint %s disabled: %s", endpoint.id, reason)


async def _send(ctx: dict[str, Any], claim: Claim, event: PendingEvent) -> delivery.Outcome:
    return await delivery.send(ctx["webhook_client"], claim.url, claim.secrets, event.id, event.body,
                               ctx["settings"].webhook_timeout_seconds)


async def _deliver_claim(ctx: dict[str, Any], claim: Claim) -> bool:
    """Send a claimed batch; True when every event went through."""
    last = len(claim.events) - 1
    if claim.parallel:
        outcomes = await asyncio.gather(*[_send(ctx, claim, e) for e in claim.events])
        for i, (event, outcome) in enumerate(zip(claim.events, outcomes, strict=True)):
            if not await _record(ctx, claim, event, outcome, last_in_batch=i == last):
                return False
        return True
    for i, event in enumerate(claim.events):
        outcome = await _send(ctx, claim, event)
        if not await _record(ctx, claim, event, outcome, last_in_batch=i == last):
            return False
    return True


async def deliver_endpoint(ctx: dict[str, Any], tenant_id: str, endpoint_id: str) -> int:
    """Deliver an endpoint's pending events in order until it is caught up or must wait."""
    tenant, endpoint = uuid.UUID(tenant_id), uuid.UUID(endpoint_id)
    batches = 0
    while (claim := await _claim(ctx, tenant, endpoint)) is not None:
        batches += 1
        try:
            went_through = await _deliver_claim(ctx, claim)
        finally:
            # Also on cancellation (worker shutdown): hand the endpoint back at once.
            await asyncio.shield(_release(ctx, claim))
        if not went_through:
            break
    return batches


async def _send_once(ctx: dict[str, Any], tenant_id: str, endpoint_id: str, sequences: list[int]) -> int:
    """Send the given events once each, in order, recording each attempt (retries and replays)."""
    tenant, endpoint_uuid = uuid.UUID(tenant_id), uuid.UUID(endpoint_id)
    sent = 0
    for start in range(0, len(sequences), 500):
        async with _uow(ctx) as uow:
            await uow.set_tenant(tenant)
            endpoint = (await uow.session.execute(select(WebhookEndpoint).where(
                WebhookEndpoint.tenant_id == tenant, WebhookEndpoint.id == endpoint_uuid,
                WebhookEndpoint.deleted_at.is_(None)))).scalar_one_or_none()
            if endpoint is None:
                return sent
            secrets = signing_secrets(ctx["settings"], endpoint, utcnow())
            events = list((await uow.session.execute(select(Event).where(
                Event.tenant_id == tenant, Event.sequence.in_(sequences[start:start + 500]))
                .order_by(Event.sequence))).scalars())
            url = endpoint.url
        for event in events:
            pending = _pending(event)
            outcome = await delivery.send(ctx["webhook_client"], url, secrets, pending.id, pending.body,
                                          ctx["settings"].webhook_timeout_seconds)
            async with _uow(ctx) as uow:
                await uow.set_tenant(tenant)
                uow.session.add(WebhookDelivery(
                    tenant_id=tenant, id=uuid7(), endpoint_id=endpoint_uuid, event_id=pending.id,
                    event_sequence=pending.sequence, event_type=pending.type, attempt=1,
                    status="succeeded" if outcome.ok else "failed", response_status=outcome.status_code,
                    duration_ms=outcome.duration_ms, response_body=outcome.body, error=outcome.error, manual=True))
            sent += 1
    return sent


async def redeliver_event(ctx: dict[str, Any], tenant_id: str, endpoint_id: str, sequences: list[int]) -> int:
    """A delivery retried through the API."""
    return await _send_once(ctx, tenant_id, endpoint_id, sequences)


async def replay_endpoint(ctx: dict[str, Any], tenant_id: str, endpoint_id: str, sequences: list[int]) -> int:
    """Past events replayed through the API."""
    return await _send_once(ctx, tenant_id, endpoint_id, sequences)


JOB_NAMES = {DISPATCH_JOB: dispatch_events, DELIVER_JOB: deliver_endpoint, REDELIVER_JOB: redeliver_event,
             REPLAY_JOB: replay_endpoint}
