"""Reading the outbox as a feed."""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select

from crm_api.events.schemas import EventData, EventListParams, EventOut, EventPage
from crm_api.kit.uow import UnitOfWork
from crm_api.models.event import Event


def type_condition(patterns: str) -> Any:
    """SQL for comma-separated event type patterns (`deal.won`, `deal.*`, `*`)."""
    clauses = []
    for pattern in patterns.split(","):
        if pattern == "*":
            return None
        if pattern.endswith(".*"):
            clauses.append(Event.type.like(pattern[:-1].replace("_", r"\_") + "%"))
        else:
            clauses.append(Event.type == pattern)
    return or_(*clauses)


def represent(event: Event) -> EventOut:
    return EventOut(id=event.id, type=event.type, sequence=event.sequence, created_at=event.created_at,
                    object_type=event.object_type, object_id=event.object_id, actor=event.actor,
                    data=EventData(object=event.data, previous=event.previous))


class EventService:
    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow

    async def feed(self, params: EventListParams) -> EventPage:
        """Events after the cursor, in sequence order."""
        after = int(params.after or 0)
        stmt = (select(Event).where(Event.tenant_id == self.uow.tenant_id, Event.sequence > after)
                .order_by(Event.sequence).limit(params.limit + 1))
        if params.type and (condition := type_condition(params.type)) is not None:
            stmt = stmt.where(condition)
        if params.object_id:
            stmt = stmt.where(Event.object_id == params.object_id)
        if params.object_type:
            stmt = stmt.where(Event.object_type == params.object_type)
        rows = list((await self.uow.session.execute(stmt)).scalars())
        has_more = len(rows) > params.limit
        rows = rows[:params.limit]
        next_cursor = str(rows[-1].sequence) if rows else str(after)
        return EventPage(data=[represent(e) for e in rows], next_cursor=next_cursor, has_more=has_more)
