"""Support cases, their messages, SLA policies, and per-tenant counters (case numbers)."""

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Boolean, Float, Integer, Numeric, String, Text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from crm_api.kit.clock import utcnow
from crm_api.kit.ids import uuid7
from crm_api.kit.models import Base, Record, TenantScoped


class TenantCounter(TenantScoped, Base):
    """Readable per-tenant numbers (CASE-1042), one row per counter name."""

    __tablename__ = "tenant_counters"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class SlaPolicy(Record, Base):
    __tablename__ = "sla_policies"

    name: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(Integer, default=0)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    targets: Mapped[dict[str, Any]] = mapped_column(JSONB)
    business_hours: Mapped[dict[str, Any] | None] = mapped_column(JSONB, default=None)
    applies_to: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    escalation: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    warning_threshold: Mapped[float] = mapped_column(Float, default=0.8)


class Case(Record, Base):
    __tablename__ = "cases"

    number: Mapped[int] = mapped_column(BigInteger)
    subject: Mapped[str] = mapped_column(String(500))
    description: Mapped[str | None] = mapped_column(Text, default=None)
    channel: Mapped[str] = mapped_column(String(16), default="other")
    type: Mapped[str] = mapped_column(String(16), default="question")
    priority: Mapped[str] = mapped_column(String(16), default="normal")
    status: Mapped[str] = mapped_column(String(16), default="new")
    contact_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    company_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    deal_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    assignee_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    team: Mapped[str | None] = mapped_column(String(100), default=None)
    tags: Mapped[list[str]] = mapped_column(ARRAY(String), default=list)
    custom_fields: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    first_response_at: Mapped[datetime | None] = mapped_column(default=None)
    resolved_at: Mapped[datetime | None] = mapped_column(default=None)
    closed_at: Mapped[datetime | None] = mapped_column(default=None)
    reopened_count: Mapped[int] = mapped_column(Integer, default=0)
    # SLA clock: due and warning times in business time, moved by pauses (pending, resolved).
    sla_policy_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    first_response_due_at: Mapped[datetime | None] = mapped_column(default=None)
    resolution_due_at: Mapped[datetime | None] = mapped_column(default=None)
    first_response_warn_at: Mapped[datetime | None] = mapped_column(default=None)
    resolution_warn_at: Mapped[datetime | None] = mapped_column(default=None)
    sla_paused_at: Mapped[datetime | None] = mapped_column(default=None)
    sla_paused_minutes: Mapped[float] = mapped_column(Float, default=0.0)
    # The SLA clock at the first response and at the resolution (business seconds less pauses).
    first_response_seconds: Mapped[Decimal | None] = mapped_column(Numeric(14, 3), default=None)
    resolution_seconds: Mapped[Decimal | None] = mapped_column(Numeric(14, 3), default=None)
    first_response_warned_at: Mapped[datetime | None] = mapped_column(default=None)
    first_response_breached_at: Mapped[datetime | None] = mapped_column(default=None)
    resolution_warned_at: Mapped[datetime | None] = mapped_column(default=None)
    resolution_breached_at: Mapped[datetime | None] = mapped_column(default=None)
    sla_next_check_at: Mapped[datetime | None] = mapped_column(default=None)
    satisfaction_score: Mapped[int | None] = mapped_column(Integer, default=None)
    satisfaction_comment: Mapped[str | None] = mapped_column(Text, default=None)
    satisfaction_at: Mapped[datetime | None] = mapped_column(default=None)


class CaseMessage(TenantScoped, Base):
    __tablename__ = "case_messages"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    case_id: Mapped[uuid.UUID]
    direction: Mapped[str] = mapped_column(String(16))
    internal: Mapped[bool] = mapped_column(Boolean, default=False)
    body: Mapped[str] = mapped_column(Text)
    author_user_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    author_contact_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
