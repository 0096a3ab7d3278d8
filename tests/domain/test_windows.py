"""Delivery windows: parsing, is_open and next_open, including DST and odd-offset zones.

Expected instants in the unit tests are written out by hand as UTC values; they were worked out from
the zones' published rules, not computed with the code under test.
"""

from __future__ import annotations

import functools
import random
from datetime import UTC, date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shop_app.domain.validation import FieldError, ValidationError
from shop_app.domain.windows import DEFAULT_DAYS, WEEKDAYS, WeeklyWindows
from tests.examples import examples

DAYS = "delivery_windows.days"
TZ_FIELD = "delivery_windows.timezone"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def local(zone: str, *args: int, fold: int = 0) -> datetime:
    return datetime(*args, tzinfo=ZoneInfo(zone), fold=fold)


def doc(**days: list[list[str]]) -> dict[str, object]:
    """A days document; weekdays not named are closed."""
    return {name: days.get(name, []) for name in WEEKDAYS}


def every_day(start: str, end: str) -> dict[str, object]:
    return {name: [[start, end]] for name in WEEKDAYS}


def windows(zone: str, document: dict[str, object]) -> WeeklyWindows:
    return WeeklyWindows.from_document(document, timezone=zone)


def fields_of(excinfo: pytest.ExceptionInfo[ValidationError]) -> list[str]:
    return [error.field for error in excinfo.value.errors]


# -- the product example: 09:00-21:00 Europe/Madrid ----------------------------------------------

MADRID = WeeklyWindows.default("Europe/Madrid")


def test_default_is_nine_to_nine_every_day() -> None:
    assert MADRID.days == DEFAULT_DAYS == tuple(((540, 1260),) for _ in range(7))
    assert MADRID.to_document() == every_day("09:00", "21:00")


def test_due_at_night_moves_to_next_morning() -> None:
    # Tuesday 12 March 2024, 23:30 CET (UTC+1) -> Wednesday 09:00 CET = 08:00 UTC.
    result = MADRID.next_open(local("Europe/Madrid", 2024, 3, 12, 23, 30))
    assert result == utc(2024, 3, 13, 8, 0)
    assert result.utcoffset() == timedelta(0)


def test_due_inside_window_is_unchanged() -> None:
    at = local("Europe/Madrid", 2024, 3, 12, 15, 17, 42)
    assert MADRID.is_open(at)
    assert MADRID.next_open(at) == at
    assert MADRID.next_open(at).utcoffset() == timedelta(0)


def test_due_just_before_opening_moves_to_same_day_opening() -> None:
    # Summer time (CEST, UTC+2): 08:59 -> 09:00 local = 07:00 UTC.
    assert MADRID.next_open(local("Europe/Madrid", 2024, 7, 1, 8, 59)) == utc(2024, 7, 1, 7, 0)


def test_start_is_open_and_end_is_closed() -> None:
    assert MADRID.is_open(local("Europe/Madrid", 2024, 7, 1, 9, 0))
    assert not MADRID.is_open(local("Europe/Madrid", 2024, 7, 1, 8, 59, 59))
    assert MADRID.is_open(local("Europe/Madrid", 2024, 7, 1, 20, 59, 59))
    assert not MADRID.is_open(local("Europe/Madrid", 2024, 7, 1, 21, 0))
    assert MADRID.next_open(local("Europe/Madrid", 2024, 7, 1, 21, 0)) == utc(2024, 7, 2, 7, 0)


def test_closed_sunday_is_skipped_to_monday() -> None:
    shop = windows("Europe/Madrid", {**every_day("09:00", "21:00"), "sun": []})
    # Saturday 6 July 2024, 22:00 CEST -> Monday 8 July 09:00 CEST = 07:00 UTC.
    assert shop.next_open(local("Europe/Madrid", 2024, 7, 6, 22, 0)) == utc(2024, 7, 8, 7, 0)
    assert not shop.is_open(local("Europe/Madrid", 2024, 7, 7, 12, 0))


def test_only_one_window_a_week_is_found_a_week_ahead() -> None:
    shop = windows("UTC", doc(wed=[["10:00", "11:00"]]))
    # Wednesday 3 July 2024 11:00 (just closed) -> Wednesday 10 July 10:00.
    assert shop.next_open(utc(2024, 7, 3, 11, 0)) == utc(2024, 7, 10, 10, 0)


def test_second_window_of_the_day() -> None:
    shop = windows("UTC", doc(mon=[["09:00", "12:00"], ["14:00", "18:00"]]))
    assert shop.next_open(utc(2024, 7, 1, 12, 30)) == utc(2024, 7, 1, 14, 0)


def test_touching_windows_in_one_day_are_one_open_period() -> None:
    shop = windows("UTC", doc(mon=[["09:00", "12:00"], ["12:00", "18:00"]]))
    for minute in (11 * 60 + 59, 12 * 60, 12 * 60 + 1):
        at = utc(2024, 7, 1) + timedelta(minutes=minute)
        assert shop.is_open(at)
        assert shop.next_open(at) == at


def test_window_ending_at_midnight_joins_next_days_midnight_window() -> None:
    shop = windows("Europe/Madrid", doc(mon=[["22:00", "24:00"]], tue=[["00:00", "02:00"]]))
    assert shop.to_document()["mon"] == [["22:00", "24:00"]]
    # Monday 1 July 2024 (CEST, UTC+2).
    assert shop.next_open(local("Europe/Madrid", 2024, 7, 1, 21, 0)) == utc(2024, 7, 1, 20, 0)
    for at in (
        local("Europe/Madrid", 2024, 7, 1, 23, 59, 59, 999999),
        local("Europe/Madrid", 2024, 7, 2, 0, 0),
        local("Europe/Madrid", 2024, 7, 2, 1, 59),
    ):
        assert shop.is_open(at)
        assert shop.next_open(at) == at
    assert not shop.is_open(local("Europe/Madrid", 2024, 7, 2, 2, 0))
    # Tuesday's 22:00 is not a window: Tuesday 02:00 -> next Monday 22:00 CEST.
    assert shop.next_open(local("Europe/Madrid", 2024, 7, 2, 2, 0)) == utc(2024, 7, 8, 20, 0)


def test_window_ending_at_midnight_without_a_follow_up_closes_at_midnight() -> None:
    shop = windows("UTC", doc(mon=[["22:00", "24:00"]]))
    assert shop.is_open(utc(2024, 7, 1, 23, 59, 59))
    assert not shop.is_open(utc(2024, 7, 2, 0, 0))
    assert shop.next_open(utc(2024, 7, 2, 0, 0)) == utc(2024, 7, 8, 22, 0)


# -- DST: America/New_York --------------------------------------------------------------------------


def test_new_york_spring_forward_start_in_gap_opens_when_clock_jumps() -> None:
    # Sunday 10 March 2024: 02:00 EST jumps to 03:00 EDT at 07:00 UTC; 02:30 never happens.
    shop = windows("America/New_York", every_day("02:30", "05:00"))
    assert shop.next_open(utc(2024, 3, 10, 6, 0)) == utc(2024, 3, 10, 7, 0)  # 01:00 EST -> 03:00 EDT
    assert shop.is_open(utc(2024, 3, 10, 7, 0))
    assert not shop.is_open(utc(2024, 3, 10, 6, 59, 59))
    # The day before and the day after are ordinary: 02:30 EST = 07:30 UTC, 02:30 EDT = 06:30 UTC.
    assert shop.next_open(utc(2024, 3, 9, 5, 0)) == utc(2024, 3, 9, 7, 30)
    assert shop.next_open(utc(2024, 3, 10, 12, 0)) == utc(2024, 3, 11, 6, 30)


def test_new_york_window_wholly_inside_the_gap_does_not_happen_that_day() -> None:
    shop = windows("America/New_York", every_day("02:10", "02:50"))
    # Saturday 9 March 02:50 EST -> the gap on Sunday -> Monday 11 March 02:10 EDT = 06:10 UTC.
    assert shop.next_open(utc(2024, 3, 9, 7, 50)) == utc(2024, 3, 11, 6, 10)


def test_new_york_fall_back_ambiguous_start_uses_first_occurrence() -> None:
    # Sunday 3 November 2024: 02:00 EDT falls back to 01:00 EST at 06:00 UTC.
    shop = windows("America/New_York", every_day("01:30", "03:00"))
    assert shop.next_open(utc(2024, 11, 3, 4, 0)) == utc(2024, 11, 3, 5, 30)  # 01:30 EDT
    # While the clock repeats 01:00-01:30 it shows times outside the window ...
    assert not shop.is_open(utc(2024, 11, 3, 6, 10))  # 01:10 EST
    # ... and opens again when it reads 01:30 once more.
    assert shop.next_open(utc(2024, 11, 3, 6, 10)) == utc(2024, 11, 3, 6, 30)
    assert shop.is_open(utc(2024, 11, 3, 7, 59))  # 02:59 EST
    assert not shop.is_open(utc(2024, 11, 3, 8, 0))  # 03:00 EST


def test_new_york_fall_back_window_ending_in_repeated_hour_reopens_when_clock_falls_back() -> None:
    shop = windows("America/New_York", every_day("00:00", "01:30"))
    assert not shop.is_open(utc(2024, 11, 3, 5, 45))  # 01:45 EDT
    assert shop.next_open(utc(2024, 11, 3, 5, 45)) == utc(2024, 11, 3, 6, 0)  # clock shows 01:00 EST
    assert not shop.is_open(utc(2024, 11, 3, 6, 30))  # 01:30 EST
    assert shop.next_open(utc(2024, 11, 3, 6, 30)) == utc(2024, 11, 4, 5, 0)  # Monday 00:00 EST
    # The same wall time given with fold=0 (EDT) and fold=1 (EST) are different instants.
    assert shop.next_open(local("America/New_York", 2024, 11, 3, 1, 45, fold=0)) == utc(2024, 11, 3, 6, 0)
    assert shop.next_open(local("America/New_York", 2024, 11, 3, 1, 45, fold=1)) == utc(2024, 11, 4, 5, 0)


# -- DST: Europe/Berlin -----------------------------------------------------------------------------


def test_berlin_spring_forward_start_in_gap() -> None:
    # Sunday 31 March 2024: 02:00 CET jumps to 03:00 CEST at 01:00 UTC.
    shop = windows("Europe/Berlin", every_day("02:30", "04:00"))
    assert shop.next_open(utc(2024, 3, 30, 23, 0)) == utc(2024, 3, 31, 1, 0)
    # A 01:30 window that day is untouched by the jump: 01:30 CET = 00:30 UTC.
    early = windows("Europe/Berlin", every_day("01:30", "04:00"))
    assert early.next_open(utc(2024, 3, 30, 23, 0)) == utc(2024, 3, 31, 0, 30)
    assert early.is_open(utc(2024, 3, 31, 1, 0))  # 03:00 CEST, still before 04:00


def test_berlin_fall_back_ambiguous_start_uses_first_occurrence() -> None:
    # Sunday 27 October 2024: 03:00 CEST falls back to 02:00 CET at 01:00 UTC.
    shop = windows("Europe/Berlin", every_day("02:30", "04:00"))
    assert shop.next_open(utc(2024, 10, 26, 22, 0)) == utc(2024, 10, 27, 0, 30)  # 02:30 CEST
    # 01:30 is not ambiguous in Berlin: 01:30 CEST = 23:30 UTC the day before.
    early = windows("Europe/Berlin", every_day("01:30", "04:00"))
    assert early.next_open(utc(2024, 10, 26, 22, 0)) == utc(2024, 10, 26, 23, 30)
    assert early.is_open(utc(2024, 10, 27, 1, 15))  # 02:15 CET, the second time round


# -- unusual zones ----------------------------------------------------------------------------------


def test_apia_skipped_friday_30_december_2011() -> None:
    # Thursday 29 Dec 2011 23:59:59 (UTC-10) was followed by Saturday 31 Dec 00:00 (UTC+14),
    # at 10:00 UTC on 30 Dec. Friday 30 December never happened in Samoa.
    fridays = windows("Pacific/Apia", doc(fri=[["09:00", "17:00"]]))
    thursday_noon = local("Pacific/Apia", 2011, 12, 29, 12, 0)
    assert fridays.next_open(thursday_noon) == utc(2012, 1, 5, 19, 0)  # Fri 6 Jan 09:00 UTC+14

    saturday_midnight = windows("Pacific/Apia", doc(sat=[["00:00", "01:00"]]))
    assert saturday_midnight.next_open(thursday_noon) == utc(2011, 12, 30, 10, 0)

    # Thursday 23:00-24:00 and Saturday 00:00-... are one open period across the missing day.
    joined = windows("Pacific/Apia", doc(thu=[["23:00", "24:00"]], sat=[["00:00", "01:00"]]))
    assert joined.is_open(utc(2011, 12, 30, 9, 59, 59))
    assert joined.is_open(utc(2011, 12, 30, 10, 0))
    assert joined.next_open(utc(2011, 12, 30, 9, 30)) == utc(2011, 12, 30, 9, 30)


def test_sao_paulo_midnight_that_did_not_exist() -> None:
    # Sunday 4 Nov 2018 00:00 (UTC-3) jumped to 01:00 (UTC-2) at 03:00 UTC.
    shop = windows("America/Sao_Paulo", doc(sun=[["00:00", "06:00"]]))
    assert shop.next_open(local("America/Sao_Paulo", 2018, 11, 3, 22, 0)) == utc(2018, 11, 4, 3, 0)


def test_sao_paulo_fall_back_at_midnight_repeats_saturday_evening() -> None:
    # Sunday 17 Feb 2019 00:00 (UTC-2) fell back to Saturday 23:00 (UTC-3) at 02:00 UTC.
    shop = windows("America/Sao_Paulo", doc(sat=[["23:00", "24:00"]]))
    assert shop.next_open(utc(2019, 2, 16, 20, 0)) == utc(2019, 2, 17, 1, 0)  # first 23:00
    assert shop.is_open(utc(2019, 2, 17, 2, 30))  # the second 23:30
    assert not shop.is_open(utc(2019, 2, 17, 3, 0))  # Sunday 00:00 at last


def test_lord_howe_half_hour_dst() -> None:
    # Sunday 6 Oct 2024: 02:00 (UTC+10:30) jumps to 02:30 (UTC+11) at 15:30 UTC on the 5th.
    shop = windows("Australia/Lord_Howe", every_day("02:15", "04:00"))
    assert shop.next_open(utc(2024, 10, 5, 14, 0)) == utc(2024, 10, 5, 15, 30)
    inside_gap = windows("Australia/Lord_Howe", every_day("02:05", "02:25"))
    assert inside_gap.next_open(utc(2024, 10, 5, 14, 0)) == utc(2024, 10, 6, 15, 5)  # Monday 02:05 +11
    # Sunday 7 Apr 2024: 02:00 (UTC+11) falls back to 01:30 (UTC+10:30); 01:40 first at 14:40 UTC.
    fall = windows("Australia/Lord_Howe", every_day("01:40", "03:00"))
    assert fall.next_open(utc(2024, 4, 6, 12, 0)) == utc(2024, 4, 6, 14, 40)


def test_kathmandu_quarter_hour_offset() -> None:
    shop = WeeklyWindows.default("Asia/Kathmandu")  # UTC+5:45
    assert shop.next_open(local("Asia/Kathmandu", 2024, 7, 1, 21, 0)) == utc(2024, 7, 2, 3, 15)


def test_at_given_in_another_offset() -> None:
    # 14:30 at UTC-7 is 21:30 UTC = 23:30 CEST in Madrid: closed until 09:00 CEST = 07:00 UTC.
    at = datetime(2024, 7, 1, 14, 30, tzinfo=timezone(timedelta(hours=-7)))
    result = MADRID.next_open(at)
    assert result == utc(2024, 7, 2, 7, 0)
    assert result.tzinfo == UTC
    # 17:00 in Tokyo (UTC+9) is 10:00 in Madrid: open, the same instant comes back in UTC.
    tokyo = local("Asia/Tokyo", 2024, 7, 1, 17, 0)
    assert MADRID.is_open(tokyo)
    assert MADRID.next_open(tokyo) == tokyo
    assert MADRID.next_open(tokyo).tzinfo == UTC


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError):
        MADRID.next_open(datetime(2024, 7, 1, 12, 0))
    with pytest.raises(ValueError):
        MADRID.is_open(datetime(2024, 7, 1, 12, 0))


# -- validation -------------------------------------------------------------------------------------


@pytest.mark.parametrize("garbage", [None, [], [["09:00", "21:00"]], 3, 1.5, "09:00-21:00", True])
def test_days_that_are_not_an_object(garbage: object) -> None:
    with pytest.raises(ValidationError) as excinfo:
        WeeklyWindows.from_document(garbage, timezone="UTC")
    assert fields_of(excinfo) == [DAYS]


def test_missing_and_unknown_days() -> None:
    document = every_day("09:00", "21:00")
    del document["sun"]
    del document["wed"]
    document["funday"] = []
    with pytest.raises(ValidationError) as excinfo:
        WeeklyWindows.from_document(document, timezone="UTC")
    assert sorted(fields_of(excinfo)) == [f"{DAYS}.funday", f"{DAYS}.sun", f"{DAYS}.wed"]


@pytest.mark.parametrize("value", [None, "09:00-21:00", {"start": "09:00"}, 9, ("09:00", "21:00")])
def test_day_value_that_is_not_a_list(value: object) -> None:
    with pytest.raises(ValidationError) as excinfo:
        WeeklyWindows.from_document({**every_day("09:00", "21:00"), "tue": value}, timezone="UTC")
    assert fields_of(excinfo) == [f"{DAYS}.tue"]


@pytest.mark.parametrize(
    "interval",
    [
        "09:00",
        ["09:00"],
        ["09:00", "12:00", "18:00"],
        [],
        {"start": "09:00", "end": "12:00"},
        None,
        [9, 21],
        [None, "21:00"],
        ["09:00", 2100],
        [540, 1260],
        ["25:00", "26:00"],
        ["9:00am", "5:00pm"],
        ["9:00", "21:00"],
        ["09:00", "12:60"],
        ["09:00", "24:30"],
        ["09:00", "24:01"],
        ["", "21:00"],
        ["09:00 ", "21:00"],
        ["\u0660\u0669:\u0660\u0660", "21:00"],  # Arabic-Indic digits
        ["09:00:00", "21:00:00"],
        ["24:00", "24:00"],
        ["21:00", "09:00"],
        ["09:00", "09:00"],
        ["00:00", "00:00"],
    ],
)
def test_bad_interval_is_reported_on_its_path(interval: object) -> None:
    with pytest.raises(ValidationError) as excinfo:
        WeeklyWindows.from_document(
            {**every_day("09:00", "21:00"), "thu": [["06:00", "07:00"], interval]}, timezone="UTC"
        )
    assert fields_of(excinfo) == [f"{DAYS}.thu[1]"]


def test_a_window_crossing_midnight_is_refused_with_how_to_split_it() -> None:
    with pytest.raises(ValidationError) as excinfo:
        WeeklyWindows.from_document(doc(mon=[["09:00", "12:00"], ["22:00", "02:00"]]), timezone="UTC")
    assert excinfo.value.errors == [
        FieldError(
            f"{DAYS}.mon[1]",
            "22:00-02:00 crosses midnight, and a window must end by 24:00: "
            "split it into 22:00-24:00 and 00:00-02:00 on the next day",
        )
    ]


def test_an_end_written_as_00_00_is_refused_with_24_00_suggested() -> None:
    with pytest.raises(ValidationError) as excinfo:
        WeeklyWindows.from_document(doc(fri=[["18:00", "00:00"]]), timezone="UTC")
    assert excinfo.value.errors == [
        FieldError(f"{DAYS}.fri[0]", "18:00-00:00 ends at midnight: write the end of the day as 24:00 (18:00-24:00)")
    ]


def test_an_empty_interval_says_start_must_be_before_end() -> None:
    with pytest.raises(ValidationError) as excinfo:
        WeeklyWindows.from_document(doc(mon=[["09:00", "09:00"]]), timezone="UTC")
    assert excinfo.value.errors[0] == FieldError(f"{DAYS}.mon[0]", "start 09:00 must be before end 09:00")


def test_24_00_is_only_an_end() -> None:
    assert windows("UTC", doc(mon=[["18:00", "24:00"]])).days[0] == ((18 * 60, 24 * 60),)
    with pytest.raises(ValidationError) as excinfo:
        WeeklyWindows.from_document(doc(mon=[["24:00", "24:00"]], tue=[["09:00", "10:00"]]), timezone="UTC")
    assert fields_of(excinfo) == [f"{DAYS}.mon[0]"]
    assert "start cannot be 24:00" in excinfo.value.errors[0].message


def test_overlapping_intervals_are_reported_on_the_later_one() -> None:
    with pytest.raises(ValidationError) as excinfo:
        WeeklyWindows.from_document(
            doc(
                mon=[["09:00", "12:00"], ["10:00", "11:00"], ["11:00", "13:00"]],
                fri=[["14:00", "18:00"], ["08:00", "15:00"]],
            ),
            timezone="UTC",
        )
    assert fields_of(excinfo) == [f"{DAYS}.mon[1]", f"{DAYS}.mon[2]", f"{DAYS}.fri[1]"]
    assert "overlaps 09:00-12:00" in excinfo.value.errors[0].message


def test_touching_and_unsorted_intervals_are_accepted_and_sorted() -> None:
    shop = windows("UTC", doc(mon=[["12:00", "18:00"], ["09:00", "12:00"]]))
    assert shop.days[0] == ((540, 720), (720, 1080))
    assert shop.to_document()["mon"] == [["09:00", "12:00"], ["12:00", "18:00"]]


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "", "Europe/Madrid ", "../../etc/passwd", "localtime", None, 3])
def test_bad_timezone(zone: object) -> None:
    with pytest.raises(ValidationError) as excinfo:
        WeeklyWindows.from_document(every_day("09:00", "21:00"), timezone=zone)  # type: ignore[arg-type]
    assert fields_of(excinfo) == [TZ_FIELD]


def test_every_day_closed_is_refused() -> None:
    with pytest.raises(ValidationError) as excinfo:
        WeeklyWindows.from_document(doc(), timezone="UTC")
    assert excinfo.value.errors == [FieldError(DAYS, "at least one day needs a delivery window")]


def test_all_errors_are_collected_at_once() -> None:
    document = {
        "mon": [["21:00", "09:00"]],
        "tue": "always",
        "wed": [["09:00", "12:00"], ["11:00", "14:00"]],
        "thu": [["9:00am", "5:00pm"]],
        "fri": [["08:00", "10:00"]],
        "sat": [None],
        "holiday": [],
    }
    with pytest.raises(ValidationError) as excinfo:
        WeeklyWindows.from_document(document, timezone="Nowhere/Special")
    assert sorted(fields_of(excinfo)) == sorted(
        [
            TZ_FIELD,
            f"{DAYS}.holiday",
            f"{DAYS}.mon[0]",
            f"{DAYS}.tue",
            f"{DAYS}.wed[1]",
            f"{DAYS}.thu[0]",
            f"{DAYS}.sat[0]",
            f"{DAYS}.sun",
        ]
    )
    thu = next(e for e in excinfo.value.errors if e.field == f"{DAYS}.thu[0]")
    assert "9:00am" in thu.message and "5:00pm" in thu.message


def test_field_prefix_can_be_chosen() -> None:
    with pytest.raises(ValidationError) as excinfo:
        WeeklyWindows.from_document({"mon": 1}, field="settings.whatsapp.days", timezone="UTC")
    assert "settings.whatsapp.days.mon" in fields_of(excinfo)
    assert "settings.whatsapp.days.tue" in fields_of(excinfo)


def test_constructor_checks_its_invariants() -> None:
    week = ((540, 1260),) * 7
    for days in (
        (((540, 1260),),) * 6,  # six days
        ((),) * 7,  # never open
        (((600, 540),),) + ((),) * 6,  # start after end
        (((540, 720), (700, 800)),) + ((),) * 6,  # overlap
        (((0, 1441),),) + ((),) * 6,  # past midnight
        (((-1, 60),),) + ((),) * 6,
    ):
        with pytest.raises(ValidationError):
            WeeklyWindows("UTC", days)  # type: ignore[arg-type]
    with pytest.raises(ValidationError) as excinfo:
        WeeklyWindows("Not/AZone", tuple((iv,) for iv in week))
    assert fields_of(excinfo) == [TZ_FIELD]
    # Lists are accepted and stored as tuples, so equal windows compare and hash equal.
    built = WeeklyWindows("UTC", [[[540, 1260]]] * 7)  # type: ignore[arg-type]
    assert built == WeeklyWindows.default("UTC")
    assert hash(built) == hash(WeeklyWindows.default("UTC"))


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=8)
    | st.sampled_from(["09:00", "21:00", "24:00", "00:00", "25:00", "9:00am", "12:60", "mon", "sun"]),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=5) | st.sampled_from(WEEKDAYS), inner, max_size=8)
    ),
    max_leaves=10,
)


@settings(max_examples=examples(2), deadline=None, database=None)
@given(
    st.one_of(json_values, st.fixed_dictionaries({name: json_values for name in WEEKDAYS})),
    st.sampled_from(["UTC", "Europe/Madrid", "nope", ""]),
)
def test_garbage_never_raises_anything_but_validation_error(document: object, zone: str) -> None:
    try:
        result = WeeklyWindows.from_document(document, timezone=zone)
    except ValidationError as error:
        assert error.errors
        assert all(isinstance(e, FieldError) and e.field.startswith("delivery_windows.") for e in error.errors)
    else:
        assert isinstance(result, WeeklyWindows)


# -- properties over random schedules, zones and instants ------------------------------------------

ZONES = (
    "UTC",
    "Europe/Madrid",
    "Europe/Berlin",
    "America/New_York",
    "America/Sao_Paulo",  # DST switched at midnight until 2019
    "America/St_Johns",  # -03:30 with DST
    "Asia/Kolkata",  # +05:30
    "Asia/Kathmandu",  # +05:45
    "Australia/Lord_Howe",  # 30-minute DST shift
    "Pacific/Apia",  # skipped 30 Dec 2011
    "Pacific/Chatham",  # +12:45 / +13:45
    "Africa/Casablanca",  # DST suspended for Ramadan, several shifts a year
)
CHANGING_ZONES = tuple(z for z in ZONES if z not in ("UTC", "Asia/Kolkata", "Asia/Kathmandu"))
FIRST = datetime(2005, 1, 1, tzinfo=UTC)
LAST = datetime(2030, 12, 31, tzinfo=UTC)


@functools.cache
def offset_changes(zone: str) -> tuple[datetime, ...]:
    """Instants (to within a day) at which `zone` changed its UTC offset, found by daily sampling."""
    tz = ZoneInfo(zone)
    found = []
    previous = FIRST.astimezone(tz).utcoffset()
    at = FIRST
    while at < LAST:
        at += timedelta(days=1)
        offset = at.astimezone(tz).utcoffset()
        if offset != previous:
            found.append(at)
            previous = offset
    return tuple(found) or (FIRST + (LAST - FIRST) / 2,)  # no change: anywhere will do


# Boundaries biased towards the hours where clocks usually change and towards midnight.
COMMON_MINUTES = (0, 30, 60, 90, 100, 120, 130, 150, 180, 210, 1380, 1410, 1440)


@st.composite
def day_windows(
    draw: st.DrawFn, interesting: tuple[int, ...] = COMMON_MINUTES, only_interesting: bool = False
) -> tuple[tuple[int, int], ...]:
    minute = st.sampled_from(interesting)
    if not only_interesting:
        minute = st.integers(0, 1440) | minute
    points = sorted(set(draw(st.lists(minute, max_size=6))))
    pairs = [[points[i], points[i + 1]] for i in range(0, len(points) - 1, 2)]
    for i in range(1, len(pairs)):
        if draw(st.booleans()):  # let this window touch the previous one
            pairs[i][0] = pairs[i - 1][1]
    return tuple((start, end) for start, end in pairs)


def minute_of_day(instant: datetime, zone: str) -> int:
    reading = instant.astimezone(ZoneInfo(zone))
    return reading.hour * 60 + reading.minute


PRESENTATIONS = (UTC, ZoneInfo("Asia/Tokyo"), timezone(timedelta(hours=-9, minutes=-30)))


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[WeeklyWindows, datetime]:
    """A random schedule and a random instant, given in UTC, the shop's zone or another offset."""
    zone = draw(st.sampled_from(ZONES))
    days = draw(st.lists(day_windows(), min_size=7, max_size=7).filter(any))
    if draw(st.booleans()):
        at = draw(
            st.datetimes(
                min_value=FIRST.replace(tzinfo=None), max_value=LAST.replace(tzinfo=None), timezones=st.just(UTC)
            )
        )
    else:  # within days of a change of offset
        at = draw(st.sampled_from(offset_changes(zone))) + timedelta(seconds=draw(st.integers(-4 * 86400, 86400)))
    presented_in = draw(st.sampled_from((ZoneInfo(zone),) + PRESENTATIONS))
    return WeeklyWindows(zone, tuple(days)), at.astimezone(presented_in)


@st.composite
def clock_change_scenarios(draw: st.DrawFn) -> tuple[WeeklyWindows, datetime, datetime]:
    """An exact change of offset, an instant shortly before it, and windows whose boundaries sit
    right around the wall times where the clock jumps (the same windows every day, so the day of
    the change has them)."""
    zone = draw(st.sampled_from(CHANGING_ZONES))
    rough = draw(st.sampled_from(offset_changes(zone)))
    change = offset_changes_between(zone, rough - timedelta(days=1), rough)[0]
    jump = {minute_of_day(change - timedelta(microseconds=1), zone), minute_of_day(change, zone)}
    interesting = tuple(sorted({min(1440, max(0, m + d)) for m in jump for d in (-30, -10, -1, 0, 1, 10, 30)}))
    starting_there = st.builds(
        lambda start, length: ((start, min(1440, start + length)),),
        st.sampled_from(interesting[:-1]),
        st.integers(1, 600),
    )
    ending_there = st.builds(
        lambda end, length: ((max(0, end - length), end),), st.sampled_from(interesting[1:]), st.integers(1, 600)
    )
    several = day_windows(interesting, only_interesting=draw(st.booleans())).filter(bool)
    day = draw(starting_there | ending_there | several)
    at = change + timedelta(seconds=draw(st.integers(-3 * 3600, 1800) | st.integers(-3 * 3600, -1)))
    at += timedelta(microseconds=draw(st.sampled_from([0, 0, 1, 999999])))
    presented_in = draw(st.sampled_from((ZoneInfo(zone),) + PRESENTATIONS))
    return WeeklyWindows(zone, (day,) * 7), at.astimezone(presented_in), change


def wall_clock_open(shop: WeeklyWindows, at: datetime) -> bool:
    """An independent reading of the rule: the zone's clock shows a time inside that weekday's windows."""
    reading = ZoneInfo(shop.timezone).fromutc(at.astimezone(UTC).replace(tzinfo=ZoneInfo(shop.timezone)))
    minute = reading.hour * 60 + reading.minute + (reading.second + reading.microsecond / 1e6) / 60
    return any(start <= minute < end for start, end in shop.days[reading.weekday()])


def wall_occurrences(shop: WeeklyWindows, first: date, last: date, which: int) -> list[datetime]:
    """Every instant at which the clock shows a window's start (which=0) or end (which=1), days first..last."""
    tz = ZoneInfo(shop.timezone)
    found = []
    day = first
    while day <= last:
        for interval in shop.days[day.weekday()]:
            wall = datetime.combine(day, time()) + timedelta(minutes=interval[which])
            for fold in (0, 1):
                instant = wall.replace(tzinfo=tz, fold=fold).astimezone(UTC)
                if instant.astimezone(tz).replace(tzinfo=None) == wall:  # it really occurs
                    found.append(instant)
        day += timedelta(days=1)
    return found


def offset_changes_between(zone: str, low: datetime, high: datetime) -> list[datetime]:
    """The exact instants in (low, high] at which the zone's offset changes: hourly steps, then bisection."""
    tz = ZoneInfo(zone)

    def offset(instant: datetime) -> timedelta | None:
        return instant.astimezone(tz).utcoffset()

    found = []
    step_start = low
    while step_start < high:
        step_end = min(step_start + timedelta(hours=1), high)
        if offset(step_start) != offset(step_end):
            a, b = step_start, step_end  # offset(a) differs from offset(b); narrow to one microsecond
            while b - a > timedelta(microseconds=1):
                middle = a + (b - a) / 2
                if offset(middle) == offset(b):
                    b = middle
                else:
                    a = middle
            found.append(b)
        step_start = step_end
    return found


PROPERTY_SETTINGS = settings(
    max_examples=examples(2),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


# A seed rather than st.randoms(): the many probes per example would make Hypothesis' input huge.
seeds = st.integers(0, 2**32)


@PROPERTY_SETTINGS
@given(scenarios(), seeds)
def test_next_open_properties(scenario: tuple[WeeklyWindows, datetime], seed: int) -> None:
    check_next_open(*scenario, random.Random(seed))


@PROPERTY_SETTINGS
@given(clock_change_scenarios(), seeds)
def test_next_open_properties_around_clock_changes(
    scenario: tuple[WeeklyWindows, datetime, datetime], seed: int
) -> None:
    shop, at, change = scenario
    rnd = random.Random(seed)
    check_next_open(shop, at, rnd)
    for minutes in range(-180, 31, 15):  # and sweep through the change, so every case near it is seen
        check_next_open(shop, change + timedelta(minutes=minutes, seconds=rnd.randrange(600)), rnd)


def check_next_open(shop: WeeklyWindows, presented: datetime, rnd: random.Random) -> None:
    result = shop.next_open(presented)
    # Work in UTC from here on: `+ timedelta` on a ZoneInfo datetime is wall-clock arithmetic, and
    # == between zones is always False for a repeated local time given with fold=1 (PEP 495).
    at = presented.astimezone(UTC)

    assert result.utcoffset() == timedelta(0)
    assert result >= at  # (1) never earlier
    assert shop.is_open(result)  # (2) really inside a window
    assert wall_clock_open(shop, result)
    assert shop.is_open(presented) == shop.is_open(at) == wall_clock_open(shop, at)
    if shop.is_open(at):  # (3) open means unchanged
        assert result == at
        return
    assert result > at
    assert result - at <= timedelta(days=17)

    # (4) nothing in [at, result) is open. The open set can only begin where the clock reaches a
    # window's start or where it jumps (an offset change); both are listed here independently of
    # the module, together with window ends, random instants and an hourly grid.
    tz = ZoneInfo(shop.timezone)
    first_day = at.astimezone(tz).date() - timedelta(days=2)
    last_day = result.astimezone(tz).date() + timedelta(days=1)
    starts = wall_occurrences(shop, first_day, last_day, 0)
    changes = offset_changes_between(shop.timezone, at, result)
    assert result in set(starts) | set(changes)  # it is where a window begins
    span = result - at
    probes = [result - timedelta(microseconds=1)] + starts + changes
    probes += wall_occurrences(shop, first_day, last_day, 1)
    probes += [at + span * rnd.random() for _ in range(20)]
    probes += [at + timedelta(hours=h) for h in range(int(span / timedelta(hours=1)) + 1)]
    for probe in probes:
        assert shop.is_open(probe) == wall_clock_open(shop, probe), probe
        if at <= probe < result:
            assert not shop.is_open(probe), probe


@settings(max_examples=examples(2), deadline=None, database=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(st.sampled_from(ZONES), st.lists(day_windows(), min_size=7, max_size=7).filter(any))
def test_document_round_trip(zone: str, days: list[tuple[tuple[int, int], ...]]) -> None:
    shop = WeeklyWindows(zone, tuple(days))
    document = shop.to_document()
    assert set(document) == set(WEEKDAYS)
    assert WeeklyWindows.from_document(document, timezone=zone) == shop
    for intervals in document.values():
        for start, end in intervals:
            assert len(start) == len(end) == 5 and start != "24:00"
