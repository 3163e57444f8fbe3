"""The outbox: one row per committed change, in per-tenant sequence order."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from crm_api.kit.models import Base, TenantScoped


class Event(TenantScoped, Base):
    __tablename__ = "events"

    sequence: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    id: Mapped[uuid.UUID]
    type: Mapped[str] = mapped_column(String(100))
    object_type: Mapped[str] = mapped_column(String(50))
    object_id: Mapped[uuid.UUID]
    data: Mapped[dict[str, Any]]
    previous: Mapped[dict[str, Any] | None]
    actor: Mapped[dict[str, Any]]
    request_id: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime]
