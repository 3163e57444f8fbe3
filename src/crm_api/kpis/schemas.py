"""KPI requests and answers."""

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from crm_api.kit.schemas import MoneyOut, StrictModel

GroupBy = Literal["owner", "team", "pipeline", "source", "campaign", "country", "day", "week", "month"]
Interval = Literal["day", "week", "month"]
Rate = str | None
MAX_DAYS = 3660


class PeriodParams(BaseModel):
    """A period of whole days in the tenant's time zone, both ends included."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    from_: date = Field(alias="from", description="First day, in the tenant's time zone.")
    to: date = Field(description=f"Last day (included), in the tenant's time zone; on or after `from`, at most "
                                 f"{MAX_DAYS} days after it.")


class SalesParams(PeriodParams):
    group_by: GroupBy | None = Field(
        None, description="owner, team (the owner's), pipeline, source, campaign, country (the company's), day, "
                          "week or month; metrics a key cannot split are null in the groups (see definitions).")
    pipeline_id: uuid.UUID | None = Field(None, description="Only deals of this pipeline.")
    owner_id: uuid.UUID | None = Field(None, description="Only this owner's leads, deals and activities.")


class FunnelParams(PeriodParams):
    pipeline_id: uuid.UUID | None = Field(None, description="The tenant's default pipeline when absent.")
    owner_id: uuid.UUID | None = None


class MarketingParams(PeriodParams):
    owner_id: uuid.UUID | None = None


class ServiceParams(PeriodParams):
    group_by: GroupBy | None = Field(None, description="owner (the assignee), team, day, week or month.")
    owner_id: uuid.UUID | None = Field(None, description="Only cases assigned to this user.")


class LeaderboardParams(PeriodParams):
    pipeline_id: uuid.UUID | None = None


class TimeseriesParams(PeriodParams):
    metric: str = Field(description="A metric of /v1/kpis/sales or /v1/kpis/service (see /v1/kpis/definitions) "
                                    "that belongs to a period.")
    interval: Interval = "day"
    pipeline_id: uuid.UUID | None = None
    owner_id: uuid.UUID | None = None


class ConvertedMoney(BaseModel):
    """Money KPIs converted into the tenant's default currency with its exchange rates; a field is null when a
    currency in it has no rate (or the metric itself is null)."""

    new_revenue: MoneyOut | None = None
    average_deal_size: MoneyOut | None = None
    open_pipeline_value: MoneyOut | None = None
    weighted_pipeline_value: MoneyOut | None = None


class SalesMetrics(BaseModel):
    new_leads: int | None = None
    leads_mql: int | None = None
    leads_sql: int | None = None
    qualification_rate: Rate = None
    new_deals: int | None = None
    deals_won: int | None = None
    deals_lost: int | None = None
    win_rate: Rate = None
    close_rate: Rate = None
    new_revenue: list[MoneyOut] | None = None
    average_deal_size: list[MoneyOut] | None = None
    average_sales_cycle_days: str | None = None
    open_deals: int | None = None
    open_pipeline_value: list[MoneyOut] | None = None
    weighted_pipeline_value: list[MoneyOut] | None = None
    proposals_sent: int | None = None
    calls_logged: int | None = None
    meetings_logged: int | None = None
    meetings_per_won_deal: Rate = None
    new_customers: int | None = None
    retained_customers: int | None = None
    renewal_rate: Rate = None
    converted: ConvertedMoney | None = Field(
        None, description="Only when the tenant has set exchange rates (/v1/exchange-rates): the money metrics "
                          "in its default currency.")


class Period(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: date = Field(serialization_alias="from")
    to: date
    time_zone: str


class SalesGroup(BaseModel):
    key: str | None = Field(description="The owner, pipeline or campaign id, the team, the source, the country "
                                        "code, or the first day of the day, week (Monday) or month; null for "
                                        "records without one.")
    metrics: SalesMetrics


class SalesReport(BaseModel):
    period: Period
    totals: SalesMetrics
    group_by: GroupBy | None
    groups: list[SalesGroup] = Field(description="Empty without group_by; groups with no records are left out.")


class FunnelStage(BaseModel):
    stage_id: uuid.UUID
    name: str
    position: int
    kind: str
    entered: int
    conversion_to_next: Rate
    average_days: str | None
    median_days: str | None


class FunnelReport(BaseModel):
    period: Period
    pipeline_id: uuid.UUID
    stages: list[FunnelStage]


class MarketingConverted(BaseModel):
    """A marketing row's money in the tenant's default currency with its exchange rates; a field is null when a
    currency in it has no rate (or the figure itself is null)."""

    revenue: MoneyOut | None = None
    cost: MoneyOut | None = None
    cost_per_lead: MoneyOut | None = None
    roi: Rate = Field(None, description="(converted revenue - converted cost) / converted cost; may be negative.")


class MarketingRow(BaseModel):
    key: str | None = Field(description="The campaign id or the lead source; null: leads without one.")
    name: str | None = None
    leads: int
    conversions: int
    revenue: list[MoneyOut]
    cost: MoneyOut | None
    cost_per_lead: MoneyOut | None
    roi: Rate
    converted: MarketingConverted | None = Field(
        None, description="Only when the tenant has set exchange rates: the row's money in its default currency.")


class MarketingReport(BaseModel):
    period: Period
    campaigns: list[MarketingRow]
    sources: list[MarketingRow]
    customer_lifetime_value: list[MoneyOut]
    customer_lifetime_value_converted: MoneyOut | None = Field(
        None, description="Only when the tenant has set exchange rates: every currency's won amounts converted "
                          "into the default currency, over the companies with such deals (to the cent).")
    cross_sell_rate: Rate
    subscribers_added: int
    subscribers_total: int
    subscriber_growth_rate: Rate


class ServiceMetrics(BaseModel):
    cases_opened: int | None = None
    cases_resolved: int | None = None
    same_day_resolution_rate: Rate = None
    average_first_response_hours: str | None = None
    median_first_response_hours: str | None = None
    average_resolution_hours: str | None = None
    median_resolution_hours: str | None = None
    sla_compliance_rate: Rate = None
    breached_cases: int | None = None
    reopen_rate: Rate = None
    csat_average: str | None = None
    csat_responses: int | None = None
    cases_per_channel: dict[str, int] | None = None


class ServiceGroup(BaseModel):
    key: str | None
    metrics: ServiceMetrics


class ServiceReport(BaseModel):
    period: Period
    totals: ServiceMetrics
    group_by: GroupBy | None
    groups: list[ServiceGroup]


class LeaderboardRow(BaseModel):
    owner_id: uuid.UUID
    name: str
    won_revenue: list[MoneyOut]
    won_revenue_converted: MoneyOut | None = Field(
        None, description="won_revenue in the tenant's default currency, when it has set exchange rates and one "
                          "applies to every currency in it.")
    deals_won: int
    win_rate: Rate
    activities_logged: int


class LeaderboardReport(BaseModel):
    period: Period
    data: list[LeaderboardRow]


class TimeseriesPoint(BaseModel):
    start: date = Field(description="First day of the bucket (weeks start on Monday).")
    value: int | str | list[MoneyOut] | None


class TimeseriesReport(BaseModel):
    period: Period
    metric: str
    interval: Interval
    data: list[TimeseriesPoint]


class Definition(BaseModel):
    name: str
    endpoint: str
    unit: str
    definition: str
    empty: str = Field(description="What an empty period returns.")
    timeseries: bool = Field(description="Whether /v1/kpis/timeseries can chart it.")


class Definitions(BaseModel):
    data: list[Definition]


class ExchangeRateIn(StrictModel):
    rate: Annotated[Decimal, Field(gt=0, max_digits=24, decimal_places=10)] = Field(
        description="Units of the tenant's default currency that one unit of this currency is worth.")


class ExchangeRateOut(BaseModel):
    currency: str
    rate: str = Field(examples=["0.9215"], description="An exact decimal.")
    updated_at: datetime


class ExchangeRates(BaseModel):
    base_currency: str = Field(description="The tenant's default currency: what the rates convert into.")
    data: list[ExchangeRateOut]
