"""One HTTP delivery of one event, signed per Standard Webhooks."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from standardwebhooks.webhooks import Webhook

from crm_api.kit.clock import utcnow
from crm_api.kit.ssrf import UnsafeTarget

MAX_BODY = 2048


@dataclass
class Outcome:
    status_code: int | None
    duration_ms: int
    body: str | None
    error: str | None
    retry_after: float | None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def payload(event_id: uuid.UUID, type: str, created_at: datetime, sequence: int | None,
            data: dict[str, Any]) -> str:
    """The body: {"id", "type", "created_at", "sequence", "data"}."""
    return json.dumps({"id": str(event_id), "type": type,
                       "created_at": created_at.isoformat().replace("+00:00", "Z"),
                       "sequence": sequence, "data": data}, separators=(",", ":"), ensure_ascii=False)


def sign(secrets: list[str], msg_id: str, timestamp: datetime, body: str) -> str:
    """`v1,<sig>` per secret, space-separated (two while a rotated secret is still honoured)."""
    return " ".join(Webhook(secret).sign(msg_id=msg_id, timestamp=timestamp, data=body) for secret in secrets)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if not value:
        return None
    if value.strip().isdigit():
        return float(value)
    try:
        return max(0.0, (parsedate_to_datetime(value) - utcnow()).total_seconds())
    except (TypeError, ValueError):
        return None


async def send(client: httpx.AsyncClient, url: str, secrets: list[str], event_id: uuid.UUID, body: str,
               timeout: float) -> Outcome:  # noqa: ASYNC109 (passed to httpx)
    """POST the body; never raises. Redirects are not followed; only 2xx counts as delivered."""
    now = utcnow()
    headers = {
        "content-type": "application/json",
        "user-agent": "crm-api-webhooks/1",
        "webhook-id": str(event_id),
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": sign(secrets, str(event_id), now, body),
    }
    started = time.perf_counter()
    try:
        async with client.stream("POST", url, content=body.encode(), headers=headers, timeout=timeout,
                                 follow_redirects=False) as response:
            received = b""
            async for chunk in response.aiter_bytes():
                received += chunk
                if len(received) >= MAX_BODY:
                    break
            return Outcome(response.status_code, _elapsed(started), received[:MAX_BODY].decode("utf-8", "replace"),
                           None, _retry_after(response))
    except UnsafeTarget as exc:
        return Outcome(None, _elapsed(started), None, f"refused: {exc}"[:500], None)
    except httpx.HTTPError as exc:
        return Outcome(None, _elapsed(started), None, f"{type(exc).__name__}: {exc}"[:500], None)


def _elapsed(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)
