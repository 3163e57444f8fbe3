"""deal_customer_firsts and deal_customer_day_totals (migration 20261128_1301) stay equal to fresh aggregates of the
deals through every kind of write (also two transactions writing one company's deals at once), and
/v1/kpis/marketing's customers, cross-sell and lifetime value from them equal the same numbers from the deals,
for periods ending before, between and after the wins."""

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import text

from crm_api.kit.uow import UnitOfWork
from crm_api.kpis import rates, reports
from crm_api.kpis.schemas import Period
from crm_api.kpis.sql import Window, monies, rate
from tests.kit.rows import execute
from tests.kpis.test_day_totals import ok
from tests.pipelines.helpers import created, default_pipeline, make_deal, make_pipeline, stage_ids

COUNTED = ("tenant_id = :tenant AND deleted_at IS NULL AND status = 'won' AND company_id IS NOT NULL "
           "AND won_at IS NOT NULL")
# Written another way than the trigger: a company crosses once two of its won deals in different pipelines are
# both won.
FRESH = text(f"""
    WITH won AS (SELECT * FROM deals WHERE {COUNTED})
    SELECT w.company_id, '', min(w.won_at), min(w.won_at) FILTER (WHERE w.amount IS NOT NULL),
           (SELECT min(greatest(a.won_at, b.won_at)) FROM won a JOIN won b ON b.company_id = a.company_id
            AND b.pipeline_id <> a.pipeline_id WHERE a.company_id = w.company_id)
    FROM won w GROUP BY w.company_id
    UNION ALL
    SELECT company_id, currency, min(won_at), NULL, NULL FROM won WHERE amount IS NOT NULL GROUP BY 1, 2""")
KEPT = text("SELECT company_id, currency, won_at, priced_at, crossed_at FROM deal_customer_firsts "
            "WHERE tenant_id = :tenant")
DAYS_FRESH = text(f"""
    SELECT (won_at AT TIME ZONE (SELECT time_zone FROM tenants WHERE id = :tenant))::date, currency, count(*),
           sum(amount)
    FROM deals WHERE {COUNTED} AND amount IS NOT NULL GROUP BY 1, 2""")
DAYS_KEPT = text("""
    SELECT day, currency, sum(count), sum(amount_sum) FROM deal_customer_day_totals WHERE tenant_id = :tenant
    GROUP BY 1, 2 HAVING sum(count) <> 0 OR sum(amount_sum) <> 0""")


async def exact(owner_engine, tenant) -> dict:
    """Both tables equal fresh aggregates; returns the fresh firsts (company, currency) -> times."""
    async with owner_engine.connect() as conn:
        def rows(result):
            return {tuple(r[:2]): tuple(r[2:]) for r in result.all()}
        kept, made = [rows(await conn.execute(q, {"tenant": tenant.id})) for q in (KEPT, FRESH)]
        assert kept == made
        days, fresh = [rows(await conn.execute(q, {"tenant": tenant.id})) for q in (DAYS_KEPT, DAYS_FRESH)]
        assert days == {k: (v[0], Decimal(v[1])) for k, v in fresh.items()}
    return made


def at(day: int, hour: float = 12) -> datetime:
    return datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=day, hours=hour)


async def sql(owner_engine, statement: str, deal: str, **params) -> None:
    await execute(owner_engine, statement, i=uuid.UUID(deal), **params)


async def test_customer_firsts_follow_every_write(make_tenant, owner_engine):
    tenant = await make_tenant("Berlin", time_zone="Europe/Berlin")
    other = await make_tenant("Other")
    s = stage_ids(await default_pipeline(tenant))
    second = await make_pipeline(tenant, "Renewals")
    x = (await created(tenant, "/v1/companies", name="X"))["id"]
    y = (await created(tenant, "/v1/companies", name="Y"))["id"]
    theirs = await make_deal(other, company_id=(await created(other, "/v1/companies", name="Z"))["id"],
                             amount={"amount": "5", "currency": "EUR"})
    await ok(await other.post(f"/v1/deals/{theirs['id']}/move", json={"stage_id": stage_ids(
        await default_pipeline(other))["Won"]}))
    other_rows = await exact(owner_engine, other)

    async def update(deal: str, **values) -> dict:
        columns = ", ".join(f"{k} = :{k}" for k in values)
        await sql(owner_engine, f"UPDATE deals SET {columns} WHERE id = :i", deal, **values)
        return await exact(owner_engine, tenant)

    # Won through the API (now), then backdated; a second deal of X won in another pipeline, priced in dollars.
    a = (await make_deal(tenant, company_id=x, stage_id=s["Lead in"],
                         amount={"amount": "100", "currency": "EUR"}))["id"]
    await ok(await tenant.post(f"/v1/deals/{a}/move", json={"stage_id": s["Won"]}))
    await exact(owner_engine, tenant)
    await update(a, won_at=at(10, 23.5))  # 11 January in Berlin
    b = (await make_deal(tenant, company_id=x, pipeline_id=second["id"],
                         stage_id=stage_ids(second)["Won"], amount={"amount": "7.5", "currency": "USD"}))["id"]
    fresh = await update(b, won_at=at(20))
    assert fresh[(uuid.UUID(x), "")] == (at(10, 23.5), at(10, 23.5), at(20))
    # Unpriced, an earlier win in the second pipeline: X crosses earlier, its priced first stays.
    c = (await make_deal(tenant, company_id=x, pipeline_id=second["id"], stage_id=stage_ids(second)["Won"]))["id"]
    fresh = await update(c, won_at=at(5))
    assert fresh[(uuid.UUID(x), "")] == (at(5), at(10, 23.5), at(10, 23.5))
    # Each counted column changed: won_at, pipeline, amount and currency, company, status, trash state.
    await update(c, pipeline_id=uuid.UUID((await default_pipeline(tenant))["id"]))
    await update(b, amount=Decimal("9"), currency="EUR")
    await update(b, currency="GBP")
    await update(b, amount=Decimal("12"))
    await update(b, amount=None, currency=None)
    await update(a, company_id=uuid.UUID(y))
    await update(a, status="lost")
    await update(a, status="won")
    await update(a, status="lost", won_at=None, lost_at=at(11))
    await update(a, status="won", won_at=at(12), lost_at=None)
    await update(c, won_at=None)
    assert (await tenant.delete(f"/v1/deals/{b}")).status_code == 204
    fresh = await exact(owner_engine, tenant)
    assert (uuid.UUID(x), "") not in fresh
    assert (await tenant.post(f"/v1/deals/{b}/restore")).status_code == 200
    await exact(owner_engine, tenant)
    # A change of nothing counted; several deals in one statement; deleted outright; the company deleted outright.
    await update(a, title="Renamed")
    await execute(owner_engine, "UPDATE deals SET won_at = won_at - interval '1 day' WHERE tenant_id = :t "
                                "AND status = 'won'", t=tenant.id)
    await exact(owner_engine, tenant)
    await sql(owner_engine, "DELETE FROM deals WHERE id = :i", c)
    await exact(owner_engine, tenant)
    await execute(owner_engine, "DELETE FROM companies WHERE id = :i", i=uuid.UUID(y))
    fresh = await exact(owner_engine, tenant)
    assert {k[0] for k in fresh} == {uuid.UUID(x)}
    # The tenant's time zone: the amounts' local days (b's win: 20 January 13:00 in Berlin, 21 January in Auckland).
    await update(b, amount=Decimal("9"), currency="EUR")
    days = {k[0] for k in (await _days(owner_engine, tenant))}
    assert days == {date(2026, 1, 20)}
    await execute(owner_engine, "UPDATE tenants SET time_zone = 'Pacific/Auckland' WHERE id = :t", t=tenant.id)
    await exact(owner_engine, tenant)
    assert {k[0] for k in (await _days(owner_engine, tenant))} == {date(2026, 1, 21)}
    assert await exact(owner_engine, other) == other_rows != {}
    # A tenant deleted with its deals and companies: its triggers write nothing, its rows go.
    await execute(owner_engine, "DELETE FROM tenants WHERE id = :t", t=other.id)
    assert await exact(owner_engine, other) == {}


async def _days(owner_engine, tenant) -> list:
    async with owner_engine.connect() as conn:
        return list((await conn.execute(DAYS_KEPT, {"tenant": tenant.id})).all())


async def test_two_writers_of_one_company(make_tenant, owner_engine):
    """Two transactions win deals of one company at once: the second recomputes the company after the first
    committed, so the firsts hold both wins."""
    tenant = await make_tenant("Busy")
    x = (await created(tenant, "/v1/companies", name="X"))["id"]
    second = await make_pipeline(tenant, "Renewals")
    deals = [(await make_deal(tenant, company_id=x, pipeline_id=p, amount={"amount": "10", "currency": "EUR"}))["id"]
             for p in ((await default_pipeline(tenant))["id"], second["id"], second["id"])]
    win = text("UPDATE deals SET status = 'won', won_at = :w WHERE id = :i")
    await execute(owner_engine, "UPDATE deals SET status = 'won', won_at = :w WHERE id = :i", w=at(9),
                  i=uuid.UUID(deals[2]))  # X is a customer already: its row exists
    async with owner_engine.connect() as first, owner_engine.connect() as later:
        # A change of nothing counted (a won deal renamed) leaves the company's row alone: no one waits for it.
        one = await first.begin()
        await first.execute(text("UPDATE deals SET title = 'Renamed' WHERE id = :i"), {"i": uuid.UUID(deals[2])})
        two = await later.begin()
        await asyncio.wait_for(later.execute(win, {"w": at(3), "i": uuid.UUID(deals[0])}), timeout=2)
        await two.rollback()
        await one.rollback()
        one = await first.begin()
        await first.execute(win, {"w": at(3), "i": uuid.UUID(deals[0])})
        two = await later.begin()
        waiting = asyncio.create_task(later.execute(win, {"w": at(4), "i": uuid.UUID(deals[1])}))
        await asyncio.sleep(0.3)
        assert not waiting.done()  # the company's row is the first's until it commits
        await one.commit()
        await waiting
        await two.commit()
    fresh = await exact(owner_engine, tenant)
    assert fresh[(uuid.UUID(x), "")] == (at(3), at(3), at(4))
    assert fresh[(uuid.UUID(x), "EUR")] == (at(3), None, None)


async def marketing(app, tenant, zone: str, first: date, last: date, owner: str | None = None):
    async with UnitOfWork(app.state.sessionmaker) as uow:
        await uow.set_tenant(tenant.id)
        window = Window(first, last, zone)
        report = await reports.marketing(uow, window, Period(from_=first, to=last, time_zone=zone),
                                         uuid.UUID(owner) if owner else None)
        return (report.customer_lifetime_value, report.customer_lifetime_value_converted, report.cross_sell_rate)


async def deals_only(app, tenant, zone: str, first: date, last: date):
    """The customers' numbers of a period from the deals (reports._customers), shaped as marketing() gives them."""
    async with UnitOfWork(app.state.sessionmaker) as uow:
        await uow.set_tenant(tenant.id)
        customers, lifetime = await reports._customers(uow, {"t": tenant.id, **Window(first, last, zone).params(None)},
                                                       "")
        converter = await rates.load(uow)
    assert converter is not None
    return (monies([(value, currency) for _, value, currency in lifetime]),
            converter.average([(amount, currency) for amount, _, currency in lifetime], customers.priced),
            rate(customers.crossed, customers.customers))


async def test_kept_customers_equal_the_deals(app, make_tenant, owner_engine):
    """The tenant is in UTC; a window in 'Etc/UTC' (the same local days) makes the report read the deals. Six
    companies' wins over January in two pipelines and currencies, some unpriced; periods ending before the first
    win, on each win's day and the day after, and after the last."""
    tenant = await make_tenant("Customers", time_zone="UTC", currency="EUR")
    await ok(await tenant.request("PUT", "/v1/exchange-rates/USD", json={"rate": "0.9"}))
    pipelines = [(await default_pipeline(tenant))["id"], (await make_pipeline(tenant, "Renewals"))["id"]]
    companies = [(await created(tenant, "/v1/companies", name=f"C{n}"))["id"] for n in range(6)]
    ann = (await created(tenant, "/v1/users", email="ann@example.com", name="Ann"))["id"]
    won = []
    for n in range(17):
        amount = None if n % 5 == 2 else {"amount": f"{100 + n * 37}.25", "currency": "USD" if n % 3 else "EUR"}
        deal = (await make_deal(tenant, company_id=companies[n % 6], pipeline_id=pipelines[n * 7 % 11 % 2],
                                owner_id=ann if n % 4 else None, **({"amount": amount} if amount else {})))["id"]
        await execute(owner_engine, "UPDATE deals SET status = 'won', won_at = :w WHERE id = :i",
                      w=at(n * 13 % 29, n % 24), i=uuid.UUID(deal))
        won.append(at(n * 13 % 29, n % 24).date())
    # C5 (two wins in the default pipeline) crosses at midnight, a period's end.
    deal = (await make_deal(tenant, company_id=companies[5], pipeline_id=pipelines[1]))["id"]
    await execute(owner_engine, "UPDATE deals SET status = 'won', won_at = :w WHERE id = :i", w=at(15, 0),
                  i=uuid.UUID(deal))
    await exact(owner_engine, tenant)
    ends = sorted({date(2025, 12, 31), date(2026, 1, 15), date(2026, 3, 1), *won,
                   *(d + timedelta(days=1) for d in won)})
    answers = set()
    for last in ends:
        kept = await marketing(app, tenant, "UTC", date(2025, 12, 1), last)
        assert kept == await marketing(app, tenant, "Etc/UTC", date(2025, 12, 1), last), last
        answers.add(repr(kept))
        # In another zone (periods end 5 hours later than in UTC) the report reads the deals.
        assert await marketing(app, tenant, "America/New_York", date(2025, 12, 1), last) == await deals_only(
            app, tenant, "America/New_York", date(2025, 12, 1), last), last
    assert len(answers) > 10  # the numbers move with the period's end
    # One owner's deals: read from the deals in either zone, not the kept data of all the deals.
    ann_only = await marketing(app, tenant, "UTC", date(2025, 12, 1), date(2026, 3, 1), ann)
    assert ann_only == await marketing(app, tenant, "Etc/UTC", date(2025, 12, 1), date(2026, 3, 1), ann)
    assert ann_only != await marketing(app, tenant, "UTC", date(2025, 12, 1), date(2026, 3, 1))
