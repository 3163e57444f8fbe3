"""Events out, and the feed's parameters."""

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

_ONE = r"(\*|[a-z_]+(\.[a-z_]+)*(\.\*)?)"
Pattern = Annotated[str, StringConstraints(pattern=rf"^{_ONE}(,{_ONE})*$")]


class EventData(BaseModel):
    object: dict[str, Any] = Field(description="The record as it is after the change.")
    previous: dict[str, Any] | None = Field(None, description="Old values of the changed fields (updates).")


class EventOut(BaseModel):
    id: uuid.UUID = Field(description="Stable event id (also the webhook-id of its deliveries).")
    type: str = Field(examples=["contact.updated"])
    sequence: int = Field(description="Per-tenant, gap-free, in commit order.")
    created_at: datetime
    object_type: str
    object_id: uuid.UUID
    actor: dict[str, Any]
    data: EventData


class EventPage(BaseModel):
    data: list[EventOut]
    next_cursor: str = Field(description="Pass as `after` to continue; the same cursor when nothing is new yet.")
    has_more: bool = Field(description="More events are available right now.")


class EventListParams(BaseModel):
    model_config = ConfigDict(extra="ignore")

    after: Annotated[str, StringConstraints(pattern=r"^\d{1,19}$")] | None = Field(
        None, description="A cursor from a previous page; absent: from the oldest kept event.")
    type: Pattern | None = Field(None, description="Comma-separated patterns: `deal.won`, `deal.*`, `*`.")
    object_id: uuid.UUID | None = None
    object_type: Annotated[str, StringConstraints(pattern=r"^[a-z_]+$")] | None = None
    limit: int = Field(100, ge=1, le=1000)
