"""The windows a report compares, and the zone offsets its days are counted with."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from shop_app.reporting.periods import day_from_number, midnight, offsets, periods, range_days, zone

MADRID = ZoneInfo("Europe/Madrid")


@pytest.mark.parametrize(
    ("value", "days"),
    [
        ("7", 7),
        ("15", 15),
        ("30", 30),
        ("90", 90),
        (None, 15),
        ("", 15),
        ("500", 15),
        ("-7", 15),
        ("abc", 15),
        ("7.0", 15),
        (" 30 ", 30),
        ("9" * 5000, 15),
    ],
)
def test_the_range_is_one_of_four_and_anything_else_the_cycle(value, days):
    assert range_days(value) == days


def test_windows_are_whole_local_days_ending_today():
    current, previous = periods(datetime(2026, 3, 15, 23, 30, tzinfo=UTC), 7, MADRID)  # 00:30 on the 16th in Madrid
    assert (current.first_day, current.last_day) == (date(2026, 3, 10), date(2026, 3, 16))
    assert (previous.first_day, previous.last_day) == (date(2026, 3, 3), date(2026, 3, 9))
    assert current.start == datetime(2026, 3, 9, 23, 0, tzinfo=UTC) == previous.end
    assert current.end == datetime(2026, 3, 16, 23, 0, tzinfo=UTC)
    assert len(current.days) == 7 and date(2026, 3, 10) in current and date(2026, 3, 9) not in current


def test_offsets_name_the_instant_of_a_daylight_saving_change():
    start, end = midnight(date(2026, 3, 25), MADRID), midnight(date(2026, 4, 2), MADRID)
    assert offsets(MADRID, start, end) == ((datetime(2026, 3, 29, 1, 0, tzinfo=UTC), 3600), (None, 7200))
    assert offsets(ZoneInfo("Asia/Kolkata"), start, end) == ((None, 19800),)
    lord_howe = ZoneInfo("Australia/Lord_Howe")  # +11:00 in summer, +10:30 from 5 April 2026 (02:00 local)
    assert offsets(lord_howe, midnight(date(2026, 4, 1), lord_howe), midnight(date(2026, 4, 8), lord_howe)) == (
        (datetime(2026, 4, 4, 15, 0, tzinfo=UTC), 39600),
        (None, 37800),
    )


def test_an_unknown_zone_counts_in_utc_and_day_numbers_are_days_since_1970():
    assert zone("Mars/Olympus") is UTC
    assert (day_from_number(0), day_from_number(20513)) == (date(1970, 1, 1), date(2026, 3, 1))
