"""Deals, and the stages each deal was in."""

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import FetchedValue, Numeric, SmallInteger, String
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from crm_api.kit.models import Base, Record, TenantScoped


class Deal(Record, Base):
    __tablename__ = "deals"
    # probability and stale_at are derived by a trigger from the stage: read back on every write.
    __mapper_args__ = {"eager_defaults": True}

    title: Mapped[str] = mapped_column(String(300))
    amount: Mapped[Decimal | None] = mapped_column(Numeric(20, 4), default=None)
    currency: Mapped[str | None] = mapped_column(String(3), default=None)
    pipeline_id: Mapped[uuid.UUID] = mapped_column()
    stage_id: Mapped[uuid.UUID] = mapped_column()
    status: Mapped[str] = mapped_column(String(8))
    owner_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    company_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    contact_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(UUID(as_uuid=True)), default=list)
    expected_close_date: Mapped[date | None] = mapped_column(default=None)
    source: Mapped[str | None] = mapped_column(String(100), default=None)
    lost_reason_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    lost_note: Mapped[str | None] = mapped_column(String(2000), default=None)
    won_at: Mapped[datetime | None] = mapped_column(default=None)
    lost_at: Mapped[datetime | None] = mapped_column(default=None)
    stage_entered_at: Mapped[datetime] = mapped_column()
    probability: Mapped[int] = mapped_column(SmallInteger, server_default=FetchedValue(),
                                             server_onupdate=FetchedValue())
    stale_at: Mapped[datetime | None] = mapped_column(server_default=FetchedValue(), server_onupdate=FetchedValue())
    custom_fields: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    # Kept current by the activities service: the latest logged and the next scheduled activity.
    last_activity_at: Mapped[datetime | None] = mapped_column(default=None)
    next_activity_at: Mapped[datetime | None] = mapped_column(default=None)


class DealStageHistory(TenantScoped, Base):
    """One stay of a deal in a stage: entered, left (None while it is there), and by whom."""

    __tablename__ = "deal_stage_history"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    deal_id: Mapped[uuid.UUID] = mapped_column()
    pipeline_id: Mapped[uuid.UUID] = mapped_column()
    stage_id: Mapped[uuid.UUID] = mapped_column()
    status: Mapped[str] = mapped_column(String(8))
    entered_at: Mapped[datetime] = mapped_column()
    left_at: Mapped[datetime | None] = mapped_column(default=None)
    entered_by: Mapped[dict[str, Any]] = mapped_column(JSONB)
    left_by: Mapped[dict[str, Any] | None] = mapped_column(JSONB, default=None)
