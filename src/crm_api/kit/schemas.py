"""Value types every resource shares: money, address, tags, the record envelope."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import Annotated, Any

import pycountry
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints


@cache
def _is_currency(code: str) -> bool:
    return pycountry.currencies.get(alpha_3=code) is not None


@cache
def _is_country(code: str) -> bool:
    return pycountry.countries.get(alpha_2=code) is not None


def _currency(code: str) -> str:
    code = code.upper()
    if not _is_currency(code):
        raise ValueError(f"{code!r} is not an ISO 4217 currency code")
    return code


def _country(code: str) -> str:
    code = code.upper()
    if not _is_country(code):
        raise ValueError(f"{code!r} is not an ISO 3166-1 alpha-2 country code")
    return code


def _tags(tags: list[str]) -> list[str]:
    return list(dict.fromkeys(t.strip() for t in tags if t.strip()))


CurrencyCode = Annotated[str, StringConstraints(min_length=3, max_length=3), AfterValidator(_currency)]
CountryCode = Annotated[str, StringConstraints(min_length=2, max_length=2), AfterValidator(_country)]
Tag = Annotated[str, StringConstraints(min_length=1, max_length=100)]
Tags = Annotated[list[Tag], Field(max_length=100), AfterValidator(_tags)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
ShortText = Annotated[str, StringConstraints(max_length=200)]
Phone = Annotated[str, StringConstraints(strip_whitespace=True, max_length=64, pattern=r"^[0-9+()./ \-]*$")]


class StrictModel(BaseModel):
    """Input models refuse unknown fields, so a typo is a 422, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


class Money(StrictModel):
    """An exact decimal amount and its ISO 4217 currency."""

    amount: Annotated[Decimal, Field(max_digits=18, decimal_places=4, ge=0)]
    currency: CurrencyCode | None = Field(None, description="Defaults to the tenant's currency.")


class MoneyOut(BaseModel):
    amount: str = Field(examples=["1234.50"])
    currency: str = Field(examples=["EUR"])


def money_out(amount: Decimal | None, currency: str | None) -> MoneyOut | None:
    """Money as the API shows it: at least two decimals, no trailing zeros beyond them."""
    if amount is None or currency is None:
        return None
    text = format(amount.normalize(), "f")
    whole, _, frac = text.partition(".")
    return MoneyOut.model_construct(amount=f"{whole}.{frac.ljust(2, '0')}", currency=currency)


class Address(StrictModel):
    street: Annotated[str, StringConstraints(max_length=500)] | None = None
    city: ShortText | None = None
    region: ShortText | None = None
    postal_code: Annotated[str, StringConstraints(max_length=32)] | None = None
    country: CountryCode | None = None


ADDRESS_FIELDS = ("street", "city", "region", "postal_code", "country")


def address_out(record: Any) -> Address:
    """The address columns of a record as one object (stored values were validated on their way in)."""
    return Address.model_construct(**record.address)


def address_columns(address: dict[str, Any] | None) -> dict[str, Any]:
    """Column values for a (partial) address; None clears every part."""
    if address is None:
        return {f"address_{f}": None for f in ADDRESS_FIELDS}
    return {f"address_{k}": v for k, v in address.items()}


class RecordOut(BaseModel):
    """Fields every record carries."""

    id: uuid.UUID
    created_at: datetime
    updated_at: datetime
    version: int


def partial(model: type[BaseModel], name: str) -> type[BaseModel]:
    """A PATCH model: the same fields, all optional; present are set, null clears, absent are kept."""
    from pydantic import create_model

    fields: dict[str, Any] = {}
    for field_name, info in model.model_fields.items():
        inner = Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation
        fields[field_name] = (inner | None, Field(None, description=info.description, examples=info.examples))
    return create_model(name, __base__=StrictModel, __doc__=f"Changes to apply; see {model.__name__}.",
                        **fields)


Url = Annotated[str, StringConstraints(max_length=2048, pattern=r"^https?://[^\s/$.?#][^\s]*$")]
# Lower-cased before the pattern is checked (StringConstraints checks it before its own to_lower).
Domain = Annotated[str, StringConstraints(to_lower=True, max_length=253,
                                          pattern=r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$"),
                   BeforeValidator(lambda v: v.lower() if isinstance(v, str) else v)]
