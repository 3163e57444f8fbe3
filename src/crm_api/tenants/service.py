"""Creating tenants and reading their settings."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from crm_api.auth.keys import display_prefix, key_hash, new_key
from crm_api.kit.errors import ValidationFailed
from crm_api.kit.ids import uuid7
from crm_api.kit.schemas import Money
from crm_api.kit.uow import UnitOfWork
from crm_api.models.api_key import ApiKey
from crm_api.models.tenant import Tenant
from crm_api.pipelines.defaults import create_default_pipeline


async def create_tenant(uow: UnitOfWork, name: str, *, default_currency: str = "EUR",
                        time_zone: str = "UTC") -> tuple[Tenant, str]:
    """A new tenant, its default pipeline and an API key with scope `*`; the key is returned once, in clear."""
    tenant = Tenant(id=uuid7(), name=name, default_currency=default_currency, time_zone=time_zone, event_seq=0)
    uow.session.add(tenant)
    await uow.set_tenant(tenant.id)
    await uow.session.flush()
    key = new_key()
    uow.session.add(ApiKey(tenant_id=tenant.id, id=uuid7(), name="initial key", prefix=display_prefix(key),
                           key_hash=key_hash(key), scopes=["*"]))
    await uow.session.flush()
    await create_default_pipeline(uow.session, tenant.id)
    return tenant, key


async def default_currency(uow: UnitOfWork) -> str:
    """The tenant's default currency."""
    stmt = select(Tenant.default_currency).where(Tenant.id == uow.tenant_id)
    return str((await uow.session.execute(stmt)).scalar_one())


async def money_columns(uow: UnitOfWork, prefix: str, money: dict[str, Any] | Money | None,
                        current_currency: str | None = None) -> dict[str, Any]:
    """`<prefix>_amount` and `<prefix>_currency` for a money value.

    Without a currency, the value keeps the currency it had (`current_currency`), else the tenant's.
    """
    if money is None:
        return {f"{prefix}_amount": None, f"{prefix}_currency": None}
    value = money if isinstance(money, Money) else Money.model_validate(money)
    if value.amount is None:
        raise ValidationFailed.field(f"{prefix}.amount", "is required")
    currency = value.currency or current_currency or await default_currency(uow)
    return {f"{prefix}_amount": value.amount, f"{prefix}_currency": currency}


def tenant_uuid(value: str) -> uuid.UUID:
    """Parse a tenant id given on the command line."""
    return uuid.UUID(value)
