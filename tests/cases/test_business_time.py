"""Business time in a non-UTC zone: weekends, holidays, daylight saving, and exact inverses."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from crm_api.cases.business_time import Calendar, add_minutes, minutes_between

BERLIN = ZoneInfo("Europe/Berlin")
OFFICE = Calendar.from_json({
    "time_zone": "Europe/Berlin",
    "days": {d: [["09:00", "12:00"], ["13:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")},
    "holidays": ["2026-12-25", "2026-12-28"],
})


def berlin(*args):
    return datetime(*args, tzinfo=BERLIN).astimezone(UTC)


def test_friday_afternoon_rolls_over_the_weekend():
    # Friday 2026-11-20 16:00 local + 2 h = 1 h on Friday, 1 h from Monday 09:00.
    assert add_minutes(OFFICE, berlin(2026, 11, 20, 16, 0), 120) == berlin(2026, 11, 23, 10, 0)


def test_lunch_break_is_not_working_time():
    assert add_minutes(OFFICE, berlin(2026, 11, 23, 11, 30), 60) == berlin(2026, 11, 23, 13, 30)


def test_a_start_outside_hours_begins_at_the_next_opening():
    assert add_minutes(OFFICE, berlin(2026, 11, 21, 23, 0), 30) == berlin(2026, 11, 23, 9, 30)


def test_holidays_and_a_weekend_are_skipped_together():
    # Thu 24 Dec 16:30 + 4 h: 30 min Thursday, Fri 25 holiday, weekend, Mon 28 holiday, Tue 29 09:00 + 3:30.
    assert add_minutes(OFFICE, berlin(2026, 12, 24, 16, 30), 240) == berlin(2026, 12, 29, 13, 30)


def test_daylight_saving_change_keeps_local_hours():
    # Clocks go forward on Sunday 2026-03-29; Monday 09:00 is 07:00 UTC, the Friday before 08:00 UTC.
    assert add_minutes(OFFICE, berlin(2026, 3, 27, 16, 0), 120) == datetime(2026, 3, 30, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize("start,minutes", [
    (berlin(2026, 11, 20, 16, 0), 120), (berlin(2026, 12, 24, 16, 30), 240), (berlin(2026, 11, 23, 3, 0), 1),
    (berlin(2026, 11, 23, 12, 30), 2000),
])
def test_measuring_is_the_inverse_of_adding(start, minutes):
    assert minutes_between(OFFICE, start, add_minutes(OFFICE, start, minutes)) == pytest.approx(minutes)


def test_twenty_four_seven_is_plain_time():
    start = datetime(2026, 11, 21, 22, 0, tzinfo=UTC)
    assert add_minutes(None, start, 180) == datetime(2026, 11, 22, 1, 0, tzinfo=UTC)
    assert minutes_between(None, start, datetime(2026, 11, 22, 1, 0, tzinfo=UTC)) == 180


def test_a_calendar_without_working_time_is_refused():
    with pytest.raises(ValueError):
        add_minutes(Calendar.from_json({"time_zone": "UTC", "days": {}}), berlin(2026, 1, 1, 0, 0), 10)
