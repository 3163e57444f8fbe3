"""Postal address columns shared by contacts and companies."""

from sqlalchemy import Computed, String, Text
from sqlalchemy.orm import Mapped, mapped_column


class AddressColumns:
    address_street: Mapped[str | None] = mapped_column(String(500), default=None)
    address_city: Mapped[str | None] = mapped_column(String(200), default=None)
    address_region: Mapped[str | None] = mapped_column(String(200), default=None)
    address_postal_code: Mapped[str | None] = mapped_column(String(32), default=None)
    address_country: Mapped[str | None] = mapped_column(String(2), default=None)
    # lower(address_city), stored: the `city` filter's index under row-level security.
    address_city_key: Mapped[str | None] = mapped_column(Text, Computed("lower(address_city)"), deferred=True)

    @property
    def address(self) -> dict[str, str | None]:
        """The address parts as the API nests them (read by the output models)."""
        return {"street": self.address_street, "city": self.address_city, "region": self.address_region,
                "postal_code": self.address_postal_code, "country": self.address_country}
