"""Postal address columns shared by contacts and companies."""

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column


class AddressColumns:
    address_street: Mapped[str | None] = mapped_column(String(500), default=None)
    address_city: Mapped[str | None] = mapped_column(String(200), default=None)
    address_region: Mapped[str | None] = mapped_column(String(200), default=None)
    address_postal_code: Mapped[str | None] = mapped_column(String(32), default=None)
    address_country: Mapped[str | None] = mapped_column(String(2), default=None)
