"""Delivery windows: when a windowed channel (WhatsApp, SMS) may send, and the next time it may. Pure.

A message that falls due outside every window waits for the next opening; `WeeklyWindows` says
what "open" means, around DST too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from shop_app.domain.validation import FieldError, ValidationError

WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # like date.weekday()

MINUTES_PER_DAY = 24 * 60

DEFAULT_START = 9 * 60  # 09:00
DEFAULT_END = 21 * 60  # 21:00
#: 09:00-21:00 every day, the windows a shop has until its merchant changes them.
DEFAULT_DAYS: tuple[tuple[tuple[int, int], ...], ...] = tuple(((DEFAULT_START, DEFAULT_END),) for _ in WEEKDAYS)

DAYS_FIELD = "delivery_windows.days"
TIMEZONE_FIELD = "delivery_windows.timezone"

#: How many local days past `at` next_open searches. One week always contains every window once;
#: two weeks and a bit still find an answer when a week's only window fell into a DST gap or a
#: skipped calendar day (Pacific/Apia, 30 Dec 2011).
LOOKAHEAD_DAYS = 16

_UTC = UTC
# Two ASCII digits each ([0-9], not \d, which also matches other scripts' digits).
_HHMM = re.compile(r"([0-9]{2}):([0-9]{2})")

Interval = tuple[int, int]
Day = tuple[Interval, ...]


def format_minute(minute: int) -> str:
    """Minute of the day (0..1440) as "HH:MM"; 1440 is "24:00"."""
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _parse_hhmm(value: object) -> int | None:
    """The minute of the day written as "HH:MM" (00:00..24:00), or None for anything else."""
    if not isinstance(value, str):
        return None
    match = _HHMM.fullmatch(value)
    if match is None:
        return None
    hours, minutes = int(match.group(1)), int(match.group(2))
    if minutes > 59 or hours > 24 or (hours == 24 and minutes != 0):
        return None
    return hours * 60 + minutes


def _load_zone(name: object) -> tuple[ZoneInfo | None, str | None]:
    """The zone for an IANA name, or (None, message) saying why it cannot be used."""
    if not isinstance(name, str) or not name:
        return None, "must be an IANA time zone name such as Europe/Madrid"
    # "localtime" loads on some systems but means whatever the server is set to: refuse it.
    if name == "localtime":
        return None, "must be an IANA time zone name, not the server's local time"
    try:
        return ZoneInfo(name), None
    except (KeyError, ValueError, OSError, UnicodeError):  # ZoneInfoNotFoundError is a KeyError
        return None, f"unknown time zone {name!r}"


def _check_days(days: object, base: str) -> list[FieldError]:
    """Invariant errors of an already-parsed days tuple (used by the constructor)."""
    if not isinstance(days, tuple) or len(days) != len(WEEKDAYS):
        return [FieldError(base, f"needs exactly {len(WEEKDAYS)} days, Monday first")]
    errors: list[FieldError] = []
    for name, day in zip(WEEKDAYS, days, strict=True):
        previous_end = 0
        for index, interval in enumerate(day):
            start, end = interval
            if not (0 <= start < end <= MINUTES_PER_DAY):
                errors.append(FieldError(f"{base}.{name}[{index}]", f"invalid interval {interval!r}"))
            elif start < previous_end:
                errors.append(FieldError(f"{base}.{name}[{index}]", "intervals must be sorted and not overlap"))
            else:
                previous_end = end
    if not errors and not any(days):
        errors.append(FieldError(base, "at least one day needs a delivery window"))
    return errors


@dataclass(frozen=True)
class WeeklyWindows:
    """A merchant's delivery windows: per weekday, local wall-clock intervals in one IANA time zone.

    An instant is *open* when the zone's wall clock, read at that instant, shows a weekday and a
    time of day inside one of that weekday's intervals (start included, end excluded).
    ``next_open(at)`` is the earliest instant >= ``at`` that is open; around DST that means:

    * spring forward (a gap in wall time): a window starting inside the gap, e.g. 02:30 on the US
      spring-forward day in America/New_York, opens at the instant the clock jumps (03:00 EDT), the
      first real instant at which the clock shows a time >= 02:30. A window lying wholly inside the
      gap (02:10-02:50 that day) does not happen that day.
    * fall back (repeated wall time): a window starting at an ambiguous time opens at its first
      occurrence (01:30 EDT, not 01:30 EST). While the clock repeats an hour it again shows times
      that may be inside or outside a window, so e.g. 00:00-01:30 on the US fall-back day is open
      00:00-01:30 EDT, closed until the clock falls back, and open again 01:00-01:30 EST.
    * an interval ending at 24:00 runs to the next local midnight, and since openness is judged per
      instant, "mon 22:00-24:00" and "tue 00:00-02:00" form one continuous open period.
    """

    timezone: str
    #: Exactly 7 entries, Monday first. Each interval is (start_minute, end_minute) with
    #: 0 <= start < end <= 1440, sorted, non-overlapping; touching intervals are allowed and behave
    #: as one continuous open period.
    days: tuple[Day, ...]
    _zone: ZoneInfo = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Accept lists from callers but store tuples, so values compare and hash predictably.
        try:
            days = tuple(tuple((int(s), int(e)) for s, e in day) for day in self.days)
        except (TypeError, ValueError):
            raise ValidationError([FieldError(DAYS_FIELD, "must be 7 lists of (start, end) minute pairs")]) from None
        object.__setattr__(self, "days", days)
        zone, zone_error = _load_zone(self.timezone)
        errors = _check_days(days, DAYS_FIELD)
        if zone_error is not None:
            errors.insert(0, FieldError(TIMEZONE_FIELD, zone_error))
        if errors:
            raise ValidationError(errors)
        object.__setattr__(self, "_zone", zone)

    @classmethod
    def default(cls, timezone: str) -> WeeklyWindows:
        """09:00-21:00 every day in `timezone`."""
        return cls(timezone=timezone, days=DEFAULT_DAYS)

    # -- documents -------------------------------------------------------------------------------

    @classmethod
    def from_document(cls, doc: object, *, field: str = DAYS_FIELD, timezone: str) -> WeeklyWindows:
        """Parse the JSON value of the `days` key, e.g. {"mon": [["09:00", "21:00"]], ..., "sun": []}.

        Every weekday must be present (an empty list means closed that day); intervals may be given
        in any order but must not overlap (touching is fine). Every problem found, in the days and
        in `timezone`, is raised together as one ValidationError.
        """
        errors: list[FieldError] = []
        _, zone_error = _load_zone(timezone)
        if zone_error is not None:
            errors.append(FieldError(TIMEZONE_FIELD, zone_error))

        if not isinstance(doc, dict):
            errors.append(FieldError(field, "must be an object with one list of windows per weekday (mon..sun)"))
            raise ValidationError(errors)

        for key in doc:
            if key not in WEEKDAYS:
                errors.append(FieldError(f"{field}.{key}", f"unknown day; expected one of {', '.join(WEEKDAYS)}"))

        days: list[Day] = []
        entries_given = 0
        for name in WEEKDAYS:
            path = f"{field}.{name}"
            if name not in doc:
                errors.append(FieldError(path, 'missing; give a list of ["HH:MM", "HH:MM"] windows, or [] when closed'))
                days.append(())
                continue
            value = doc[name]
            if not isinstance(value, list):
                errors.append(FieldError(path, 'must be a list of ["HH:MM", "HH:MM"] windows ([] when closed)'))
                days.append(())
                continue
            entries_given += len(value)
            days.append(_parse_day(value, path, errors))

        if entries_given == 0:
            errors.append(FieldError(field, "at least one day needs a delivery window"))
        if errors:
            raise ValidationError(errors)
        return cls(timezone=timezone, days=tuple(days))

    def to_document(self) -> dict[str, list[list[str]]]:
        """The inverse of from_document: {"mon": [["09:00", "21:00"]], ...}; an end of 1440 is "24:00"."""
        return {
            name: [[format_minute(start), format_minute(end)] for start, end in day]
            for name, day in zip(WEEKDAYS, self.days, strict=True)
        }

    # -- time --------------------------------------------------------------------------------------

    def is_open(self, at: datetime) -> bool:
        """Whether the wall clock of self.timezone, read at the aware instant `at`, is inside a window."""
        local = _aware(at).astimezone(self._zone)
        since_midnight = local.replace(tzinfo=None) - datetime.combine(local.date(), time())
        return any(
            timedelta(minutes=start) <= since_midnight < timedelta(minutes=end)
            for start, end in self.days[local.weekday()]
        )

    def next_open(self, at: datetime) -> datetime:
        """`at` (in UTC) if it is open; otherwise the first instant after `at` at which a window opens, in UTC.

        Openness only begins at a few kinds of instant, so instead of scanning time we collect them
        for each local day around `at` and keep the earliest that is after `at` and really open:

        * the moment the clock reaches an interval's start, i.e. the wall time converted with
          fold=0 (first occurrence) and, when it is ambiguous, also fold=1 (the clock shows it
          again after falling back);
        * the moment the clock jumps (a DST transition) when a start lies in a gap (jumping
          forward over it) or an end is ambiguous (the clock may jump back into the interval).
        """
        at_utc = _aware(at).astimezone(_UTC)
        if self.is_open(at_utc):
            return at_utc
        # Start a day early: after the clock fell back, wall times of the previous local day can
        # still lie after `at`.
        first_day = at_utc.astimezone(self._zone).date() - timedelta(days=1)
        best: datetime | None = None
        best_day: date | None = None
        for offset in range(LOOKAHEAD_DAYS + 2):
            day = first_day + timedelta(days=offset)
            # Instants of later local days come later (barring a clock falling back by over a day).
            if best_day is not None and day > best_day + timedelta(days=1):
                break
            for candidate in self._openings(day):
                if candidate > at_utc and (best is None or candidate < best) and self.is_open(candidate):
                    best = candidate
                    best_day = candidate.astimezone(self._zone).date()
        if best is None:  # only for a zone whose clock skips every window for weeks
            raise ValueError(f"no delivery window within {LOOKAHEAD_DAYS} days after {at_utc.isoformat()}")
        return best

    def _openings(self, day: date) -> list[datetime]:
        """UTC instants at which one of `day`'s intervals may begin to be open (see next_open)."""
        midnight = datetime.combine(day, time())
        found: list[datetime] = []
        for start, end in self.days[day.weekday()]:
            first, second = self._both_folds(midnight + timedelta(minutes=start))
            found.append(first)
            if second != first:  # a gap or an ambiguous start
                found += [second, _transition(self._zone, first, second)]
            end_first, end_second = self._both_folds(midnight + timedelta(minutes=end))
            if end_second != end_first:
                found.append(_transition(self._zone, end_first, end_second))
        return found

    def _both_folds(self, wall: datetime) -> tuple[datetime, datetime]:
        """The naive wall time read with fold=0 and fold=1, in UTC, earliest first.

        Equal for an ordinary time. For a repeated time: its first and second occurrence. For a
        time in a gap (which never occurs), zoneinfo applies the offsets before and after the
        jump; the jump itself lies between the two results.
        """
        a = wall.replace(tzinfo=self._zone, fold=0).astimezone(_UTC)
        b = wall.replace(tzinfo=self._zone, fold=1).astimezone(_UTC)
        return (a, b) if a <= b else (b, a)


def _parse_day(value: list[object], path: str, errors: list[FieldError]) -> Day:
    """Valid intervals of one day, sorted; every problem is appended to `errors`."""
    parsed: list[tuple[int, int, int]] = []  # (start, end, index in the document)
    for index, item in enumerate(value):
        where = f"{path}[{index}]"
        if not isinstance(item, (list, tuple)) or len(item) != 2:
            errors.append(FieldError(where, 'must be a pair ["HH:MM", "HH:MM"], e.g. ["09:00", "21:00"]'))
            continue
        start, end = _parse_hhmm(item[0]), _parse_hhmm(item[1])
        problems = []
        if start is None:
            problems.append(f"start {item[0]!r} is not a time in HH:MM format (00:00 to 23:59)")
        elif start == MINUTES_PER_DAY:
            problems.append("start cannot be 24:00; use 00:00 of the next day")
        if end is None:
            problems.append(f"end {item[1]!r} is not a time in HH:MM format (00:01 to 24:00)")
        if start is not None and end is not None and not problems and start >= end:
            problems.append(_order_problem(start, end))
        if problems or start is None or end is None:
            errors.append(FieldError(where, "; ".join(problems)))
            continue
        parsed.append((start, end, index))

    parsed.sort()
    day_name = path.rsplit(".", 1)[-1]
    reach: tuple[int, int, int] | None = None  # the interval reaching furthest so far
    for current in parsed:
        if reach is not None and current[0] < reach[1]:
            # Report on whichever of the two comes later in the document.
            later, earlier = (current, reach) if current[2] > reach[2] else (reach, current)
            errors.append(
                FieldError(
                    f"{path}[{later[2]}]",
                    f"{format_minute(later[0])}-{format_minute(later[1])} overlaps "
                    f"{format_minute(earlier[0])}-{format_minute(earlier[1])} ({day_name}[{earlier[2]}])",
                )
            )
        if reach is None or current[1] > reach[1]:
            reach = current
    return tuple((start, end) for start, end, _ in parsed)


def _order_problem(start: int, end: int) -> str:
    """Why an interval whose start is not before its end is refused. A window never crosses
    midnight: the merchant splits it in two, the second half on the next day."""
    if start == end:
        return f"start {format_minute(start)} must be before end {format_minute(end)}"
    written = f"{format_minute(start)}-{format_minute(end)}"
    if end == 0:
        return f"{written} ends at midnight: write the end of the day as 24:00 ({format_minute(start)}-24:00)"
    return (
        f"{written} crosses midnight, and a window must end by 24:00: split it into "
        f"{format_minute(start)}-24:00 and 00:00-{format_minute(end)} on the next day"
    )


def _transition(zone: ZoneInfo, before: datetime, after: datetime) -> datetime:
    """The first instant in (before, after] whose UTC offset is that of `after`.

    `before` and `after` straddle one offset change (they are a wall time read with both folds, so
    they lie at most one DST shift apart); transitions fall on whole seconds, so bisect on seconds.
    """
    target = after.astimezone(zone).utcoffset()
    low, high = 0, int((after - before).total_seconds())  # offset(before + low) != target
    while high - low > 1:
        middle = (low + high) // 2
        if (before + timedelta(seconds=middle)).astimezone(zone).utcoffset() == target:
            high = middle
        else:
            low = middle
    return before + timedelta(seconds=high)


def _aware(at: datetime) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("a timezone-aware datetime is required")
    return at
