"""/v1/kpis: sales, funnel, marketing, service, leaderboard, timeseries and the definitions."""

from typing import Annotated, Any

from fastapi import Depends, Path, Query, Response
from sqlalchemy import text

from crm_api.auth.principal import Principal, require
from crm_api.kit.errors import ValidationFailed
from crm_api.kit.routing import CrmRouter, get_uow
from crm_api.kit.schemas import CurrencyCode
from crm_api.kit.uow import UnitOfWork
from crm_api.kpis import rates, reports
from crm_api.kpis.definitions import DEFINITIONS, SALES_SERIES, SERVICE_SERIES
from crm_api.kpis.sales import SalesKpis
from crm_api.kpis.schemas import (
    MAX_DAYS,
    Definitions,
    ExchangeRateIn,
    ExchangeRateOut,
    ExchangeRates,
    FunnelParams,
    FunnelReport,
    LeaderboardParams,
    LeaderboardReport,
    MarketingParams,
    MarketingReport,
    PeriodParams,
    SalesParams,
    SalesReport,
    ServiceMetrics,
    ServiceParams,
    ServiceReport,
    TimeseriesParams,
    TimeseriesPoint,
    TimeseriesReport,
)
from crm_api.kpis.schemas import Period as PeriodOut
from crm_api.kpis.sql import Window, bucket_starts

router = CrmRouter(tags=["kpis"])
Uow = Annotated[UnitOfWork, Depends(get_uow)]
Reader = Annotated[Principal, Depends(require("kpis:read"))]
Admin = Annotated[Principal, Depends(require("admin"))]
Currency = Annotated[CurrencyCode, Path(description="An ISO 4217 code other than the tenant's default currency.")]
KPI_WORK_MEM = "64MB"


async def _window(uow: UnitOfWork, params: PeriodParams) -> tuple[Window, PeriodOut]:
    if params.to < params.from_:
        raise ValidationFailed.field("to", "is before from")
    if (params.to - params.from_).days >= MAX_DAYS:
        raise ValidationFailed.field("to", f"a period spans at most {MAX_DAYS} days")
    # KPI queries sort and hash hundreds of thousands of rows: give this transaction the memory to do it
    # in RAM rather than in temporary files.
    zone = (await uow.session.execute(text(
        "SELECT time_zone, set_config('work_mem', :memory, true) FROM tenants WHERE id = :t"),
        {"t": uow.tenant_id, "memory": KPI_WORK_MEM})).scalar_one()
    return Window(params.from_, params.to, zone), PeriodOut(from_=params.from_, to=params.to, time_zone=zone)


@router.get("/kpis/sales", response_model=SalesReport, name="kpis_sales",
            summary="Sales numbers over a period")
async def kpis_sales(params: Annotated[SalesParams, Query()], uow: Uow, principal: Reader) -> Any:
    window, period = await _window(uow, params)
    totals, groups = await SalesKpis(uow, window, group_by=params.group_by, pipeline_id=params.pipeline_id,
                                     owner_id=params.owner_id).compute()
    return SalesReport(period=period, totals=totals, group_by=params.group_by, groups=groups)


@router.get("/kpis/funnel", response_model=FunnelReport, name="kpis_funnel", summary="A pipeline's stage funnel")
async def kpis_funnel(params: Annotated[FunnelParams, Query()], uow: Uow, principal: Reader) -> Any:
    window, period = await _window(uow, params)
    pipeline_id, stages = await reports.funnel(uow, window, params.pipeline_id, params.owner_id)
    return FunnelReport(period=period, pipeline_id=pipeline_id, stages=stages)


@router.get("/kpis/marketing", response_model=MarketingReport, name="kpis_marketing",
            summary="Campaigns and lead sources: leads, conversions, revenue, cost, ROI")
async def kpis_marketing(params: Annotated[MarketingParams, Query()], uow: Uow, principal: Reader) -> Any:
    window, period = await _window(uow, params)
    return await reports.marketing(uow, window, period, params.owner_id)


@router.get("/kpis/service", response_model=ServiceReport, name="kpis_service", summary="Support numbers")
async def kpis_service(params: Annotated[ServiceParams, Query()], uow: Uow, principal: Reader) -> Any:
    window, period = await _window(uow, params)
    totals, groups = await reports.service(uow, window, params.group_by, params.owner_id)
    return ServiceReport(period=period, totals=totals, group_by=params.group_by, groups=groups)


@router.get("/kpis/leaderboard", response_model=LeaderboardReport, name="kpis_leaderboard",
            summary="Per user: won revenue, deals won, win rate, activities logged")
async def kpis_leaderboard(params: Annotated[LeaderboardParams, Query()], uow: Uow, principal: Reader) -> Any:
    window, period = await _window(uow, params)
    return LeaderboardReport(period=period, data=await reports.leaderboard(uow, window, params.pipeline_id))


@router.get("/kpis/timeseries", response_model=TimeseriesReport, name="kpis_timeseries",
            summary="One sales or service metric per day, week or month")
async def kpis_timeseries(params: Annotated[TimeseriesParams, Query()], uow: Uow, principal: Reader) -> Any:
    if params.metric not in SALES_SERIES | SERVICE_SERIES:
        raise ValidationFailed.field("metric", f"no period metric {params.metric!r} (see /v1/kpis/definitions)")
    window, period = await _window(uow, params)
    if params.metric in SALES_SERIES:
        kpis = SalesKpis(uow, window, group_by=params.interval, pipeline_id=params.pipeline_id,
                         owner_id=params.owner_id)
        _, groups = await kpis.compute(only=frozenset({params.metric}))
        empty: Any = kpis.metrics({}, True)
    else:
        if params.pipeline_id is not None:
            raise ValidationFailed.field("pipeline_id", "service metrics have no pipeline")
        _, groups = await reports.service(uow, window, params.interval, params.owner_id,
                                          only=frozenset({params.metric}))
        empty = ServiceMetrics(cases_opened=0, cases_resolved=0, breached_cases=0, csat_responses=0)
    by_key = {g.key: g.metrics for g in groups}
    data = [TimeseriesPoint(start=start, value=getattr(by_key.get(start.isoformat(), empty), params.metric))
            for start in bucket_starts(params.from_, params.to, params.interval)]
    return TimeseriesReport(period=period, metric=params.metric, interval=params.interval, data=data)


@router.get("/kpis/definitions", response_model=Definitions, name="kpis_definitions",
            summary="Every metric: name, unit, exact definition, what an empty period gives")
async def kpis_definitions(principal: Reader) -> Any:
    return Definitions(data=DEFINITIONS)


@router.get("/exchange-rates", response_model=ExchangeRates, name="exchange_rates_list",
            summary="The exchange rates the tenant has set")
async def exchange_rates_list(uow: Uow, principal: Reader) -> Any:
    return await rates.list_rates(uow)


@router.put("/exchange-rates/{currency}", response_model=ExchangeRateOut, name="exchange_rates_set",
            summary="Set the rate of a currency into the default currency (money KPIs are then also converted)")
async def exchange_rates_set(currency: Currency, body: ExchangeRateIn, uow: Uow, principal: Admin) -> Any:
    return await rates.put_rate(uow, currency, body.rate)


@router.delete("/exchange-rates/{currency}", status_code=204, response_class=Response, name="exchange_rates_delete",
               summary="Remove a currency's rate")
async def exchange_rates_delete(currency: Currency, uow: Uow, principal: Admin) -> Response:
    await rates.delete_rate(uow, currency)
    return Response(status_code=204)
