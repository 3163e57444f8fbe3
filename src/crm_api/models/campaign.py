"""Marketing campaigns: what leads, contacts and deals came from, and what it cost."""

import uuid
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import Numeric, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from crm_api.kit.models import Base, Record


class Campaign(Record, Base):
    __tablename__ = "campaigns"

    name: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="planned")
    starts_on: Mapped[date | None] = mapped_column(default=None)
    ends_on: Mapped[date | None] = mapped_column(default=None)
    cost_amount: Mapped[Decimal | None] = mapped_column(Numeric(20, 4), default=None)
    cost_currency: Mapped[str | None] = mapped_column(String(3), default=None)
    owner_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    custom_fields: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
