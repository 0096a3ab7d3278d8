"""Quiet hours in the recipient's time zone (issue 12, offer discipline; product.md §8). Pure.

A windowed message (WhatsApp, SMS) waits for the shop's delivery window. When the recipient's
time zone is known (their phone number names exactly one: recovery/recipient_zone.py), it also
waits for the recipient's local 09:00-21:00: it goes out at the first instant both allow. A shop
in Madrid writing to New York at 15:00 Madrid reaches the customer at 09:00, not at dawn.

The shop's window is the rule (product.md §7, rule 2: nothing on a windowed channel outside it);
the recipient's hours are a courtesy on top, and a bounded one: an instant open in both is
waited for up to a day after the shop's own next opening (`COURTESY_WAIT`). A reminder held a
week for a meeting that only a clock change brings (Madrid 09:00-15:00 first meets a New York
morning when the US moves its clocks) would come too late to help. When none comes in that time
(a shop window of 09:00-13:00 in Madrid never meets a Los Angeles day), the message goes out at
the shop's next opening (now, when the window is open), and the reason says so. Every instant
`release` answers is inside the shop's window.

`release` answers with the instant the message may go out and the reason to record; the zone's
name comes in as text and is read with zoneinfo, so every DST rule is the zone's own. Neither
the zone nor anything else about the recipient goes into a reason (recipient_zone.py).
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

#: How much later than the shop's own next opening a message may wait for the recipient's hours.
COURTESY_WAIT = timedelta(days=1)
#: Why the recipient's hours are not waited for: no window meets them within the courtesy wait.
NO_OVERLAP = (
    f"the shop's delivery window does not meet the recipient's local hours ({RECIPIENT_HOURS}) "
    "within a day of its next opening"
)
#: Recorded on a message sent inside the shop's window while the recipient's hours are closed.
NO_OVERLAP_NOW = f"sent inside the delivery window, outside the recipient's local hours: {NO_OVERLAP}"


@dataclass(frozen=True)
class Release:
    """When a windowed message may go out (UTC; `now` itself when it may go now; always inside the
    shop's window), and the reason to record: why it waits, or why it goes outside the recipient's
    hours; None when nothing needs saying (it goes now, inside both)."""

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
    opens = shop.next_open(now)  # now, when the window is open
    if recipient is None:
        return (
            Release(now)
            if opens == now
            else Release(opens, f"outside delivery window; postponed to {_shop_time(shop, opens)}")
        )
    both = first_open_in_both(shop, recipient, now, opens + COURTESY_WAIT)
    if both is None:  # the shop's window wins
        if opens == now:
            return Release(now, NO_OVERLAP_NOW)
        return Release(opens, no_overlap_postponed(_shop_time(shop, opens)))
    if both == now:
        return Release(now)
    when = _shop_time(shop, both)
    if shop.is_open(now):
        return Release(both, f"outside the recipient's local hours ({RECIPIENT_HOURS}); postponed to {when}")
    if both == opens:  # the shop's own window is what it waits for
        return Release(both, f"outside delivery window; postponed to {when}")
    return Release(
        both, f"outside delivery window and the recipient's local hours ({RECIPIENT_HOURS}); postponed to {when}"
    )


def no_overlap_postponed(when: str) -> str:
    """The reason for a message held to the shop's next opening (`when`, as _shop_time writes it)
    because no window meets the recipient's hours."""
    return f"outside delivery window; postponed to {when}, the window's next opening: {NO_OVERLAP}"


def first_open_in_both(a: WeeklyWindows, b: WeeklyWindows, start: datetime, until: datetime) -> datetime | None:
    """The first instant in [start, until] open in both `a` and `b`, or None.

    Leapfrog: the first instant open in `a` from t, then the first open in `b` from there; when
    both are the same instant it is open in both. Nothing before t is open in both at each turn,
    and every turn moves t to a later opening of `b`: about one turn a day of `b`'s 09:00-21:00.
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
