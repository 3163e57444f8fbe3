"""Activities: calls, emails, meetings, tasks and notes, linked to the records they concern."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Integer, String, Text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from crm_api.kit.models import Base, Record


class Activity(Record, Base):
    __tablename__ = "activities"

    type: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str | None] = mapped_column(String(500), default=None)
    body: Mapped[str | None] = mapped_column(Text, default=None)
    owner_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    assignee_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    contact_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(UUID(as_uuid=True)), default=list)
    company_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    deal_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    lead_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    case_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    custom_fields: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    direction: Mapped[str | None] = mapped_column(String(16), default=None)
    occurred_at: Mapped[datetime | None] = mapped_column(default=None)
    duration_seconds: Mapped[int | None] = mapped_column(Integer, default=None)
    outcome: Mapped[str | None] = mapped_column(String(16), default=None)
    email_from: Mapped[str | None] = mapped_column(String(320), default=None)
    email_to: Mapped[list[str]] = mapped_column(ARRAY(String), default=list)
    message_id: Mapped[str | None] = mapped_column(String(998), default=None)
    starts_at: Mapped[datetime | None] = mapped_column(default=None)
    ends_at: Mapped[datetime | None] = mapped_column(default=None)
    location: Mapped[str | None] = mapped_column(String(500), default=None)
    attendees: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    due_at: Mapped[datetime | None] = mapped_column(default=None)
    priority: Mapped[str | None] = mapped_column(String(8), default=None)
    done: Mapped[bool] = mapped_column(Boolean, default=False)
    completed_at: Mapped[datetime | None] = mapped_column(default=None)
    remind_at: Mapped[datetime | None] = mapped_column(default=None)
    reminded_at: Mapped[datetime | None] = mapped_column(default=None)
