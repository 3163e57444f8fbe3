"""Companies: customers, prospects, partners, suppliers, distributors, competitors."""

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Computed, Integer, Numeric, String, Text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from crm_api.kit.models import Base, Record
from crm_api.models._address import AddressColumns


class Company(AddressColumns, Record, Base):
    __tablename__ = "companies"

    name: Mapped[str] = mapped_column(String(300))
    domain: Mapped[str | None] = mapped_column(String(253), default=None)
    # Stored lower-cased keys: case-insensitive equality that row-level security lets use an index.
    name_key: Mapped[str] = mapped_column(Text, Computed("lower(name)"), deferred=True)
    domain_key: Mapped[str | None] = mapped_column(Text, Computed("lower(domain)"), deferred=True)
    industry_key: Mapped[str | None] = mapped_column(Text, Computed("lower(industry)"), deferred=True)
    industry: Mapped[str | None] = mapped_column(String(200), default=None)
    employee_count: Mapped[int | None] = mapped_column(Integer, default=None)
    annual_revenue_amount: Mapped[Decimal | None] = mapped_column(Numeric(20, 4), default=None)
    annual_revenue_currency: Mapped[str | None] = mapped_column(String(3), default=None)
    relationship: Mapped[str | None] = mapped_column(String(16), default=None)
    phone: Mapped[str | None] = mapped_column(String(64), default=None)
    website: Mapped[str | None] = mapped_column(String(2048), default=None)
    owner_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    tags: Mapped[list[str]] = mapped_column(ARRAY(String), default=list)
    custom_fields: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    # Kept current by the activities service: the latest logged and the next scheduled activity.
    last_activity_at: Mapped[datetime | None] = mapped_column(default=None)
    next_activity_at: Mapped[datetime | None] = mapped_column(default=None)
