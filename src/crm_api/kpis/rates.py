"""Exchange rates set by the tenant, and converting money KPIs with them (exact decimals)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import text

from crm_api.kit.clock import utcnow
from crm_api.kit.errors import NotFound, ValidationFailed
from crm_api.kit.schemas import MoneyOut, money_out
from crm_api.kit.uow import UnitOfWork
from crm_api.kpis.schemas import ExchangeRateOut, ExchangeRates

CENT = Decimal("0.01")


@dataclass(frozen=True)
class Rates:
    """Units of `base` (the tenant's default currency) per unit of each currency."""

    base: str
    rates: dict[str, Decimal]

    def rate(self, currency: str) -> Decimal | None:
        return Decimal(1) if currency == self.base else self.rates.get(currency)

    def total(self, pairs: Iterable[tuple[Any, str]]) -> Decimal | None:
        """The exact sum of (amount, currency) pairs in the base currency; None if a currency has no rate."""
        total = Decimal(0)
        for amount, currency in pairs:
            rate = self.rate(currency)
            if rate is None:
                return None
            total += Decimal(amount) * rate
        return total

    def money(self, pairs: Iterable[tuple[Any, str]]) -> MoneyOut | None:
        return money_out(self.total(pairs), self.base)

    def average(self, pairs: Iterable[tuple[Any, str]], count: int) -> MoneyOut | None:
        """An exact sum divided by `count`, to the cent (half up)."""
        total = self.total(pairs)
        if total is None or not count:
            return None
        return money_out((total / count).quantize(CENT, ROUND_HALF_UP), self.base)


async def _base(uow: UnitOfWork) -> str:
    return (await uow.session.execute(text("SELECT default_currency FROM tenants WHERE id = :t"),
                                      {"t": uow.tenant_id})).scalar_one()


async def load(uow: UnitOfWork) -> Rates | None:
    """The tenant's rates; None when it has set none (money is then never converted)."""
    rows = (await uow.session.execute(text("SELECT currency, rate FROM exchange_rates WHERE tenant_id = :t"),
                                      {"t": uow.tenant_id})).all()
    return Rates(await _base(uow), {r.currency: r.rate for r in rows}) if rows else None


def _out(row: Any) -> ExchangeRateOut:
    return ExchangeRateOut(currency=row.currency, rate=format(row.rate.normalize(), "f"), updated_at=row.updated_at)


async def list_rates(uow: UnitOfWork) -> ExchangeRates:
    rows = (await uow.session.execute(text(
        "SELECT currency, rate, updated_at FROM exchange_rates WHERE tenant_id = :t ORDER BY currency"),
        {"t": uow.tenant_id})).all()
    return ExchangeRates(base_currency=await _base(uow), data=[_out(r) for r in rows])


async def put_rate(uow: UnitOfWork, currency: str, rate: Decimal) -> ExchangeRateOut:
    if currency == await _base(uow):
        raise ValidationFailed.field("currency", "is the tenant's default currency (its rate is 1)")
    row = (await uow.session.execute(text("""
        INSERT INTO exchange_rates (tenant_id, currency, rate, updated_at) VALUES (:t, :c, :r, :now)
        ON CONFLICT (tenant_id, currency) DO UPDATE SET rate = excluded.rate, updated_at = excluded.updated_at
        RETURNING currency, rate, updated_at"""),
        {"t": uow.tenant_id, "c": currency, "r": rate, "now": utcnow()})).one()
    out = _out(row)
    uow.outbox.add("tenant.exchange_rate_set", "tenant", uow.tenant_id, out.model_dump(mode="json"))
    return out


async def delete_rate(uow: UnitOfWork, currency: str) -> None:
    row = (await uow.session.execute(text(
        "DELETE FROM exchange_rates WHERE tenant_id = :t AND currency = :c RETURNING currency"),
        {"t": uow.tenant_id, "c": currency})).first()
    if row is None:
        raise NotFound(f"No exchange rate for {currency}")
    uow.outbox.add("tenant.exchange_rate_deleted", "tenant", uow.tenant_id, {"currency": currency})
