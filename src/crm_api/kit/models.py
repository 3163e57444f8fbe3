"""Declarative base and the columns every tenant record shares."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Integer
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from crm_api.kit.clock import utcnow
from crm_api.kit.ids import uuid7


class Base(DeclarativeBase):
    """Base of every model."""

    type_annotation_map = {
        uuid.UUID: UUID(as_uuid=True),
        datetime: DateTime(timezone=True),
        dict[str, Any]: JSONB,
    }


class TenantScoped:
    """A row that belongs to one tenant; tenant_id leads the primary key and every index."""

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)


class Record(TenantScoped):
    """A versioned record of the public API, soft-deleted into a trash."""

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)
    deleted_at: Mapped[datetime | None] = mapped_column(default=None)
