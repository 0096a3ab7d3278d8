"""Quiet hours in the recipient's time zone (issue 12, offer discipline; product.md §8). Pure.

A windowed message (WhatsApp, SMS) waits for the shop's delivery window. When the recipient's
time zone is known (their phone number names exactly one: recovery/recipient_zone.py), it also
waits for the recipient's local 09:00-21:00: it goes out at the first instant both allow. A shop
in Madrid writing to New York at 15:00 Madrid reaches the customer at 09:00, not at dawn.

When no instant in the next `OVERLAP_DAYS` days is open in both (a shop window of 09:00-13:00 in
Madrid never meets a New York morning), the recipient's time wins: the message goes out at the
recipient's next 09:00 (or now, when it is daytime for them), and the reason says so. The
merchant's window is about when the shop wants to write; the recipient's hours are about not
waking anyone.

`release` answers with the instant the message may go out and the reason to record; the zone's
name comes in as text and is read with zoneinfo, so every DST rule is the zone's own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from shop_app.domain.validation import ValidationError
from shop_app.domain.windows import WeeklyWindows, format_minute

#: The recipient's local hours: 09:00-21:00 every day (the shops' default windows, windows.py).
RECIPIENT_DAYS = WeeklyWindows.default("UTC").days
RECIPIENT_HOURS = f"{format_minute(RECIPIENT_DAYS[0][0][0])}-{format_minute(RECIPIENT_DAYS[0][0][1])}"
#: How far ahead an instant open for both is looked for before the recipient's time wins.
OVERLAP_DAYS = 7

NO_OVERLAP_LATER = "postponed to the recipient's 09:00 local time: no shop window overlaps it"
NO_OVERLAP_NOW = (
    f"sent in the recipient's local hours ({RECIPIENT_HOURS}) outside the delivery window: no shop window overlaps them"
)


@dataclass(frozen=True)
class Release:
    """When a windowed message may go out (UTC; `now` itself when it may go now), and the reason
    to record: why it waits, or why it goes outside the shop's window; None when nothing needs
    saying (it goes now, inside both)."""

    at: datetime
    reason: str | None = None


def recipient_hours(zone: str | None) -> WeeklyWindows | None:
    """The recipient's 09:00-21:00 in `zone`, or None when the zone is unknown or not one zoneinfo has."""
    if not zone:
        return None
    try:
        return WeeklyWindows(timezone=zone, days=RECIPIENT_DAYS)
    except ValidationError:
        return None


def release(shop: WeeklyWindows, recipient_zone: str | None, now: datetime) -> Release:
    """When a message on a windowed channel, due at `now`, may go out (see the module docstring)."""
    recipient = recipient_hours(recipient_zone)
    if recipient is None:
        if shop.is_open(now):
            return Release(now)
        opens = shop.next_open(now)
        return Release(opens, f"outside delivery window; postponed to {_shop_time(shop, opens)}")
    both = first_open_in_both(shop, recipient, now, now + timedelta(days=OVERLAP_DAYS))
    if both is None:  # the recipient's time wins
        opens = recipient.next_open(now)
        return Release(opens, NO_OVERLAP_NOW if opens == now else NO_OVERLAP_LATER)
    if both == now:
        return Release(now)
    when = _shop_time(shop, both)
    if shop.is_open(now):
        return Release(both, f"outside the recipient's local hours ({RECIPIENT_HOURS}); postponed to {when}")
    if both == shop.next_open(now):  # the shop's own window is what it waits for
        return Release(both, f"outside delivery window; postponed to {when}")
    return Release(
        both, f"outside delivery window and the recipient's local hours ({RECIPIENT_HOURS}); postponed to {when}"
    )


def first_open_in_both(a: WeeklyWindows, b: WeeklyWindows, start: datetime, until: datetime) -> datetime | None:
    """The first instant in [start, until] open in both `a` and `b`, or None.

    Leapfrog: the first instant open in `a` from t, then the first open in `b` from there; when
    both are the same instant it is open in both. Nothing before t is open in both at each turn,
    and every turn moves t to a later opening of `b`, so a week takes a handful of turns.
    """
    at = start
    while at <= until:
        in_a = a.next_open(at)
        if in_a > until:
            return None
        in_b = b.next_open(in_a)
        if in_b == in_a:
            return in_a
        at = in_b
    return None


def _shop_time(shop: WeeklyWindows, at: datetime) -> str:
    local = at.astimezone(ZoneInfo(shop.timezone))
    return f"{local:%a %Y-%m-%d %H:%M} {shop.timezone}"
