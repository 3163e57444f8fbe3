"""Webhook endpoints: registration (with SSRF checks), secrets, deliveries, retries and replays."""

from __future__ import annotations

import base64
import os
import uuid
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import select

from crm_api.events.service import type_condition
from crm_api.kit.clock import utcnow
from crm_api.kit.crypto import decrypt, encrypt
from crm_api.kit.errors import Conflict, NotFound, ValidationFailed
from crm_api.kit.filtering import eq, resolve_sort
from crm_api.kit.ids import uuid7
from crm_api.kit.pagination import paginate
from crm_api.kit.record_service import RecordService
from crm_api.kit.records import RecordType
from crm_api.kit.ssrf import GuardedTransport, TargetPolicy, UnsafeTarget
from crm_api.models.event import Event
from crm_api.models.tenant import Tenant
from crm_api.models.webhook import WebhookDelivery, WebhookEndpoint
from crm_api.webhooks import delivery
from crm_api.webhooks.schemas import (
    Accepted,
    DeliveryListParams,
    DeliveryOut,
    ReplayRequest,
    SecretRotated,
    WebhookEndpointCreated,
    WebhookEndpointOut,
)

KIND = RecordType(
    WebhookEndpoint, "webhook_endpoint",
    filters={"enabled": eq(WebhookEndpoint.enabled)},
    sorts={"created_at": WebhookEndpoint.created_at, "updated_at": WebhookEndpoint.updated_at},
)
SECRET_OVERLAP = timedelta(hours=24)
REDELIVER_JOB, REPLAY_JOB = "redeliver_event", "replay_endpoint"


def new_secret() -> str:
    """A `whsec_` secret: 24 random bytes, base64."""
    return "whsec_" + base64.b64encode(os.urandom(24)).decode()


def represent(endpoint: WebhookEndpoint) -> WebhookEndpointOut:
    return WebhookEndpointOut(
        id=endpoint.id, created_at=endpoint.created_at, updated_at=endpoint.updated_at, version=endpoint.version,
        url=endpoint.url, description=endpoint.description, event_types=list(endpoint.event_types),
        enabled=endpoint.enabled, parallel=endpoint.parallel, disabled_reason=endpoint.disabled_reason,
        failing_since=endpoint.failing_since, delivered_through_sequence=endpoint.cursor_sequence,
        next_attempt_at=endpoint.next_attempt_at,
    )


def represent_delivery(row: WebhookDelivery) -> DeliveryOut:
    return DeliveryOut.model_validate(row, from_attributes=True)


def signing_secrets(settings: Any, endpoint: WebhookEndpoint, now: datetime) -> list[str]:
    """The current secret, and the previous one while its overlap lasts."""
    secrets = [decrypt(settings, endpoint.secret_encrypted)]
    if endpoint.previous_secret_encrypted and endpoint.previous_secret_expires_at and \
            endpoint.previous_secret_expires_at > now:
        secrets.append(decrypt(settings, endpoint.previous_secret_encrypted))
    return secrets


def target_policy(settings: Any) -> TargetPolicy:
    return TargetPolicy.from_setting(settings.webhook_allow_hosts, settings.webhook_allow_http)


class WebhookEndpointService(RecordService[WebhookEndpoint, WebhookEndpointOut]):
    kind = KIND
    not_null = ("url", "event_types", "enabled", "parallel")

    view = staticmethod(represent)

    async def _check_url(self, url: str) -> None:
        policy = target_policy(self.uow.settings)
        problem = policy.check_url(url)
        if problem:
            raise ValidationFailed.field("url", problem)
        parts = urlsplit(url)
        try:
            await policy.resolve(parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80))
        except UnsafeTarget as exc:
            raise ValidationFailed.field("url", str(exc)) from exc

    async def columns(self, changes: dict[str, Any], current: WebhookEndpoint | None) -> dict[str, Any]:
        if "url" in changes:
            await self._check_url(changes["url"])
        if current is not None and changes.get("enabled") is True and not current.enabled:
            # Re-enabled: start afresh on the backlog, which is kept.
            changes = {**changes, "failing_since": None, "attempt": 0, "next_attempt_at": None,
                       "disabled_reason": None}
        return changes

    async def create(self, body: Any) -> WebhookEndpointCreated:  # type: ignore[override]
        columns = await self.columns(body.model_dump(), None)
        secret = new_secret()
        # A new endpoint receives the events that come after it (its own `created` included), not
        # the tenant's history. Locking the tenant's counter until commit makes that boundary exact.
        current = (await self.uow.session.execute(
            select(Tenant.event_seq).where(Tenant.id == self.uow.tenant_id).with_for_update())).scalar_one()
        endpoint = WebhookEndpoint(**columns, secret_encrypted=encrypt(self.uow.settings, secret),
                                   cursor_sequence=current + len(self.uow.outbox.pending) + 1)
        out = await self.records.create(endpoint, self.represent)
        return WebhookEndpointCreated(**out.model_dump(), secret=secret)

    async def rotate_secret(self, endpoint_id: uuid.UUID) -> SecretRotated:
        """A new secret; the old one keeps signing beside it for 24 hours."""
        endpoint = await self.records.get(endpoint_id, for_update=True)
        secret, now = new_secret(), utcnow()
        endpoint.previous_secret_encrypted = endpoint.secret_encrypted
        endpoint.previous_secret_expires_at = now + SECRET_OVERLAP
        endpoint.secret_encrypted = encrypt(self.uow.settings, secret)
        endpoint.version += 1
        endpoint.updated_at = now
        await self.uow.session.flush()
        self.uow.outbox.add("webhook_endpoint.secret_rotated", "webhook_endpoint", endpoint.id,
                            represent(endpoint).model_dump(mode="json"))
        return SecretRotated(secret=secret, previous_secret_expires_at=endpoint.previous_secret_expires_at)

    async def deliveries(self, endpoint_id: uuid.UUID,
                         params: DeliveryListParams) -> tuple[list[DeliveryOut], str | None]:
        await self.records.get(endpoint_id)
        stmt = select(WebhookDelivery).where(WebhookDelivery.tenant_id == self.uow.tenant_id,
                                             WebhookDelivery.endpoint_id == endpoint_id)
        if params.status:
            stmt = stmt.where(WebhookDelivery.status == params.status)
        if params.event_id:
            stmt = stmt.where(WebhookDelivery.event_id == params.event_id)
        sort = resolve_sort(params.sort, {"created_at": WebhookDelivery.created_at})
        rows, cursor = await paginate(self.uow.session, stmt, sort, WebhookDelivery.id, params.limit, params.cursor)
        return [represent_delivery(r) for r in rows], cursor

    async def retry_delivery(self, endpoint_id: uuid.UUID, delivery_id: uuid.UUID) -> Accepted:
        """Send a delivered (or failed) event again, once."""
        await self.records.get(endpoint_id)
        row = (await self.uow.session.execute(select(WebhookDelivery).where(
            WebhookDelivery.tenant_id == self.uow.tenant_id, WebhookDelivery.endpoint_id == endpoint_id,
            WebhookDelivery.id == delivery_id))).scalar_one_or_none()
        if row is None:
            raise NotFound(f"No delivery {delivery_id}")
        if row.event_sequence is None:
            raise Conflict("A test delivery cannot be retried; send a new test")
        self.uow.enqueue(REDELIVER_JOB, str(self.uow.tenant_id), str(endpoint_id), [row.event_sequence])
        return Accepted(events=1)

    async def replay(self, endpoint_id: uuid.UUID, body: ReplayRequest) -> Accepted:
        """Send again every matching event created in [since, until), once each, in order."""
        endpoint = await self.records.get(endpoint_id)
        until = body.until or utcnow()
        if until <= body.since:
            raise ValidationFailed.field("until", "must be after since")
        stmt = select(Event.sequence).where(Event.tenant_id == self.uow.tenant_id, Event.created_at >= body.since,
                                            Event.created_at < until).order_by(Event.sequence)
        condition = type_condition(",".join(endpoint.event_types))
        if condition is not None:
            stmt = stmt.where(condition)
        sequences = list((await self.uow.session.execute(stmt.limit(100_000))).scalars())
        if sequences:
            self.uow.enqueue(REPLAY_JOB, str(self.uow.tenant_id), str(endpoint_id), sequences)
        return Accepted(events=len(sequences))

    async def send_test(self, endpoint_id: uuid.UUID) -> DeliveryOut:
        """Send a `webhook.test` event now and record the attempt."""
        endpoint = await self.records.get(endpoint_id)
        settings = self.uow.settings
        event_id, now = uuid7(), utcnow()
        body = delivery.payload(event_id, "webhook.test", now, None,
                                {"object": {"endpoint_id": str(endpoint.id), "url": endpoint.url}})
        async with httpx.AsyncClient(transport=GuardedTransport(target_policy(settings))) as client:
            outcome = await delivery.send(client, endpoint.url, signing_secrets(settings, endpoint, now), event_id,
                                          body, settings.webhook_timeout_seconds)
        row = WebhookDelivery(tenant_id=self.uow.tenant_id, id=uuid7(), endpoint_id=endpoint.id, event_id=event_id,
                              event_sequence=None, event_type="webhook.test", attempt=1,
                              status="succeeded" if outcome.ok else "failed", response_status=outcome.status_code,
                              duration_ms=outcome.duration_ms, response_body=outcome.body, error=outcome.error,
                              manual=True, created_at=now)
        self.uow.session.add(row)
        await self.uow.session.flush()
        return represent_delivery(row)

