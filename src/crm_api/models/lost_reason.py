"""Why deals are lost: a tenant's list, for analysing losses."""

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from crm_api.kit.models import Base, Record


class LostReason(Record, Base):
    __tablename__ = "lost_reasons"

    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(String(1000), default=None)
