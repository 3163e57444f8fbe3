"""Stored responses of POSTs made with an Idempotency-Key."""

from datetime import datetime
from typing import Any

from sqlalchemy import Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from crm_api.kit.models import Base, TenantScoped


class IdempotencyRecord(TenantScoped, Base):
    __tablename__ = "idempotency_keys"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    response_status: Mapped[int] = mapped_column(Integer)
    response_headers: Mapped[dict[str, Any]]
    response_body: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
