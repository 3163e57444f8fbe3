"""GET /v1/kpis/sales: every number one SQL aggregate (GROUPING SETS give totals and groups at once)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import text

from crm_api.kit.clock import utcnow
from crm_api.kit.uow import UnitOfWork
from crm_api.kpis import rates
from crm_api.kpis.schemas import ConvertedMoney, SalesGroup, SalesMetrics
from crm_api.kpis.sql import TIME_KEYS, Window, decimal_text, grouped, key_expr, monies, rate, unsupported


def team_of(owner: str) -> str:
    """The team (users.team) of the owner `owner` (a uuid column, or its text): a lookup in the :teams parameter,
    the tenant's {user id: team} as one jsonb (SalesKpis.compute sets it), a fifth of the cost per row of a
    correlated lookup of the user."""
    return f"(CAST(:teams AS jsonb) ->> ({owner})::text)"


# country: the address country of the record's company, kept on deals and activities as company_country
# (migration 20261127_0802).
DEAL_KEYS = {"owner": "d.owner_id", "pipeline": "d.pipeline_id", "source": "d.source", "campaign": "d.campaign_id",
             "team": team_of("d.owner_id"), "country": "d.company_country"}
LEAD_KEYS = {"owner": "l.owner_id", "source": "l.source", "campaign": "l.campaign_id", "team": team_of("l.owner_id")}
ACTIVITY_KEYS = {"owner": "a.owner_id", "team": team_of("a.owner_id"), "country": "a.company_country"}
# deal_open_totals has no company: the open-deals snapshot is not split by country.
OPEN_KEYS = {k: v for k, v in DEAL_KEYS.items() if k != "country"}
SALES_GROUPS = ("owner", "team", "pipeline", "source", "campaign", "country", *TIME_KEYS)
LIVE_DEALS = "d.tenant_id = :t AND d.deleted_at IS NULL"


@dataclass(frozen=True)
class DealDays:
    """A daily rollup of deal events (kinds 'created', 'won', 'lost', 'proposal' per tenant-local day, key
    and currency; migrations 20261126_0701/0703/0704 and 20261127_0801), read as `d`."""

    table: str
    keys: dict[str, str]  # the group keys it serves
    columns: str  # its key columns, as the proposal repeats (read from the deals `d`) name them too
    deal_columns: str  # the same values from a deal `d`
    where: str = ""

    def rows(self, kind: str) -> str:
        """FROM ... WHERE of its rows of one kind on the window's local days."""
        return (f"{self.table} d WHERE d.tenant_id = :t AND d.kind = '{kind}' AND d.day >= :fd AND d.day <= :td"
                f"{self.where}")


# Keyed by day, pipeline, owner and currency: every grouping but source, campaign and country, both filters.
DEAL_DAYS = DealDays("deal_day_totals", {k: v for k, v in OPEN_KEYS.items() if k in ("owner", "pipeline", "team")},
                     "d.pipeline_id, d.owner_id", "d.pipeline_id, d.owner_id")
# Keyed by day, one attribute and currency (migrations 20261127_0801-0803): requests without a filter, by the
# attribute their grouping needs ('all': the totals and day/week/month; 'owner': also team).
ATTRIBUTION_DAYS = {
    attribute: DealDays("deal_attribution_day_totals", keys, "d.value", f"{value} AS value",
                        f" AND d.attribute = '{attribute}'")
    for attribute, keys, value in (
        *((a, {a: "d.value"}, f"({DEAL_KEYS[a]})::text") for a in ("source", "campaign", "country", "pipeline")),
        ("owner", {"owner": "d.value", "team": team_of("d.value")}, "(d.owner_id)::text"),
        ("all", {}, "NULL::text"))}
ATTRIBUTE_OF = {None: "all", **{key: "all" for key in TIME_KEYS}, "team": "owner"}
# Keyed by scope (a pipeline or an owner), attribute, day and the deal's pipeline (migration 20261128_1101):
# requests grouped by source, campaign or country with a filter (both: the owner's rows of that pipeline).
SCOPED_ATTRIBUTES = ("source", "campaign", "country")
SCOPED_DAYS = {
    (scope, attribute): DealDays("deal_scoped_day_totals", {attribute: "d.value"}, "d.value",
                                 f"({DEAL_KEYS[attribute]})::text AS value",
                                 f" AND d.scope = '{scope}' AND d.scope_id = :{scope} AND d.attribute = '{attribute}'")
    for scope in ("pipeline", "owner") for attribute in SCOPED_ATTRIBUTES}
# lead_attribution_day_totals (migration 20261127_0804), read as `l`: the keys each attribute's rows serve.
LEAD_ATTRIBUTES = {"all": {}, "owner": {"owner": "l.value", "team": team_of("l.value")},
                   "source": {"source": "l.value"}, "campaign": {"campaign": "l.value"}}


@dataclass(frozen=True)
class ActivityDays:
    """A daily rollup of calls and meetings per tenant-local day, type and key, read as `a`."""

    table: str
    keys: dict[str, str]  # the group keys it serves
    columns: str  # its key column, as today's activities (read from the table `a`) name it too
    activity_columns: str  # the same value from an activity `a`


# activity_day_totals (migration 20261126_0701): by owner (and team); activity_country_day_totals (0802).
ACTIVITY_DAYS = ActivityDays("activity_day_totals", {k: v for k, v in ACTIVITY_KEYS.items() if k != "country"},
                             "a.owner_id", "a.owner_id")
COUNTRY_ACTIVITY_DAYS = ActivityDays("activity_country_day_totals", {"country": "a.country"}, "a.country",
                                     "a.company_country")
# activity_owner_country_day_totals (20261128_1103): by country with an owner filter (its rows have the owner).
OWNER_COUNTRY_ACTIVITY_DAYS = ActivityDays("activity_owner_country_day_totals", {"country": "a.country"},
                                           "a.country", "a.company_country")
# Each query family (a method `_<family>`) and the metrics it feeds, rates included.
FAMILIES: dict[str, frozenset[str]] = {
    "leads": frozenset({"new_leads", "leads_mql", "leads_sql", "qualification_rate"}),
    "created": frozenset({"new_deals", "close_rate"}),
    "won": frozenset({"deals_won", "win_rate", "new_revenue", "average_deal_size", "average_sales_cycle_days",
                      "meetings_per_won_deal", "renewal_rate"}),
    "lost": frozenset({"deals_lost", "win_rate", "renewal_rate"}),
    "open": frozenset({"open_deals", "open_pipeline_value", "weighted_pipeline_value"}),
    "proposals": frozenset({"proposals_sent"}),
    "activities": frozenset({"calls_logged", "meetings_logged", "meetings_per_won_deal"}),
    "customers": frozenset({"new_customers", "retained_customers"}),
}


class SalesKpis:
    """Sales numbers of one tenant over one window."""

    def __init__(self, uow: UnitOfWork, window: Window, *, group_by: str | None = None,
                 pipeline_id: uuid.UUID | None = None, owner_id: uuid.UUID | None = None) -> None:
        if group_by is not None and group_by not in SALES_GROUPS:
            raise unsupported(group_by, "sales")
        self.session = uow.session
        self.group_by = group_by
        now = utcnow()
        zone = ZoneInfo(window.time_zone)
        # Local days before `cut` (today, or the day after the window) are over: the daily rollups hold
        # them; from the start of `cut` on, activities are read from their table (only those up to now count).
        cut = min(now.astimezone(zone).date(), window.to_date + timedelta(days=1))
        self.params: dict[str, Any] = {"t": uow.tenant_id, **window.params(group_by), "now": now,
                                       "owner": owner_id, "pipeline": pipeline_id, "cut": cut,
                                       "cut_at": datetime.combine(cut, time(), zone)}
        self.window = window
        # The daily rollups that serve this request (set by compute: the window is in the tenant's zone and
        # the group key and filters are in the rollup's key): deals, calls and meetings, leads.
        self.days: DealDays | None = None
        self.days_filter = ""  # the filters on the rows of `days` (deal_day_totals has the deals' columns)
        self.activity_days: ActivityDays | None = None
        self.lead_attribute: str | None = None  # the lead rollup's rows that serve this request
        self.deal_filter = (" AND d.owner_id = :owner" if owner_id else "") + (
            " AND d.pipeline_id = :pipeline" if pipeline_id else "")
        self.lead_filter = " AND l.owner_id = :owner" if owner_id else ""
        self.activity_filter = " AND a.owner_id = :owner" if owner_id else ""
        self.values: dict[str | None, dict[str, Any]] = defaultdict(dict)
        self.totals: dict[str, Any] = {}
        self.grouped: set[str] = set()  # metrics whose query had a key for group_by
        self.uow = uow
        self.rates: rates.Rates | None = None

    async def _run(self, select: str, keys: dict[str, str], ts: str, names: tuple[str, ...], *,
                   extra_group: str = "", snapshot: bool = False, local_day: bool = False) -> list[Any]:
        """Rows (k, total, ...) of a query; totals only when it has no key for the grouping. `ts` is a
        timestamptz, or with local_day a date of the tenant's time zone (the daily rollups)."""
        key = key_expr(self.group_by, keys, ts, local_day)
        if key is None or (snapshot and self.group_by in TIME_KEYS):
            key = "NULL::text"  # totals only; its metrics stay null in the groups
        elif self.group_by is not None:
            self.grouped.update(names)
        sql = grouped(select, key, extra_group)
        return list((await self.session.execute(text(sql), self.params)).all())

    def _target(self, row: Any) -> dict[str, Any]:
        return self.totals if row.total else self.values[row.k]

    async def compute(self, only: frozenset[str] | None = None) -> tuple[SalesMetrics, list[SalesGroup]]:
        """Every metric, or only the query families that `only`'s metrics need (a time series)."""
        families = [f for f in FAMILIES if only is None or only & FAMILIES[f]]
        if only is None:
            self.rates = await rates.load(self.uow)
        if "customers" in families and self.group_by is not None and self.group_by not in TIME_KEYS:
            families.remove("customers")
        # The daily rollups hold the tenant's local days: a window in another zone reads the records. Without a
        # filter, the attribution rows of the grouping's attribute; with one, deal_day_totals (pipeline, owner),
        # or for source, campaign and country the scoped rows of the filter (both: the owner's, of the pipeline).
        zone = (await self.session.execute(text("SELECT time_zone FROM tenants WHERE id = :t"),
                                           self.params)).scalar_one()
        if self.group_by == "team":
            self.params["teams"] = (await self.session.execute(text(
                "SELECT coalesce(jsonb_object_agg(u.id, u.team) FILTER (WHERE u.team IS NOT NULL), '{}')::text "
                "FROM users u WHERE u.tenant_id = :t"), self.params)).scalar_one()
        if self.window.time_zone == zone:  # else another zone's local days: the base tables
            if not self.lead_filter:
                attribute = ATTRIBUTE_OF.get(self.group_by, self.group_by)
                self.lead_attribute = attribute if attribute in LEAD_ATTRIBUTES else "all"
            if not self.deal_filter:
                self.days = ATTRIBUTION_DAYS[ATTRIBUTE_OF.get(self.group_by, self.group_by)]
            elif self.group_by not in SCOPED_ATTRIBUTES:
                self.days, self.days_filter = DEAL_DAYS, self.deal_filter
            elif self.params["owner"] is None:
                self.days = SCOPED_DAYS["pipeline", self.group_by]
            else:
                self.days = SCOPED_DAYS["owner", self.group_by]
                self.days_filter = " AND d.pipeline_id = :pipeline" if self.params["pipeline"] else ""
            self.activity_days = ACTIVITY_DAYS if self.group_by != "country" else (
                OWNER_COUNTRY_ACTIVITY_DAYS if self.activity_filter else COUNTRY_ACTIVITY_DAYS)
        for family in families:
            await getattr(self, f"_{family}")()
        totals = self.metrics(self.totals, True)
        groups = [SalesGroup(key=k, metrics=self.metrics(v, False)) for k, v in
                  sorted(self.values.items(), key=lambda kv: (kv[0] is None, kv[0] or ""))]
        return totals, groups

    async def _leads(self) -> None:
        if self.lead_attribute:
            rows = await self._run(f"""
                SELECT {{key}}, sum(l.count)::bigint AS new_leads, sum(l.mql_count)::bigint AS mql,
                       sum(l.sql_count)::bigint AS sql
                FROM lead_attribution_day_totals l
                WHERE l.tenant_id = :t AND l.attribute = '{self.lead_attribute}' AND l.day >= :fd AND l.day <= :td
                {{group}} HAVING sum(l.count) <> 0""", LEAD_ATTRIBUTES[self.lead_attribute], "l.day",
                                   ("new_leads", "leads_mql", "leads_sql"), local_day=True)
        else:
            rows = await self._run(f"""
                SELECT {{key}}, count(*) AS new_leads,
                       count(*) FILTER (WHERE l.status IN ('mql', 'sql', 'converted')) AS mql,
                       count(*) FILTER (WHERE l.status IN ('sql', 'converted')) AS sql
                FROM leads l WHERE l.tenant_id = :t AND l.deleted_at IS NULL
                  AND l.created_at >= :s AND l.created_at < :e{self.lead_filter} {{group}}""",
                                   LEAD_KEYS, "l.created_at", ("new_leads", "leads_mql", "leads_sql"))
        for row in rows:
            self._target(row).update(new_leads=row.new_leads, leads_mql=row.mql, leads_sql=row.sql)

    async def _created(self) -> None:
        if self.days:
            rows = await self._run(f"""
                SELECT {{key}}, sum(d.count)::bigint AS created, sum(d.flagged)::bigint AS created_won
                FROM {self.days.rows("created")}{self.days_filter}
                {{group}} HAVING sum(d.count) <> 0""", self.days.keys, "d.day", ("new_deals", "created_won"),
                                   local_day=True)
        else:
            rows = await self._run(f"""
                SELECT {{key}}, count(*) AS created, count(*) FILTER (WHERE d.status = 'won') AS created_won
                FROM deals d WHERE {LIVE_DEALS} AND d.created_at >= :s AND d.created_at < :e{self.deal_filter}
                {{group}}""", DEAL_KEYS, "d.created_at", ("new_deals", "created_won"))
        for row in rows:
            self._target(row).update(new_deals=row.created, created_won=row.created_won)

    async def _won(self) -> None:
        """Deals won in the window: count and cycle, and per currency revenue and average size."""
        won: dict[Any, dict[str, Any]] = defaultdict(
            lambda: {"won": 0, "priced": 0, "renewals": 0, "cycle": Decimal(0), "revenue": [], "average": []})
        if self.days:
            some = "CASE WHEN sum(d.amount_count) > 0 THEN {} END"
            rows = await self._run(f"""
                SELECT {{key}}, nullif(d.currency, '') AS currency, sum(d.count)::bigint AS won,
                       sum(d.flagged)::bigint AS renewals, sum(d.cycle_seconds) AS cycle,
                       {some.format("sum(d.amount_sum)")} AS revenue,
                       {some.format("round(sum(d.amount_sum) / sum(d.amount_count), 2)")} AS average
                FROM {self.days.rows("won")}{self.days_filter}
                {{group}} HAVING sum(d.count) <> 0""", self.days.keys, "d.day", ("deals_won",),
                                   extra_group="d.currency", local_day=True)
        else:
            rows = await self._run(f"""
                SELECT {{key}}, d.currency, count(*) AS won, count(*) FILTER (WHERE d.is_renewal) AS renewals,
                       sum(extract(epoch FROM d.won_at - d.created_at)) AS cycle,
                       sum(d.amount) AS revenue, round(avg(d.amount), 2) AS average
                FROM deals d WHERE {LIVE_DEALS} AND d.status = 'won' AND d.won_at >= :s AND d.won_at < :e
                {self.deal_filter} {{group}}""", DEAL_KEYS, "d.won_at", ("deals_won",), extra_group="d.currency")
        for row in rows:
            entry = won[None if row.total else ("k", row.k)]
            entry["won"] += row.won
            entry["renewals"] += row.renewals
            entry["cycle"] += row.cycle
            if row.currency is not None:
                entry["priced"] += row.won
                entry["revenue"].append((row.revenue, row.currency))
                entry["average"].append((row.average, row.currency))
        for where, entry in won.items():
            target = self.totals if where is None else self.values[where[1]]
            cycle = Decimal(entry["cycle"]) / entry["won"] / 86400 if entry["won"] else None
            target.update(deals_won=entry["won"], priced=entry["priced"], renewals_won=entry["renewals"], cycle=cycle,
                          revenue=entry["revenue"], average=entry["average"])

    async def _lost(self) -> None:
        if self.days:
            rows = await self._run(f"""
                SELECT {{key}}, sum(d.count)::bigint AS lost, sum(d.flagged)::bigint AS renewals
                FROM {self.days.rows("lost")}{self.days_filter}
                {{group}} HAVING sum(d.count) <> 0""", self.days.keys, "d.day", ("deals_lost",), local_day=True)
        else:
            rows = await self._run(f"""
                SELECT {{key}}, count(*) AS lost, count(*) FILTER (WHERE d.is_renewal) AS renewals FROM deals d
                WHERE {LIVE_DEALS} AND d.status = 'lost' AND d.lost_at >= :s AND d.lost_at < :e{self.deal_filter}
                {{group}}""", DEAL_KEYS, "d.lost_at", ("deals_lost",))
        for row in rows:
            self._target(row).update(deals_lost=row.lost, renewals_lost=row.renewals)

    async def _open(self) -> None:
        """A snapshot: open deals now and their value per currency, from the deal_open_totals rollup (its
        columns carry the deals' names, so the deal filters and group keys apply to it as they are)."""
        for row in await self._run(f"""
                SELECT {{key}}, d.currency, sum(d.count) AS open, sum(d.amount_sum) AS value,
                       round(sum(d.weighted_sum), 4) AS weighted
                FROM deal_open_totals d WHERE d.tenant_id = :t{self.deal_filter} {{group}}
                HAVING sum(d.count) <> 0""", OPEN_KEYS, "NULL", ("open_deals",), extra_group="d.currency",
                                   snapshot=True):
            target = self._target(row)
            target["open_deals"] = target.get("open_deals", 0) + row.open
            if row.currency:
                target.setdefault("open_value", []).append((row.value, row.currency))
                target.setdefault("weighted", []).append((row.weighted, row.currency))

    async def _proposals(self) -> None:
        """Deals entering an is_proposal stage; the deals themselves are read only when a filter or the
        group key needs them (else trashed deals are left out through an anti-join)."""
        if self.days:
            return await self._proposals_by_day(self.days)
        key = key_expr(self.group_by, DEAL_KEYS, "h.entered_at")
        needs_deal = bool(self.deal_filter) or (self.group_by is not None and self.group_by not in TIME_KEYS)
        deals = (f"JOIN deals d ON d.tenant_id = h.tenant_id AND d.id = h.deal_id AND d.deleted_at IS NULL"
                 f"{self.deal_filter}") if needs_deal and key is not None else (
            "WHERE NOT EXISTS (SELECT 1 FROM deals d WHERE d.tenant_id = h.tenant_id AND d.id = h.deal_id "
            "AND d.deleted_at IS NOT NULL)")
        for row in await self._run(f"""
                SELECT {{key}}, count(DISTINCT h.deal_id) AS proposals
                FROM (SELECT h.tenant_id, h.deal_id, h.entered_at FROM deal_stage_history h
                      JOIN pipeline_stages s ON s.tenant_id = h.tenant_id AND s.id = h.stage_id AND s.is_proposal
                      WHERE h.tenant_id = :t AND h.entered_at >= :s AND h.entered_at < :e) h
                {deals} {{group}}""", DEAL_KEYS, "h.entered_at", ("proposals_sent",)):
            self._target(row).update(proposals_sent=row.proposals)

    async def _proposals_by_day(self, days: DealDays) -> None:
        """Entries into proposal stages per local day from a deal rollup, less the entries whose previous
        proposal entry of the same deal is in the same bucket (the same period for the totals): each deal
        once per bucket (migration 20261126_0704)."""
        key = key_expr(self.group_by, days.keys, "d.day", local_day=True)
        start = ":s" if self.group_by not in TIME_KEYS else (
            "(CAST(:bounds AS timestamptz[]))[width_bucket(h.entered_at, CAST(:bounds AS timestamptz[]))]")
        total = "sum(d.nt)" if self.group_by is None else (
            f"CASE WHEN GROUPING({key}) = 1 THEN sum(d.nt) ELSE sum(d.n) END")
        for row in await self._run(f"""
                SELECT {{key}}, ({total})::bigint AS proposals FROM (
                    SELECT d.tenant_id, {days.columns}, d.day, d.count AS n, d.count AS nt
                    FROM {days.rows("proposal")}{self.days_filter}
                    UNION ALL
                    SELECT d.tenant_id, {days.deal_columns}, (h.entered_at AT TIME ZONE :tz)::date,
                           -(h.prev_proposal_at >= {start})::int, -1
                    FROM deal_stage_history h
                    JOIN deals d ON d.tenant_id = h.tenant_id AND d.id = h.deal_id AND d.deleted_at IS NULL
                        {self.deal_filter}
                    WHERE h.tenant_id = :t AND h.prev_proposal_at >= :s AND h.entered_at < :e) d
                {{group}} HAVING {total} <> 0""", days.keys, "d.day", ("proposals_sent",), local_day=True):
            self._target(row).update(proposals_sent=row.proposals)

    async def _activities(self) -> None:
        """Calls by occurred_at and meetings by starts_at: the days that are over from an activity rollup,
        the rest (today) counted from the activities' own partial indexes; or all of it from those."""
        days = self.activity_days
        for kind, at, name in (("call", "occurred_at", "calls_logged"), ("meeting", "starts_at", "meetings_logged")):
            if days:
                rows = await self._run(f"""
                    SELECT {{key}}, sum(a.n)::bigint AS n FROM (
                        SELECT a.tenant_id, {days.columns}, a.day, a.count AS n FROM {days.table} a
                        WHERE a.tenant_id = :t AND a.type = '{kind}' AND a.day >= :fd AND a.day < :cut
                          {self.activity_filter}
                        UNION ALL
                        SELECT a.tenant_id, {days.activity_columns}, (a.{at} AT TIME ZONE :tz)::date, 1
                        FROM activities a
                        WHERE a.tenant_id = :t AND a.deleted_at IS NULL AND a.type = '{kind}' AND a.{at} >= :cut_at
                          AND a.{at} >= :s AND a.{at} < :e AND a.{at} <= :now{self.activity_filter}) a
                    {{group}} HAVING sum(a.n) <> 0""", days.keys, "a.day", (name,), local_day=True)
                for row in rows:
                    self._target(row)[name] = row.n
                continue
            for row in await self._run(f"""
                    SELECT {{key}}, count(*) AS n FROM activities a
                    WHERE a.tenant_id = :t AND a.deleted_at IS NULL AND a.type = '{kind}' AND a.{at} >= :s
                      AND a.{at} < :e AND a.{at} <= :now{self.activity_filter} {{group}}""",
                                       ACTIVITY_KEYS, f"a.{at}", (name,)):
                self._target(row)[name] = row.n

    async def _customers(self) -> None:
        """New and retained customers: companies by the won deals (filters applied) up to the window's end."""
        key = key_expr(self.group_by, {}, "c.first_won") or "NULL::text"
        sql = grouped(f"""
            WITH c AS (
                SELECT d.company_id, min(d.won_at) AS first_won,
                       bool_or(d.won_at >= :s) AS won_in, bool_or(d.won_at < :s) AS before
                FROM deals d WHERE {LIVE_DEALS} AND d.status = 'won' AND d.company_id IS NOT NULL
                  AND d.won_at < :e{self.deal_filter}
                GROUP BY d.company_id)
            SELECT {{key}}, count(*) FILTER (WHERE c.first_won >= :s) AS new,
                   count(*) FILTER (WHERE c.won_in AND c.before) AS retained
            FROM c {{group}}""", key)
        for row in (await self.session.execute(text(sql), self.params)).all():
            if row.total:
                self.totals.update(new_customers=row.new, retained_customers=row.retained)
            elif row.new:  # by the day (week, month) of the first won deal; buckets before the window have 0
                self.values[row.k].update(new_customers=row.new)
        if self.group_by is not None:
            self.grouped.add("new_customers")

    def metrics(self, v: dict[str, Any], totals: bool) -> SalesMetrics:
        """The metrics of one group (or the totals); counts a query could not group stay null in groups."""
        def count(name: str) -> int | None:
            return v.get(name, 0 if totals or name in self.grouped else None)

        won, lost, created = count("deals_won"), count("deals_lost"), count("new_deals")
        meetings, open_deals = count("meetings_logged"), count("open_deals")
        converted = None
        if self.rates is not None:
            revenue = v.get("revenue", [])
            converted = ConvertedMoney(
                new_revenue=self.rates.money(revenue) if won is not None else None,
                average_deal_size=self.rates.average(revenue, v.get("priced", 0)) if won is not None else None,
                open_pipeline_value=self.rates.money(v.get("open_value", [])) if open_deals is not None else None,
                weighted_pipeline_value=self.rates.money(v.get("weighted", [])) if open_deals is not None else None)
        return SalesMetrics(
            new_leads=count("new_leads"), leads_mql=count("leads_mql"), leads_sql=count("leads_sql"),
            qualification_rate=rate(v.get("leads_mql"), v.get("new_leads")),
            new_deals=created, deals_won=won, deals_lost=lost,
            win_rate=rate(won, (won or 0) + (lost or 0)) if won is not None and lost is not None else None,
            close_rate=rate(count("created_won"), created),
            new_revenue=monies(v.get("revenue", [])) if won is not None else None,
            average_deal_size=monies(v.get("average", [])) if won is not None else None,
            average_sales_cycle_days=decimal_text(v.get("cycle")),
            open_deals=count("open_deals"),
            open_pipeline_value=monies(v.get("open_value", [])) if count("open_deals") is not None else None,
            weighted_pipeline_value=monies(v.get("weighted", [])) if count("open_deals") is not None else None,
            proposals_sent=count("proposals_sent"), calls_logged=count("calls_logged"), meetings_logged=meetings,
            meetings_per_won_deal=rate(meetings, won),
            new_customers=count("new_customers"),
            retained_customers=v.get("retained_customers", 0 if totals else None),
            renewal_rate=rate(v.get("renewals_won"), v.get("renewals_won", 0) + v.get("renewals_lost", 0))
            if won is not None and lost is not None else None,
            converted=converted,
        )
