"""Business time: adding and measuring minutes inside working hours, in a calendar's time zone.

A calendar is a time zone, working intervals per weekday (local wall-clock times) and holidays;
no calendar means 24/7. Both operations walk day by day in local time, so daylight-saving
changes are handled by the time zone database, and they are exact inverses of each other.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_DAYS = 3 * 366  # a calendar with almost no working time must not loop forever


@dataclass(frozen=True)
class Calendar:
    time_zone: str
    # weekday index (0 = Monday) -> sorted, non-overlapping (start, end) local times
    hours: dict[int, tuple[tuple[time, time], ...]]
    holidays: frozenset[date] = field(default_factory=frozenset)

    @classmethod
    def from_json(cls, data: dict | None) -> Calendar | None:
        """From the API's business_hours object; None (24/7) when absent."""
        if not data:
            return None
        hours = {}
        for i, day in enumerate(WEEKDAYS):
            spans = sorted((time.fromisoformat(a), time.fromisoformat(b)) for a, b in data.get("days", {}).get(day, []))
            hours[i] = tuple(spans)
        return cls(data["time_zone"], hours, frozenset(date.fromisoformat(d) for d in data.get("holidays", [])))

    def _intervals(self, start: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Working intervals in UTC from the local day of `start` on (clipped to start)."""
        zone = ZoneInfo(self.time_zone)
        local_day = start.astimezone(zone).date()
        for offset in range(MAX_DAYS):
            day = local_day + timedelta(days=offset)
            if day in self.holidays:
                continue
            for begin, end in self.hours.get(day.weekday(), ()):
                lo = datetime.combine(day, begin, zone).astimezone(UTC)
                hi = (datetime.combine(day, end, zone) if end != time(0) else
                      datetime.combine(day + timedelta(days=1), time(0), zone)).astimezone(UTC)
                if hi <= start:
                    continue
                yield max(lo, start), hi
        raise ValueError("the calendar has no working time within three years")


def add_minutes(calendar: Calendar | None, start: datetime, minutes: float) -> datetime:
    """The moment `minutes` of business time after `start`."""
    if minutes <= 0:
        return start
    if calendar is None:
        return start + timedelta(minutes=minutes)
    remaining = timedelta(minutes=minutes)
    for lo, hi in calendar._intervals(start):
        if hi - lo >= remaining:
            return lo + remaining
        remaining -= hi - lo
    raise AssertionError("unreachable")


def minutes_between(calendar: Calendar | None, start: datetime, end: datetime) -> float:
    """Business minutes from `start` to `end` (0 when end is not after start)."""
    if end <= start:
        return 0.0
    if calendar is None:
        return (end - start).total_seconds() / 60
    total = timedelta()
    for lo, hi in calendar._intervals(start):
        if lo >= end:
            break
        total += min(hi, end) - lo
    return total.total_seconds() / 60


def clock_seconds(calendar: Calendar | None, start: datetime, end: datetime, paused_minutes: float = 0.0) -> Decimal:
    """An SLA clock's reading: business seconds from `start` to `end` less the minutes it was paused (never
    negative), to the millisecond."""
    value = max(0.0, (minutes_between(calendar, start, end) - paused_minutes) * 60)
    return Decimal(str(round(value, 3)))
