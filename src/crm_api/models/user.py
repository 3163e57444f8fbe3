"""Users: the people of a tenant who own and work on records."""

from sqlalchemy import LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from crm_api.kit.models import Base, Record


class User(Record, Base):
    __tablename__ = "users"

    email: Mapped[str] = mapped_column(String(320))
    name: Mapped[str] = mapped_column(String(200))
    team: Mapped[str | None] = mapped_column(String(100), default=None)
    role: Mapped[str] = mapped_column(String(16), default="member")
    time_zone: Mapped[str | None] = mapped_column(String(64), default=None)
    # SHA-256 of the secret calendar feed token (the URL is the credential).
    calendar_token_hash: Mapped[bytes | None] = mapped_column(LargeBinary, default=None, deferred=True)
