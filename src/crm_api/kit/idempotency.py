"""Idempotency-Key on POST: replay the first response, 422 on another body, 409 while in flight.

A transaction-scoped advisory lock on (tenant, key) makes a concurrent repeat answer 409 at once;
the stored response is written in the same transaction as the work, so either both exist or
neither does, and a crash leaves nothing half-claimed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta

from fastapi import FastAPI, Request, Response
from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert

from crm_api.kit.clock import utcnow
from crm_api.kit.crypto import decrypt_bytes, encrypt_bytes
from crm_api.kit.errors import IdempotencyInFlight, ValidationFailed
from crm_api.kit.uow import UnitOfWork
from crm_api.models.idempotency import IdempotencyRecord

HEADER = "idempotency-key"
_REPLAYED_HEADERS = ("location", "etag", "content-type")


@dataclass
class Claim:
    key: str
    request_hash: str


class Replay(Exception):
    """Raised to answer with a stored response."""

    def __init__(self, record: IdempotencyRecord, body: bytes) -> None:
        # Copied now: the rollback that precedes the handler expires the ORM object.
        self.status = record.response_status
        self.headers = dict(record.response_headers)
        self.body = body


def request_hash(request: Request, body: bytes) -> str:
    """What makes two requests the same: method, path, query and body."""
    digest = hashlib.sha256()
    for part in (request.method, request.url.path, request.url.query):
        digest.update(part.encode() + b"\0")
    digest.update(body)
    return digest.hexdigest()


async def guard(request: Request, uow: UnitOfWork) -> None:
    """Check an Idempotency-Key before the work runs (the tenant must be set)."""
    key = request.headers.get(HEADER)
    if request.method != "POST" or key is None:
        return
    if not 1 <= len(key) <= 255:
        raise ValidationFailed.field("Idempotency-Key", "must be 1 to 255 characters")
    assert uow.tenant_id is not None
    locked = (await uow.session.execute(
        text("SELECT pg_try_advisory_xact_lock(hashtextextended(:k, 0))"),
        {"k": f"idempotency:{uow.tenant_id}:{key}"},
    )).scalar_one()
    if not locked:
        raise IdempotencyInFlight("A request with this Idempotency-Key is still in progress")
    fingerprint = request_hash(request, await request.body())
    stored = (await uow.session.execute(
        select(IdempotencyRecord).where(
            IdempotencyRecord.tenant_id == uow.tenant_id, IdempotencyRecord.key == key,
            IdempotencyRecord.expires_at > utcnow(),
        )
    )).scalar_one_or_none()
    if stored is not None:
        if stored.request_hash != fingerprint:
            raise ValidationFailed.field("Idempotency-Key", "was already used with a different request")
        raise Replay(stored, decrypt_bytes(uow.settings, bytes(stored.response_body)))
    request.state.idempotency = Claim(key, fingerprint)


async def remember(request: Request, uow: UnitOfWork, response: Response, ttl_seconds: int) -> None:
    """Store a successful response for its key, in the unit of work about to commit."""
    claim: Claim | None = getattr(request.state, "idempotency", None)
    if claim is None or not 200 <= response.status_code < 300:
        return
    now = utcnow()
    headers = {k: v for k, v in response.headers.items() if k in _REPLAYED_HEADERS}
    values = {"tenant_id": uow.tenant_id, "key": claim.key, "request_hash": claim.request_hash,
              "response_status": response.status_code, "response_headers": headers,
              # Encrypted: a stored response may hold a secret shown once (an API key, a webhook secret).
              "response_body": encrypt_bytes(uow.settings, bytes(response.body)), "created_at": now,
              "expires_at": now + timedelta(seconds=ttl_seconds)}
    # An expired row for the same key is replaced.
    stmt = insert(IdempotencyRecord).values(values)
    stmt = stmt.on_conflict_do_update(index_elements=["tenant_id", "key"],
                                      set_={k: stmt.excluded[k] for k in values if k not in ("tenant_id", "key")})
    await uow.session.execute(stmt)


def install(app: FastAPI) -> None:
    """Answer replays with the stored response."""

    @app.exception_handler(Replay)
    async def _replay(request: Request, exc: Replay) -> Response:
        headers = dict(exc.headers)
        headers["Idempotent-Replayed"] = "true"
        media_type = headers.pop("content-type", "application/json")
        return Response(exc.body, status_code=exc.status, headers=headers, media_type=media_type)


