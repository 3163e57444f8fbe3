"""The outbox writer: events collected during a unit of work, written just before it commits.

Sequences are per tenant, allocated by one UPDATE on the tenant row at commit time. The row
lock is held only from that UPDATE to COMMIT, so sequences are gap-free and appear in commit
order: a reader that has seen sequence N has seen every event before it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.kit.clock import utcnow
from crm_api.kit.ids import uuid7
from crm_api.models.event import Event


@dataclass(frozen=True)
class Actor:
    """Who made a change: a user, an API key, an integration or the system."""

    type: str
    id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"type": self.type, "id": self.id}


SYSTEM = Actor("system")
# The job told (after commit) that a tenant has new events; the webhooks domain implements it.
DISPATCH_JOB = "dispatch_events"


@dataclass
class PendingEvent:
    type: str
    object_type: str
    object_id: uuid.UUID
    data: dict[str, Any]
    previous: dict[str, Any] | None
    created_at: datetime = field(default_factory=utcnow)
    id: uuid.UUID = field(default_factory=uuid7)


def changed_fields(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """The old values of every field whose value differs between two representations."""
    ignored = {"version", "updated_at"}
    return {k: before.get(k) for k in after if k not in ignored and before.get(k) != after[k]}


class Outbox:
    """Events of one unit of work."""

    def __init__(self) -> None:
        self.pending: list[PendingEvent] = []

    def add(self, type: str, object_type: str, object_id: uuid.UUID, data: dict[str, Any],
            previous: dict[str, Any] | None = None) -> None:
        """Queue one event; it is written only if the unit of work commits."""
        self.pending.append(PendingEvent(type, object_type, object_id, data, previous))

    async def flush(self, session: AsyncSession, tenant_id: uuid.UUID, actor: Actor,
                    request_id: str | None) -> None:
        """Allocate sequences and insert the pending events."""
        if not self.pending:
            return
        count = len(self.pending)
        last = (await session.execute(
            text("UPDATE tenants SET event_seq = event_seq + :n WHERE id = :t RETURNING event_seq"),
            {"n": count, "t": tenant_id},
        )).scalar_one()
        first = last - count + 1
        rows = [
            {"tenant_id": tenant_id, "sequence": first + i, "id": e.id, "type": e.type,
             "object_type": e.object_type, "object_id": e.object_id, "data": e.data,
             "previous": e.previous, "actor": actor.as_dict(), "request_id": request_id,
             "created_at": e.created_at}
            for i, e in enumerate(self.pending)
        ]
        await session.execute(insert(Event), rows)
        self.pending.clear()
