"""Building blocks of the KPI queries: periods in the tenant's time zone, group keys, formatting."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from crm_api.kit.errors import ValidationFailed
from crm_api.kit.schemas import MoneyOut, money_out

TIME_KEYS = ("day", "week", "month")
FOUR = Decimal("0.0001")


@dataclass(frozen=True)
class Window:
    """[start, end) in UTC for whole local days from..to of a time zone."""

    from_date: date
    to_date: date
    time_zone: str

    @property
    def start(self) -> datetime:
        return datetime.combine(self.from_date, time(), ZoneInfo(self.time_zone))

    @property
    def end(self) -> datetime:
        return datetime.combine(self.to_date + timedelta(days=1), time(), ZoneInfo(self.time_zone))

    def params(self, group_by: str | None) -> dict[str, Any]:
        """The window's query parameters; for a day/week/month key also the buckets' UTC starts and labels."""
        out: dict[str, Any] = {"s": self.start, "e": self.end, "tz": self.time_zone, "fd": self.from_date,
                               "td": self.to_date}
        if group_by in TIME_KEYS:
            starts = bucket_starts(self.from_date, self.to_date, group_by)
            zone = ZoneInfo(self.time_zone)
            out.update(bounds=[datetime.combine(d, time(), zone) for d in starts], days=starts,
                       labels=[d.isoformat() for d in starts])
        return out


def bucket_starts(first: date, last: date, interval: str) -> list[date]:
    """The first day of every day, week (Monday) or month bucket touching first..last."""
    if interval == "day":
        start = first
    elif interval == "week":
        start = first - timedelta(days=first.weekday())
    else:
        start = first.replace(day=1)
    out = []
    while start <= last:
        out.append(start)
        if interval == "month":
            start = (start.replace(day=28) + timedelta(days=4)).replace(day=1)
        else:
            start += timedelta(days=1 if interval == "day" else 7)
    return out


def time_key(ts: str, local_day: bool = False) -> str:
    """SQL for the first local day of the bucket holding `ts` (a timestamptz, or with local_day a local date
    such as a rollup's day), as a label (weeks start on Monday): a binary search in the window's bucket
    starts (Window.params), far cheaper per row than converting time zones; NULL before the first bucket."""
    bounds = "CAST(:days AS date[])" if local_day else "CAST(:bounds AS timestamptz[])"
    return f"(CAST(:labels AS text[]))[width_bucket({ts}, {bounds})]"


def key_expr(group_by: str | None, keys: dict[str, str], ts: str, local_day: bool = False) -> str | None:
    """The group key of a query for `group_by`, None when the query has no such key."""
    if group_by is None:
        return "NULL::text"
    if group_by in TIME_KEYS:
        return time_key(ts, local_day)
    column = keys.get(group_by)
    return None if column is None else f"({column})::text"


def grouped(select: str, key: str, extra_group: str = "") -> str:
    """`select` (with {key} and {group} placeholders) grouped by key (+ total row through GROUPING SETS)."""
    if key == "NULL::text":
        group = f"GROUP BY {extra_group}" if extra_group else ""
        return select.format(key="NULL::text AS k, true AS total", group=group)
    sets = f"({extra_group}), ({key}, {extra_group})" if extra_group else f"(), ({key})"
    return select.format(key=f"{key} AS k, GROUPING({key}) = 1 AS total", group=f"GROUP BY GROUPING SETS ({sets})")


def rate(numerator: int | Decimal | None, denominator: int | Decimal | None) -> str | None:
    """A fraction with 4 decimals; None when the denominator is 0."""
    if numerator is None or not denominator:
        return None
    return str((Decimal(numerator) / Decimal(denominator)).quantize(FOUR, ROUND_HALF_UP))


def decimal_text(value: Any, places: str = "0.01") -> str | None:
    return None if value is None else str(Decimal(value).quantize(Decimal(places), ROUND_HALF_UP))


def monies(pairs: list[tuple[Any, str]]) -> list[MoneyOut]:
    """Money per currency, by currency code."""
    out = [money_out(Decimal(a), c) for a, c in sorted(pairs, key=lambda p: p[1]) if a is not None]
    return [m for m in out if m is not None]


def unsupported(group_by: str, endpoint: str) -> ValidationFailed:
    return ValidationFailed.field("group_by", f"{endpoint} cannot be grouped by {group_by}")


def exact_median(name: str, histogram: str, group: str, values: str, lateral: bool = True,
                 value: str = "v.value") -> str:
    """CTEs ending in `name` (columns `group`, median): the exact median of each group from a duration histogram
    and only the middle buckets' values. `histogram` selects (group, bucket, n) with one row per group and
    bucket (buckets ordered like the values). The bucket(s) holding each group's middle rank(s) and the rank k
    within the bucket come from the histogram's running counts (`{name}_middle`: group, bucket, k); the k-th
    value of each is read from the records, and percentile_cont() of those one or two values is what it gives
    over all of the group's values.

    `values` reads them: with `lateral`, one column, the values of one middle bucket `m.bucket` of the group
    `m.<group>` (an index range per middle row); else (group, bucket, value) of every record in the middle
    buckets (`{name}_buckets`, an array), ranked here in one pass: fewer reads when groups share buckets
    but the records cannot be found by group. `value`: the median's value made from the read one `v.value`
    (read in an order that is cheaper to sort, such as an interval, and converted after).
    Used by the funnel (stays' days per stage) and the service report (cases' hours per group).

    The running counts are sums of integers (bigint arithmetic; the sum of bigints is numeric, which was a
    tenth of the service report's year by day: 7,800 histogram rows), so a histogram row counts fewer than
    2^31 records; only the buckets that hold a middle rank are crossed with the two places. The result is
    materialized: estimated at one row, it was otherwise run again for every row it was joined with."""
    if lateral:
        pick = f"""
        SELECT m.{group}, percentile_cont(0.5) WITHIN GROUP (ORDER BY {value}) AS median
        FROM {name}_middle m CROSS JOIN LATERAL ({values} ORDER BY 1 OFFSET m.k - 1 LIMIT 1) AS v (value)
        GROUP BY m.{group}"""
    else:
        pick = f"""
        SELECT m.{group}, percentile_cont(0.5) WITHIN GROUP (ORDER BY {value}) AS median
        FROM (SELECT v.{group}, v.bucket, v.value,
                     row_number() OVER (PARTITION BY v.{group}, v.bucket ORDER BY v.value) AS k
              FROM ({values}) AS v ({group}, bucket, value)
              WHERE (v.{group}, v.bucket) IN (SELECT {group}, bucket FROM {name}_middle)) v
        JOIN {name}_middle m ON m.{group} = v.{group} AND m.bucket = v.bucket AND m.k = v.k
        GROUP BY m.{group}"""
    return f"""
    {name}_ranked AS (
        SELECT x.{group}, x.bucket, x.n,
               sum(x.n::integer) OVER (PARTITION BY x.{group} ORDER BY x.bucket) - x.n AS before,
               sum(x.n::integer) OVER (PARTITION BY x.{group}) AS total
        FROM ({histogram}) x WHERE x.n > 0),
    {name}_middle AS (
        SELECT DISTINCT c.{group}, c.bucket, p.place - c.before AS k
        FROM {name}_ranked c CROSS JOIN LATERAL (VALUES ((c.total + 1) / 2), (c.total / 2 + 1)) AS p (place)
        WHERE c.before < c.total / 2 + 1 AND c.before + c.n >= (c.total + 1) / 2
          AND p.place > c.before AND p.place <= c.before + c.n),
    {name}_buckets AS (SELECT array_agg(DISTINCT bucket) AS buckets FROM {name}_middle),
    {name} AS MATERIALIZED ({pick})"""
