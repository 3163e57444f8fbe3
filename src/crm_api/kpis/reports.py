"""Funnel, service, leaderboard and marketing KPIs: each number one SQL aggregate."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text

from crm_api.kit.errors import ValidationFailed
from crm_api.kit.schemas import money_out
from crm_api.kit.uow import UnitOfWork
from crm_api.kpis import rates
from crm_api.kpis.schemas import (
    FunnelStage,
    LeaderboardRow,
    MarketingConverted,
    MarketingReport,
    MarketingRow,
    Period,
    ServiceGroup,
    ServiceMetrics,
)
from crm_api.kpis.sql import (
    TIME_KEYS,
    Window,
    decimal_text,
    exact_median,
    grouped,
    key_expr,
    monies,
    rate,
    unsupported,
)

CASE_KEYS = {"owner": "c.assignee_id", "team": "c.team"}
SERVICE_GROUPS = ("owner", "team", *TIME_KEYS)
HOURS = "/ 3600"
# A median's hours from the seconds read (sorted as seconds: the same order, one division per middle value).
HOURS_VALUE = f"v.value {HOURS}"


def _clock(reading: str, at: str) -> str:
    """Seconds from creation to `at`: the SLA clock's reading where a policy applies, else calendar time."""
    return (f"(CASE WHEN c.sla_policy_id IS NOT NULL AND c.{reading} IS NOT NULL THEN c.{reading} "
            f"ELSE extract(epoch FROM c.{at} - c.created_at) END)")


RESOLUTION = _clock("resolution_seconds", "resolved_at")
RESPONSE = _clock("first_response_seconds", "first_response_at")


def _params(uow: UnitOfWork, window: Window, group_by: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"t": uow.tenant_id, **window.params(group_by), **extra}


# A stay's days in its stage, as the funnel has always computed them (the rollup's days_sum adds the same values).
STAY_DAYS = "extract(epoch FROM h.left_at - h.entered_at) / 86400"


async def funnel(uow: UnitOfWork, window: Window, pipeline_id: uuid.UUID | None,
                 owner_id: uuid.UUID | None) -> tuple[uuid.UUID, list[FunnelStage]]:
    """Per stage: deals that entered it in the window, how many moved further on, days spent (left stays)."""
    session = uow.session
    params = _params(uow, window, owner=owner_id)
    if pipeline_id is None:
        pipeline_id = (await session.execute(text(
            "SELECT id FROM pipelines WHERE tenant_id = :t AND deleted_at IS NULL AND is_default"), params)).scalar()
    found = pipeline_id is not None and (await session.execute(text(
        "SELECT (SELECT time_zone FROM tenants WHERE id = :t) AS zone FROM pipelines "
        "WHERE tenant_id = :t AND id = :p AND deleted_at IS NULL"), {**params, "p": pipeline_id})).first()
    if not found or pipeline_id is None:
        raise ValidationFailed.field("pipeline_id", f"no pipeline {pipeline_id}")
    params["p"] = pipeline_id
    # The rollup's days are the tenant's local days: a window in another zone, or one owner's deals, read the stays.
    by_day = owner_id is None and found.zone == window.time_zone
    rows = (await session.execute(text(FUNNEL_DAYS if by_day else _funnel_stays(owner_id)), params)).all()
    return pipeline_id, [
        FunnelStage(stage_id=r.id, name=r.name, position=r.position, kind=r.kind, entered=r.entered,
                    conversion_to_next=rate(r.advanced, r.entered) if r.kind == "open" else None,
                    average_days=decimal_text(r.average), median_days=decimal_text(r.median))
        for r in rows]


LIVE = ("NOT EXISTS (SELECT 1 FROM deals d WHERE d.tenant_id = h.tenant_id AND d.id = h.deal_id "
        "AND d.deleted_at IS NOT NULL)")
STAGES = """
    SELECT s.id, s.name, s.position, s.kind, {columns}
    FROM pipeline_stages s {joins}
    WHERE s.tenant_id = :t AND s.pipeline_id = :p AND s.deleted_at IS NULL
    ORDER BY s.position"""


def _funnel_stays(owner_id: uuid.UUID | None) -> str:
    """The funnel from the period's stays: one index-only pass; `advanced` (a later stay further on, not lost) is
    stored per stay by triggers (migration 20261126_0702). Deals are counted once per stage. One owner's: the
    stays keep their deal's owner (migration 20261128_1201), a range of an index of the owned stays."""
    deal = f"h.owner_id = :owner AND {LIVE}" if owner_id else LIVE
    return f"""
        WITH st AS MATERIALIZED (
            SELECT h.deal_id, h.stage_id, h.advanced, {STAY_DAYS} AS days
            FROM deal_stage_history h
            WHERE h.tenant_id = :t AND h.pipeline_id = :p AND h.entered_at >= :s AND h.entered_at < :e AND {deal}),
        deals AS (
            SELECT x.stage_id, count(*) AS entered, count(*) FILTER (WHERE x.advanced) AS advanced
            FROM (SELECT st.stage_id, st.deal_id, bool_or(st.advanced) AS advanced FROM st GROUP BY 1, 2) x
            GROUP BY 1),
        times AS (
            SELECT st.stage_id, round(avg(st.days)::numeric, 2) AS average,
                   round((percentile_cont(0.5) WITHIN GROUP (ORDER BY st.days))::numeric, 2) AS median
            FROM st WHERE st.days IS NOT NULL GROUP BY 1)""" + STAGES.format(
        columns="coalesce(d.entered, 0) AS entered, coalesce(d.advanced, 0) AS advanced, t.average, t.median",
        joins="LEFT JOIN deals d ON d.stage_id = s.id LEFT JOIN times t ON t.stage_id = s.id")


# The funnel from deal_stay_day_totals (migration 20261127_0901): the period's local days per stage and duration
# bucket. Stays are counted there; deals once per stage are those counts less the "repeats" (stays whose
# previous stay of the deal in the same stage is in the period: rare, a partial index), corrected from the stays
# of those deals. The median: the buckets holding the middle rank(s) from the histogram, then the k-th value of
# each from the period's ended stays of that bucket (an index on the stored bucket; ordered by the interval spent,
# whose order is the days' and cheaper to sort); percentile_cont() of those one or two values is what it gives over
# all the stays. The average is the days' exact sum over their count (avg()).
STAY_MIDDLE = f"""
    SELECT h.left_at - h.entered_at FROM deal_stage_history h
    WHERE h.tenant_id = :t AND h.pipeline_id = :p AND h.stage_id = m.stage_id
      AND h.duration_bucket = m.bucket AND h.left_at IS NOT NULL
      AND h.entered_at >= :s AND h.entered_at < :e AND {LIVE}"""
FUNNEL_DAYS = f"""
    WITH hist AS (
        SELECT x.stage_id, x.bucket, sum(x.entered)::bigint AS entered, sum(x.advanced)::bigint AS advanced,
               sum(x.left_count)::bigint AS left_count, sum(x.days_sum) AS days_sum
        FROM deal_stay_day_totals x
        WHERE x.tenant_id = :t AND x.pipeline_id = :p AND x.day >= :fd AND x.day <= :td
        GROUP BY 1, 2),
    totals AS (
        SELECT x.stage_id, sum(x.entered)::bigint AS entered, sum(x.advanced)::bigint AS advanced,
               sum(x.left_count)::bigint AS left_count, sum(x.days_sum) AS days_sum
        FROM hist x GROUP BY 1),
    repeats AS (
        SELECT g.stage_id, sum(g.n - 1)::bigint AS entered, sum(g.advanced - g.deal_advanced)::bigint AS advanced
        FROM (SELECT h.stage_id, count(*) AS n, count(*) FILTER (WHERE h.advanced) AS advanced,
                     bool_or(h.advanced)::int AS deal_advanced
              FROM deal_stage_history h
              WHERE h.tenant_id = :t AND (h.deal_id, h.stage_id) IN (
                        SELECT r.deal_id, r.stage_id FROM deal_stage_history r
                        WHERE r.tenant_id = :t AND r.pipeline_id = :p AND r.prev_stage_at >= :s
                          AND r.entered_at < :e)
                AND h.pipeline_id = :p AND h.entered_at >= :s AND h.entered_at < :e AND {LIVE}
              GROUP BY h.deal_id, h.stage_id) g
        GROUP BY 1),
    {exact_median("medians", "SELECT stage_id, bucket, left_count AS n FROM hist WHERE bucket >= 0", "stage_id",
                  STAY_MIDDLE, value="extract(epoch FROM v.value) / 86400")}""" + STAGES.format(
    columns="""coalesce(t.entered, 0) - coalesce(r.entered, 0) AS entered,
               coalesce(t.advanced, 0) - coalesce(r.advanced, 0) AS advanced,
               round(t.days_sum / nullif(t.left_count, 0), 2) AS average, round(md.median::numeric, 2) AS median""",
    joins="""LEFT JOIN totals t ON t.stage_id = s.id LEFT JOIN repeats r ON r.stage_id = s.id
             LEFT JOIN medians md ON md.stage_id = s.id""")


# Each statement of the service report and the metrics it feeds (a time series runs only its metric's).
SERVICE_FAMILIES: dict[str, frozenset[str]] = {
    "opened": frozenset({"cases_opened", "cases_per_channel"}),
    "resolved": frozenset({"cases_resolved", "same_day_resolution_rate", "average_resolution_hours",
                           "median_resolution_hours", "sla_compliance_rate", "reopen_rate"}),
    "answered": frozenset({"average_first_response_hours", "median_first_response_hours"}),
    "breached": frozenset({"breached_cases"}),
    "csat": frozenset({"csat_average", "csat_responses"}),
}


async def service(uow: UnitOfWork, window: Window, group_by: str | None, owner_id: uuid.UUID | None,
                  only: frozenset[str] | None = None) -> tuple[ServiceMetrics, list[ServiceGroup]]:
    """Support numbers over the window, grouped when asked; with `only`, just the statements those metrics need
    (the others stay at their empty values)."""
    def wanted(family: str) -> bool:
        return only is None or bool(only & SERVICE_FAMILIES[family])

    if group_by is not None and group_by not in SERVICE_GROUPS:
        raise unsupported(group_by, "service")
    params = _params(uow, window, group_by, owner=owner_id)
    live = "c.tenant_id = :t AND c.deleted_at IS NULL" + (" AND c.assignee_id = :owner" if owner_id else "")
    values: dict[Any, dict[str, Any]] = defaultdict(dict)

    async def run(select: str, ts: str, extra_group: str = "", local_day: bool = False,
                  keys: dict[str, str] = CASE_KEYS) -> list[Any]:
        key = key_expr(group_by, keys, ts, local_day) or "NULL::text"
        return list((await uow.session.execute(text(grouped(select, key, extra_group)), params)).all())

    # The rollups' days are the tenant's local days: a window in another zone, or one owner's cases, read the
    # cases. Totals and day/week/month groups: case_day_totals (opened, breached; migration 20261126_0707) and
    # case_service_day_totals (resolved, answered; 20261127_1001); by owner or team: case_key_day_totals
    # (20261127_1002).
    rollup = owner_id is None and window.time_zone == (
        await uow.session.execute(text("SELECT time_zone FROM tenants WHERE id = :t"), params)).scalar_one()
    by_day = rollup and group_by in (None, *TIME_KEYS)
    by_key = rollup and group_by in CASE_KEYS
    days = "c.tenant_id = :t AND c.kind = '{}' AND c.day >= :fd AND c.day <= :td"
    keyed = f"c.tenant_id = :t AND c.kind = '{{}}' AND c.attribute = '{group_by}' AND c.day >= :fd AND c.day <= :td"
    value = {k: "c.value" for k in CASE_KEYS}

    def target(row: Any) -> dict[str, Any]:
        return values["__total__"] if row.total else values[row.k]

    opened = [] if not wanted("opened") else await run(f"""
                           SELECT {{key}}, c.channel, sum(c.count)::bigint AS n FROM case_day_totals c
                           WHERE {days.format("opened")} {{group}} HAVING sum(c.count) <> 0""",
                       "c.day", "c.channel", local_day=True) if by_day else await run(
        f"""SELECT {{key}}, c.channel, sum(c.count)::bigint AS n FROM case_key_day_totals c
            WHERE {keyed.format("opened")} {{group}} HAVING sum(c.count) <> 0""",
        "c.day", "c.channel", keys=value) if by_key else await run(
        f"""SELECT {{key}}, c.channel, count(*) AS n FROM cases c
            WHERE {live} AND c.created_at >= :s AND c.created_at < :e {{group}}""", "c.created_at", "c.channel")
    for row in opened:
        entry = target(row)
        entry.setdefault("channels", {})[row.channel] = row.n
        entry["opened"] = entry.get("opened", 0) + row.n
    # Resolved and first-answered cases: totals and day/week/month groups from case_service_day_totals
    # (migration 20261127_1001), the medians exact from its duration histogram and the middle buckets' cases;
    # by owner or team, or in another zone, from the cases.
    if by_day and group_by in TIME_KEYS:
        # Each time group's UTC range within the window, for the middle buckets' reads (_service_days): only the
        # first bucket can start before the window.
        bounds = params["bounds"]
        params.update(lows=[params["s"], *bounds[1:]], highs=[*bounds[1:], params["e"]])
    if by_day or by_key:
        for row in [] if not wanted("resolved") else (
                await uow.session.execute(text(_service_days("resolved", group_by)), params)).all():
            target(row).update(resolved=row.n, same_day=row.same_day, resolution_avg=row.average,
                               resolution_median=row.median, reopened=row.reopened, with_sla=row.with_sla,
                               kept=row.kept)
        for row in [] if not wanted("answered") else (
                await uow.session.execute(text(_service_days("answered", group_by)), params)).all():
            target(row).update(response_avg=row.average, response_median=row.median)
    else:
        for row in [] if not wanted("resolved") else await run(f"""
                SELECT {{key}}, count(*) AS resolved,
                       count(*) FILTER (WHERE (c.resolved_at AT TIME ZONE :tz)::date
                                            = (c.created_at AT TIME ZONE :tz)::date) AS same_day,
                       round(avg({RESOLUTION} {HOURS})::numeric, 2) AS average,
                       round((percentile_cont(0.5) WITHIN GROUP (ORDER BY {RESOLUTION} {HOURS}))::numeric, 2)
                           AS median,
                       count(*) FILTER (WHERE c.reopened_count > 0) AS reopened,
                       count(*) FILTER (WHERE c.sla_policy_id IS NOT NULL) AS with_sla,
                       count(*) FILTER (WHERE c.sla_policy_id IS NOT NULL AND c.first_response_breached_at IS NULL
                                          AND c.resolution_breached_at IS NULL) AS kept
                FROM cases c WHERE {live} AND c.resolved_at >= :s AND c.resolved_at < :e {{group}}""",
                             "c.resolved_at"):
            target(row).update(resolved=row.resolved, same_day=row.same_day, resolution_avg=row.average,
                               resolution_median=row.median, reopened=row.reopened, with_sla=row.with_sla,
                               kept=row.kept)
        for row in [] if not wanted("answered") else await run(f"""
                SELECT {{key}},
                       round(avg({RESPONSE} {HOURS})::numeric, 2) AS average,
                       round((percentile_cont(0.5) WITHIN GROUP (ORDER BY {RESPONSE} {HOURS}))::numeric, 2)
                           AS median
                FROM cases c WHERE {live} AND c.first_response_at >= :s AND c.first_response_at < :e {{group}}""",
                             "c.first_response_at"):
            target(row).update(response_avg=row.average, response_median=row.median)
    breach = "LEAST(c.first_response_breached_at, c.resolution_breached_at)"
    breached = [] if not wanted("breached") else await run(f"""
                             SELECT {{key}}, sum(c.count)::bigint AS n FROM case_day_totals c
                             WHERE {days.format("breached")} {{group}} HAVING sum(c.count) <> 0""",
                         "c.day", local_day=True) if by_day else await run(
        f"""SELECT {{key}}, sum(c.count)::bigint AS n FROM case_key_day_totals c
            WHERE {keyed.format("breached")} {{group}} HAVING sum(c.count) <> 0""",
        "c.day", keys=value) if by_key else await run(
        f"""SELECT {{key}}, count(*) AS n FROM cases c
            WHERE {live} AND {breach} >= :s AND {breach} < :e {{group}}""", breach)
    for row in breached:
        target(row)["breached"] = row.n
    # CSAT: totals and day/week/month groups from case_service_day_totals' 'csat' rows (the scores' histogram
    # per local day, migration 20261128_1301; avg() of the integer scores is the very division below).
    for row in [] if not wanted("csat") else await run(f"""
                             SELECT {{key}}, round(sum(c.bucket * c.count) / sum(c.count), 2) AS average,
                                    sum(c.count)::bigint AS n
                             FROM case_service_day_totals c WHERE {days.format("csat")} {{group}}
                             HAVING sum(c.count) <> 0""", "c.day", local_day=True) if by_day else await run(f"""
                             SELECT {{key}}, round(avg(c.satisfaction_score), 2) AS average, count(*) AS n
                             FROM cases c WHERE {live} AND c.satisfaction_score IS NOT NULL
                               AND c.satisfaction_at >= :s AND c.satisfaction_at < :e {{group}}""",
                         "c.satisfaction_at"):
        target(row).update(csat=row.average, csat_n=row.n)

    def metrics(v: dict[str, Any]) -> ServiceMetrics:
        return ServiceMetrics(
            cases_opened=v.get("opened", 0), cases_resolved=v.get("resolved", 0),
            same_day_resolution_rate=rate(v.get("same_day"), v.get("resolved")),
            average_first_response_hours=decimal_text(v.get("response_avg")),
            median_first_response_hours=decimal_text(v.get("response_median")),
            average_resolution_hours=decimal_text(v.get("resolution_avg")),
            median_resolution_hours=decimal_text(v.get("resolution_median")),
            sla_compliance_rate=rate(v.get("kept"), v.get("with_sla")), breached_cases=v.get("breached", 0),
            reopen_rate=rate(v.get("reopened"), v.get("resolved")), csat_average=decimal_text(v.get("csat")),
            csat_responses=v.get("csat_n", 0), cases_per_channel=dict(sorted(v.get("channels", {}).items())))

    totals = metrics(values.pop("__total__", {}))
    groups = [ServiceGroup(key=k, metrics=metrics(v))
              for k, v in sorted(values.items(), key=lambda kv: (kv[0] is None, kv[0] or ""))]
    return totals, groups


# The case times the service rollup keeps per kind: the clock's seconds, the local day's timestamp and the stored
# duration bucket (crm_duration_bucket of the seconds, migration 20261127_1001).
SERVICE_TIMES = {"resolved": (RESOLUTION, "c.resolved_at", "c.resolution_bucket"),
                 "answered": (RESPONSE, "c.first_response_at", "c.response_bucket")}


def _service_days(kind: str, group_by: str | None) -> str:
    """Cases resolved (or first answered) per group: counts and flags summed over the period's local days of a
    rollup, the average as the hours' exact sum over their count (what avg() is), the median exact from a
    duration histogram and the middle buckets' cases (`exact_median`).

    Totals and day/week/month groups read case_service_day_totals, whose rows are the histogram; group 0 is
    the total, a time group its bucket's index in the window's bucket starts (Window.params). By owner or team
    the sums come from case_key_day_totals and each group's histogram is counted from the period's cases (their
    stored buckets); the group is 't' (the total), 'n' (no owner or team) or 'v' and the key."""
    seconds, at, bucket = SERVICE_TIMES[kind]
    timed = group_by in TIME_KEYS
    sums = ("sum(x.n)::bigint AS n, sum(x.hours) AS hours, sum(x.same_day)::bigint AS same_day, "
            "sum(x.reopened)::bigint AS reopened, sum(x.with_sla)::bigint AS with_sla, sum(x.kept)::bigint AS kept")
    columns = ("sum(r.count) AS n, sum(r.hours_sum) AS hours, sum(r.same_day) AS same_day, "
               "sum(r.reopened) AS reopened, sum(r.with_sla) AS with_sla, sum(r.kept) AS kept")
    # A group's cases are those of its UTC range within the window (the window's zone is the tenant's); a time
    # group's bounds come from arrays (`lows`, `highs`, made in service()) so that they are index conditions:
    # under row-level security a bound computed from a joined row with a function that is not leakproof
    # (such as + on integers) is checked on every index entry instead.
    start, end = "CAST(:s AS timestamptz)", "CAST(:e AS timestamptz)"
    if timed:
        start = f"CASE WHEN m.g = 0 THEN {start} ELSE (CAST(:lows AS timestamptz[]))[m.g] END"
        end = f"CASE WHEN m.g = 0 THEN {end} ELSE (CAST(:highs AS timestamptz[]))[m.g] END"
    cases = f"""FROM cases c
        WHERE c.tenant_id = :t AND c.deleted_at IS NULL AND {at} >= {start} AND {at} < {end}"""
    if group_by in CASE_KEYS:
        # The owners or teams share buckets, and an index on the group key too would be one more per kind: the
        # middle buckets' cases are read once under their group, once more for the total's middle bucket(s).
        column = CASE_KEYS[group_by]
        middle = "= ANY ((SELECT buckets FROM medians_buckets)::smallint[])"
        values = f"""
            SELECT CASE WHEN {column} IS NULL THEN 'n' ELSE 'v' || ({column})::text END, {bucket}, {seconds}
            {cases} AND {bucket} {middle}
            UNION ALL
            SELECT 't', {bucket}, {seconds} {cases}
              AND {bucket} = ANY (ARRAY(SELECT bucket FROM medians_middle WHERE g = 't'))"""
        return f"""
    WITH sums AS (
        SELECT coalesce(x.g, 't') AS g, {sums}
        FROM (SELECT CASE WHEN r.value IS NULL THEN 'n' ELSE 'v' || r.value END AS g, {columns}
              FROM case_key_day_totals r
              WHERE r.tenant_id = :t AND r.kind = '{kind}' AND r.attribute = '{group_by}'
                AND r.day >= :fd AND r.day <= :td
              GROUP BY 1) x
        GROUP BY GROUPING SETS ((x.g), ()) HAVING sum(x.n) <> 0),
    per AS (SELECT {column} AS key, {bucket} AS bucket, count(*) AS n {cases} GROUP BY 1, 2),
    hist AS (SELECT CASE WHEN key IS NULL THEN 'n' ELSE 'v' || key::text END AS g, bucket, n FROM per
             UNION ALL SELECT 't', bucket, sum(n)::bigint FROM per GROUP BY 2),
    {exact_median("medians", "SELECT g, bucket, n FROM hist", "g", values, lateral=False, value=HOURS_VALUE)}
    SELECT s.g = 't' AS total, CASE WHEN s.g LIKE 'v%' THEN substr(s.g, 2) END AS k, s.n,
           s.same_day, s.reopened, s.with_sla, s.kept, round(s.hours / s.n, 2) AS average,
           round(md.median::numeric, 2) AS median
    FROM sums s LEFT JOIN medians md ON md.g = s.g"""
    values = f"SELECT {seconds} {cases} AND {bucket} = m.bucket"
    totals = " UNION ALL SELECT 0, x.bucket, sum(x.n)::bigint FROM per x GROUP BY 2" if timed else ""
    # The histogram sums only the counts per group and bucket; the other sums go per group straight from the day
    # rows (summed per group and bucket too, a year by day was 7,800 groups of numeric sums).
    return f"""
    WITH days AS (
        SELECT {"width_bucket(r.day, CAST(:days AS date[]))" if timed else "0"} AS g, r.bucket, r.count AS n,
               r.hours_sum AS hours, r.same_day, r.reopened, r.with_sla, r.kept
        FROM case_service_day_totals r
        WHERE r.tenant_id = :t AND r.kind = '{kind}' AND r.day >= :fd AND r.day <= :td),
    per AS (SELECT x.g, x.bucket, sum(x.n)::bigint AS n FROM days x GROUP BY 1, 2),
    hist AS (SELECT x.g, x.bucket, x.n FROM per x{totals}),
    sums AS (SELECT coalesce(x.g, 0) AS g, {sums} FROM days x
             GROUP BY {"GROUPING SETS ((x.g), ())" if timed else "1"} HAVING sum(x.n) > 0),
    {exact_median("medians", "SELECT g, bucket, n FROM hist", "g", values, value=HOURS_VALUE)}
    SELECT s.g = 0 AS total, {"(CAST(:labels AS text[]))[s.g]" if timed else "NULL::text"} AS k, s.n,
           s.same_day, s.reopened, s.with_sla, s.kept, round(s.hours / s.n, 2) AS average,
           round(md.median::numeric, 2) AS median
    FROM sums s LEFT JOIN medians md ON md.g = s.g"""


async def leaderboard(uow: UnitOfWork, window: Window, pipeline_id: uuid.UUID | None) -> list[LeaderboardRow]:
    """Every user: deals won and lost in the window, won revenue per currency, activities logged."""
    params = _params(uow, window, pipeline=pipeline_id)
    pipeline = " AND d.pipeline_id = :pipeline" if pipeline_id else ""
    won_in, lost_in = "d.won_at >= :s AND d.won_at < :e", "d.lost_at >= :s AND d.lost_at < :e"
    # Activities logged: the tenant-local days' 'logged' rows of activity_day_totals (migration
    # 20261126_0706) when the window is in the tenant's zone, else the activities themselves.
    zone = (await uow.session.execute(text("SELECT time_zone FROM tenants WHERE id = :t"), params)).scalar_one()
    logged = """
        SELECT a.owner_id, sum(a.count) AS n FROM activity_day_totals a
        WHERE a.tenant_id = :t AND a.type = 'logged' AND a.owner_id IS NOT NULL AND a.day >= :fd AND a.day <= :td
        GROUP BY a.owner_id""" if zone == window.time_zone else """
        SELECT a.owner_id, count(*) AS n FROM activities a
        WHERE a.tenant_id = :t AND a.deleted_at IS NULL AND a.owner_id IS NOT NULL
          AND a.created_at >= :s AND a.created_at < :e
        GROUP BY a.owner_id"""
    rows = (await uow.session.execute(text(f"""
        WITH closed AS (
            SELECT x.owner_id, count(*) FILTER (WHERE x.won) AS won, count(*) FILTER (WHERE NOT x.won) AS lost
            FROM (SELECT d.owner_id, true AS won FROM deals d
                  WHERE d.tenant_id = :t AND d.deleted_at IS NULL AND d.status = 'won' AND {won_in}{pipeline}
                  UNION ALL
                  SELECT d.owner_id, false FROM deals d
                  WHERE d.tenant_id = :t AND d.deleted_at IS NULL AND d.status = 'lost' AND {lost_in}{pipeline}) x
            WHERE x.owner_id IS NOT NULL
            GROUP BY x.owner_id),
        logged AS ({logged})
        SELECT u.id, u.name, coalesce(closed.won, 0) AS won, coalesce(closed.lost, 0) AS lost,
               coalesce(logged.n, 0)::bigint AS logged
        FROM users u LEFT JOIN closed ON closed.owner_id = u.id LEFT JOIN logged ON logged.owner_id = u.id
        WHERE u.tenant_id = :t AND u.deleted_at IS NULL
        ORDER BY coalesce(closed.won, 0) DESC, coalesce(logged.n, 0) DESC, u.name, u.id"""), params)).all()
    revenue: dict[uuid.UUID, list[tuple[Any, str]]] = defaultdict(list)
    for r in (await uow.session.execute(text(f"""
            SELECT d.owner_id, d.currency, sum(d.amount) AS amount FROM deals d
            WHERE d.tenant_id = :t AND d.deleted_at IS NULL AND d.status = 'won' AND d.amount IS NOT NULL
              AND d.won_at >= :s AND d.won_at < :e AND d.owner_id IS NOT NULL{pipeline}
            GROUP BY d.owner_id, d.currency"""), params)).all():
        revenue[r.owner_id].append((r.amount, r.currency))
    converter = await rates.load(uow)
    return [LeaderboardRow(owner_id=r.id, name=r.name, won_revenue=monies(revenue[r.id]),
                           won_revenue_converted=converter.money(revenue[r.id]) if converter else None, deals_won=r.won,
                           win_rate=rate(r.won, r.won + r.lost), activities_logged=r.logged) for r in rows]


@dataclass(frozen=True)
class LeadCounts:
    leads: int
    conversions: int


async def marketing(uow: UnitOfWork, window: Window, period: Period, owner_id: uuid.UUID | None) -> MarketingReport:
    """Per campaign and per source: leads, conversions, revenue, cost; lifetime value, cross-sell, subscribers."""
    session = uow.session
    params = _params(uow, window, owner=owner_id)
    lead_owner = " AND l.owner_id = :owner" if owner_id else ""
    deal_owner = " AND d.owner_id = :owner" if owner_id else ""
    # Won revenue per campaign and per source: the tenant-local days' 'won' rows of deal_attribution_day_totals
    # (migration 20261127_0801) without an owner filter; else the deals themselves.
    rolled = owner_id is None and window.time_zone == (
        await session.execute(text("SELECT time_zone FROM tenants WHERE id = :t"), params)).scalar_one()

    async def per(lead_key: str, deal_key: str, attribute: str,
                  cast: str) -> tuple[dict[Any, Any], dict[Any, list[tuple[Any, str]]]]:
        """Leads and conversions, and won revenue per currency, per campaign or source. Rolled up: the leads
        from lead_attribution_day_totals (migration 20261127_0804), the conversions (leads of the period whose
        deal is won) from the converted leads' own index (0805)."""
        if rolled:
            counts = {r.k: [r.leads, 0] for r in (await session.execute(text(f"""
                SELECT l.value{cast} AS k, sum(l.count) AS leads FROM lead_attribution_day_totals l
                WHERE l.tenant_id = :t AND l.attribute = '{attribute}' AND l.day >= :fd AND l.day <= :td
                GROUP BY 1 HAVING sum(l.count) <> 0"""), params)).all()}
            for r in (await session.execute(text(f"""
                    SELECT {lead_key} AS k, count(*) AS conversions FROM leads l
                    JOIN deals d ON d.tenant_id = l.tenant_id AND d.id = l.converted_deal_id AND d.status = 'won'
                        AND d.deleted_at IS NULL
                    WHERE l.tenant_id = :t AND l.deleted_at IS NULL AND l.converted_deal_id IS NOT NULL
                      AND l.created_at >= :s AND l.created_at < :e
                    GROUP BY 1"""), params)).all():
                counts.setdefault(r.k, [0, 0])[1] = r.conversions
            leads: dict[Any, Any] = {k: LeadCounts(*v) for k, v in counts.items()}
        else:
            leads = {r.k: r for r in (await session.execute(text(f"""
                SELECT {lead_key} AS k, count(*) AS leads,
                       count(*) FILTER (WHERE d.status = 'won' AND d.deleted_at IS NULL) AS conversions
                FROM leads l LEFT JOIN deals d ON d.tenant_id = l.tenant_id AND d.id = l.converted_deal_id
                WHERE l.tenant_id = :t AND l.deleted_at IS NULL AND l.created_at >= :s AND l.created_at < :e
                  {lead_owner}
                GROUP BY 1"""), params)).all()}
        revenue: dict[Any, list[tuple[Any, str]]] = defaultdict(list)
        for r in (await session.execute(text(f"""
                SELECT d.value{cast} AS k, d.currency, sum(d.amount_sum) AS amount FROM deal_attribution_day_totals d
                WHERE d.tenant_id = :t AND d.kind = 'won' AND d.attribute = '{attribute}' AND d.day >= :fd
                  AND d.day <= :td AND d.currency <> ''
                GROUP BY 1, 2 HAVING sum(d.amount_count) > 0""" if rolled else f"""
                SELECT {deal_key} AS k, d.currency, sum(d.amount) AS amount FROM deals d
                WHERE d.tenant_id = :t AND d.deleted_at IS NULL AND d.status = 'won' AND d.amount IS NOT NULL
                  AND d.won_at >= :s AND d.won_at < :e{deal_owner}
                GROUP BY 1, 2"""), params)).all():
            revenue[r.k].append((r.amount, r.currency))
        return leads, revenue

    converter = await rates.load(uow)

    def converted(revenue: list[tuple[Any, str]], cost: Any, currency: str | None, n: int) -> MarketingConverted:
        """The row's money in the default currency (exact sums; per lead to the cent)."""
        assert converter is not None
        earned = converter.total(revenue)
        costs = [(cost, currency)] if cost is not None and currency else []
        spent = converter.total(costs) if costs else None
        return MarketingConverted(
            revenue=money_out(earned, converter.base), cost=money_out(spent, converter.base),
            cost_per_lead=converter.average(costs, n) if spent is not None else None,
            roi=rate(earned - spent, spent) if spent and earned is not None else None)

    def row(key: Any, name: str | None, leads: Any, revenue: list[tuple[Any, str]], cost: Any,
            currency: str | None) -> MarketingRow:
        n = leads.leads if leads else 0
        earned = sum((a for a, c in revenue if c == currency), start=0) if currency else None
        return MarketingRow(
            key=None if key is None else str(key), name=name, leads=n, conversions=leads.conversions if leads else 0,
            revenue=monies(revenue), cost=money_out(cost, currency),
            cost_per_lead=money_out(round(cost / n, 2), currency) if cost is not None and n else None,
            roi=rate(int((earned - cost) * 10000), int(cost * 10000)) if cost and earned is not None else None,
            converted=converted(revenue, cost, currency, n) if converter else None)

    leads, revenue = await per("l.campaign_id", "d.campaign_id", "campaign", "::uuid")
    campaigns = [row(c.id, c.name, leads.get(c.id), revenue.get(c.id, []), c.cost_amount, c.cost_currency)
                 for c in (await session.execute(text(
                     "SELECT id, name, cost_amount, cost_currency FROM campaigns WHERE tenant_id = :t "
                     "AND deleted_at IS NULL ORDER BY lower(name), id"), params)).all()]
    if None in leads or None in revenue:
        campaigns.append(row(None, None, leads.get(None), revenue.get(None, []), None, None))
    leads, revenue = await per("l.source", "d.source", "source", "")
    sources = [row(k, k, leads.get(k), revenue.get(k, []), None, None)
               for k in sorted(set(leads) | set(revenue), key=lambda k: (k is None, k or ""))]
    customers, lifetime = await (_customers_kept(uow, params) if rolled else _customers(uow, params, deal_owner))
    contact_owner = " AND owner_id = :owner" if owner_id else ""
    subscribers = (await session.execute(text(f"""
        SELECT count(*) AS total, count(*) FILTER (WHERE created_at >= :s) AS added FROM contacts
        WHERE tenant_id = :t AND deleted_at IS NULL AND lifecycle_stage = 'subscriber' AND created_at < :e
        {contact_owner}"""), params)).one()
    return MarketingReport(
        period=period, campaigns=campaigns, sources=sources,
        customer_lifetime_value=monies([(value, currency) for _, value, currency in lifetime]),
        customer_lifetime_value_converted=converter.average([(amount, currency) for amount, _, currency in lifetime],
                                                            customers.priced) if converter else None,
        cross_sell_rate=rate(customers.crossed, customers.customers), subscribers_added=subscribers.added,
        subscribers_total=subscribers.total,
        subscriber_growth_rate=rate(subscribers.added, subscribers.total - subscribers.added))


# Customers (companies with a won deal up to the period's end), cross-sell and lifetime value. `_customers`
# reads every won deal up to the period's end, hashed per company and pipeline (currency) first: a
# count(DISTINCT) sorted them all (130 of 196 ms at 100,000 won deals). Two statements: one materialized pass
# for both measured slower (358 ms against 106 + 96; bench/RESULTS.md). Without an owner filter, in the tenant's
# zone, `_customers_kept` reads when each company began to count (deal_customer_firsts) and the won amounts
# per local day (deal_customer_day_totals, migration 20261128_1301).
WON_WITH_COMPANY = """FROM deals d
        WHERE d.tenant_id = :t AND d.deleted_at IS NULL AND d.status = 'won' AND d.company_id IS NOT NULL
          AND d.won_at < :e{owner}"""


async def _customers(uow: UnitOfWork, params: dict[str, Any], owner: str) -> tuple[Any, list[tuple[Any, Any, str]]]:
    """(customers, crossed, priced) and the lifetime rows (amount, value, currency) from the won deals."""
    won = WON_WITH_COMPANY.format(owner=owner)
    customers = (await uow.session.execute(text(f"""
        WITH c AS (SELECT x.company_id, count(*) AS pipelines, bool_or(x.priced) AS priced
                   FROM (SELECT d.company_id, d.pipeline_id, bool_or(d.amount IS NOT NULL) AS priced {won}
                         GROUP BY d.company_id, d.pipeline_id) x
                   GROUP BY x.company_id)
        SELECT count(*) AS customers, count(*) FILTER (WHERE pipelines > 1) AS crossed,
               count(*) FILTER (WHERE priced) AS priced FROM c"""), params)).one()
    lifetime = [(r.amount, r.value, r.currency) for r in (await uow.session.execute(text(f"""
        SELECT x.currency, sum(x.amount) AS amount, round(sum(x.amount) / count(*), 2) AS value
        FROM (SELECT d.currency, d.company_id, sum(d.amount) AS amount {won} AND d.amount IS NOT NULL
              GROUP BY d.currency, d.company_id) x
        GROUP BY x.currency"""), params)).all()]
    return customers, lifetime


async def _customers_kept(uow: UnitOfWork, params: dict[str, Any]) -> tuple[Any, list[tuple[Any, Any, str]]]:
    """The same from deal_customer_firsts (a company counts once its first win, first priced win, or first win
    in a second pipeline is before the period's end) and deal_customer_day_totals (the won amounts up to the
    period's last local day)."""
    customers = (await uow.session.execute(text("""
        SELECT count(*) FILTER (WHERE f.won_at < :e) AS customers,
               count(*) FILTER (WHERE f.crossed_at < :e) AS crossed, count(*) FILTER (WHERE f.priced_at < :e) AS priced
        FROM deal_customer_firsts f WHERE f.tenant_id = :t AND f.currency = ''"""), params)).one()
    lifetime = [(r.amount, r.value, r.currency) for r in (await uow.session.execute(text("""
        SELECT a.currency, a.amount, round(a.amount / c.n, 2) AS value
        FROM (SELECT r.currency, sum(r.amount_sum) AS amount FROM deal_customer_day_totals r
              WHERE r.tenant_id = :t AND r.day <= :td GROUP BY 1 HAVING sum(r.count) > 0) a
        JOIN (SELECT f.currency, count(*) AS n FROM deal_customer_firsts f
              WHERE f.tenant_id = :t AND f.currency <> '' AND f.won_at < :e GROUP BY 1) c
          ON c.currency = a.currency"""), params)).all()]
    return customers, lifetime
