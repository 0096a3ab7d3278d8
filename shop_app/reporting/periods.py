"""The windows a report compares, and which day of the shop an aggregated time bucket belongs to.

A window is whole days in the shop's time zone: the current one ends with today (so it includes
what happened today so far), the previous one is the same number of days just before it. Day
boundaries are the shop's midnights, converted to UTC with the time zone database, so a day
across a daylight-saving change is 23 or 25 hours long, as the merchant's calendar says.

The database groups rows by the shop's day itself: a row's local day number is its UTC time in
seconds plus the zone's offset at that instant, divided by a day. The offset is one constant, or
one per side of a daylight-saving change (`offsets`), so the SQL stays a small CASE and the day is
exact in every zone, half-hour ones included. Rows never leave the database, only counts per day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

#: The ranges the admin offers; anything else falls back to the validation cycle.
RANGES = (7, 15, 30, 90)
#: The validation cycle: what a merchant judges the app by.
DEFAULT_DAYS = 15
MAX_DAYS = 366
DAY_SECONDS = 86_400
EPOCH_DAY = date(1970, 1, 1)


@dataclass(frozen=True)
class Period:
    """Whole local days `first_day` … `last_day`; `start` (inclusive) and `end` (exclusive) in UTC."""

    first_day: date
    last_day: date
    start: datetime
    end: datetime

    @property
    def days(self) -> tuple[date, ...]:
        count = (self.last_day - self.first_day).days + 1
        return tuple(self.first_day + timedelta(days=n) for n in range(count))

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.first_day <= day <= self.last_day


def zone(name: str) -> tzinfo:
    """The shop's time zone; UTC when the stored name is unknown to the time zone database."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def range_days(value: object) -> int:
    """The admin's `?days=`: one of RANGES, anything else (missing, text, 500) the 15-day cycle."""
    try:
        days = int(str(value))
    except ValueError:
        return DEFAULT_DAYS
    return days if days in RANGES else DEFAULT_DAYS


def midnight(day: date, tz: tzinfo) -> datetime:
    """The instant (UTC) the shop's `day` begins."""
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def periods(now: datetime, days: int, tz: tzinfo) -> tuple[Period, Period]:
    """(current, previous): the `days` local days ending today, and the `days` days before them."""
    if not 1 <= days <= MAX_DAYS:
        raise ValueError(f"a report covers 1 to {MAX_DAYS} days, not {days}")
    today = now.astimezone(tz).date()
    first = today - timedelta(days=days - 1)
    before = first - timedelta(days=days)
    current = Period(first, today, midnight(first, tz), midnight(today + timedelta(days=1), tz))
    previous = Period(before, first - timedelta(days=1), midnight(before, tz), current.start)
    return current, previous


def offsets(tz: tzinfo, start: datetime, end: datetime) -> tuple[tuple[datetime | None, int], ...]:
    """The zone's UTC offsets (seconds) over [start, end): ((until, offset), …), each offset applying to
    the instants before its `until`, the last one (until None) to the end. One pair without a change
    of offset; a daylight-saving change adds one."""
    segments: list[tuple[datetime | None, int]] = []
    at = start
    offset = _offset(at, tz)
    while at < end:
        following = min(at + timedelta(days=1), end)
        if _offset(following, tz) != offset:
            change = _change_within(at, following, tz, offset)
            segments.append((change, offset))
            offset = _offset(change, tz)
        at = following
    segments.append((None, offset))
    return tuple(segments)


def day_from_number(number: int) -> date:
    """The date of a local day number (days since 1970-01-01 on the shop's wall clock)."""
    return EPOCH_DAY + timedelta(days=number)


def _offset(at: datetime, tz: tzinfo) -> int:
    return int((at.astimezone(tz).utcoffset() or timedelta(0)).total_seconds())


def _change_within(start: datetime, end: datetime, tz: tzinfo, before: int) -> datetime:
    """The first quarter hour in [start, end) whose offset is not `before` (zones change on quarter hours)."""
    at = start
    while at < end and _offset(at, tz) == before:
        at += timedelta(minutes=15)
    return at
