"""Custom field definitions: per tenant and object type."""

from sqlalchemy import Boolean, String
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from crm_api.kit.models import Base, Record


class CustomField(Record, Base):
    __tablename__ = "custom_fields"

    object_type: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(16))
    options: Mapped[list[str] | None] = mapped_column(ARRAY(String), default=None)
    required: Mapped[bool] = mapped_column(Boolean, default=False)
    description: Mapped[str | None] = mapped_column(String(1000), default=None)
