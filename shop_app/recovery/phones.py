"""Phone numbers as Reclaim keeps them: E.164, read by `phonenumbers` (libphonenumber's rules
and numbering plans). The one module that reads numbers with it; recipient_zone.py only asks a
stored number's time zone.

Shoppers type numbers the way they say them: "+49 30 1234567 ext. 8", "+44 (0)20 7946 0958",
"020 7946 0958". Keeping only the digits would send the extension along and keep the trunk
zero; a national number needs the country it was written in. So a number is read with the
shop's country as the default region (a number written with "+" or "00" needs none), the
extension is dropped, and a number that is not valid in its country's numbering plan is
refused with a reason. A reason never contains the number: it is logged.
"""

from __future__ import annotations

import logging
from typing import NamedTuple

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, ValidationResult

log = logging.getLogger(__name__)

#: Longer text is no phone number (E.164 has at most 15 digits; a written extension adds a few words).
MAX_TEXT = 64

_PARSE_REASONS = {
    NumberParseException.NOT_A_NUMBER: "not a phone number",
    NumberParseException.TOO_SHORT_AFTER_IDD: "too short",
    NumberParseException.TOO_SHORT_NSN: "too short",
    NumberParseException.TOO_LONG: "too long",
    NumberParseException.INVALID_COUNTRY_CODE: "unknown country calling code",
}
_LENGTH_REASONS = {
    ValidationResult.TOO_SHORT: "too short for its country",
    ValidationResult.TOO_LONG: "too long for its country",
    ValidationResult.INVALID_LENGTH: "the wrong length for its country",
    ValidationResult.INVALID_COUNTRY_CODE: "unknown country calling code",
    ValidationResult.IS_POSSIBLE_LOCAL_ONLY: "a local number without its area code",
}
NO_REGION = "a national number, and no country to read it by (the shop's country is not known)"


class Phone(NamedTuple):
    """A number read: `number` in E.164, or None and the `reason` it was refused."""

    number: str | None
    reason: str | None = None


def region_code(*candidates: object) -> str | None:
    """The first candidate that is a region phonenumbers knows ("de" → "DE"), else None."""
    for candidate in candidates:
        if isinstance(candidate, str) and candidate.strip().upper() in phonenumbers.SUPPORTED_REGIONS:
            return candidate.strip().upper()
    return None


def read_phone(text: str, region: str | None) -> Phone:
    """`text` as E.164, read with `region` (ISO 3166 alpha-2) for a number written without a country."""
    if len(text) > MAX_TEXT:
        return Phone(None, "too long")
    region = region_code(region)
    try:
        parsed = phonenumbers.parse(text, region)
    except NumberParseException as exc:
        international = text.lstrip().startswith("+")
        if exc.error_type == NumberParseException.INVALID_COUNTRY_CODE and region is None and not international:
            return Phone(None, NO_REGION)
        return Phone(None, _PARSE_REASONS.get(exc.error_type, "not a phone number"))
    length = phonenumbers.is_possible_number_with_reason(parsed)
    if length != ValidationResult.IS_POSSIBLE:
        return Phone(None, _LENGTH_REASONS.get(length, "not a possible number"))
    if not phonenumbers.is_valid_number(parsed):
        return Phone(None, f"not a valid number for country code +{parsed.country_code}")
    return Phone(phonenumbers.format_number(parsed, PhoneNumberFormat.E164))


def e164(text: str | None, region: str | None, what: str) -> str | None:
    """The number in E.164, or None: a refused one is logged as `what` and the reason, never the number."""
    if not text:
        return None
    phone = read_phone(text, region)
    if phone.number is None:
        log.info("%s dropped: %s", what, phone.reason)
    return phone.number
