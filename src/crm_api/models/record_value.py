"""Custom-field values and array members of live records, one row each (kept by triggers, never by the app)."""

import uuid
from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from crm_api.kit.models import Base, TenantScoped


class RecordValue(TenantScoped, Base):
    """See migration 20261125_0302: key is a custom field key or `#<array column>`, value a typed key."""

    __tablename__ = "record_values"

    object_type: Mapped[str] = mapped_column(String(32), primary_key=True)
    key: Mapped[str] = mapped_column(String(65), primary_key=True)
    value: Mapped[str] = mapped_column(Text, primary_key=True)
    record_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    created_at: Mapped[datetime]  # the record's (migration 20261126_0501)
