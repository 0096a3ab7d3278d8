"""The recipient's time zone, when their phone number tells it (issue 12, recipient quiet hours).

libphonenumber knows the zones of a number's country, or of its area code where the country has
several (+1 212: America/New_York; +1 808: Pacific/Honolulu). A number whose region spans several
zones (a Russian or Australian mobile, and Spain's, which includes the Canaries) tells nothing
certain: only exactly one zone counts, else the shop's windows alone apply. The zone's name goes
to domain/quiet_hours.py; it is never put in a reason or a log, and neither is the number.
"""

from __future__ import annotations

from functools import cache
from zoneinfo import available_timezones

import phonenumbers
from phonenumbers import NumberParseException, timezone

#: What libphonenumber answers for a number it cannot place.
UNKNOWN = timezone.UNKNOWN_TIMEZONE


def zone_of(number: str | None) -> str | None:
    """The one IANA zone of an E.164 number (a `whatsapp:` address too), or None."""
    if not number:
        return None
    try:
        parsed = phonenumbers.parse(number.removeprefix("whatsapp:"))
    except NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    zones = timezone.time_zones_for_number(parsed)
    if len(zones) != 1 or zones[0] == UNKNOWN or zones[0] not in _known_zones():
        return None
    return zones[0]


@cache
def _known_zones() -> frozenset[str]:
    """The zones this machine's zoneinfo can read (read once: it lists the zone files)."""
    return frozenset(available_timezones())
