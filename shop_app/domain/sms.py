"""SMS length: which encoding a text needs and how many segments it is billed as.

GSM 03.38 (GSM-7) packs 160 septets into one SMS; a concatenated message loses 7 septets per
part to the user-data header, leaving 153. Extension-table characters (``^{}\\[~]|€`` and form
feed) are sent as ESC + char, so they cost two septets. A single character outside GSM-7 (an
emoji, a curly quote, á/í/ó/ú…) switches the whole text to UCS-2: 70 UTF-16 code units alone,
67 per part, and characters beyond the BMP (most emoji) take two code units.

A character that does not fit whole in the current part starts the next one: an escape pair or
a surrogate pair is never split across parts (what handsets and Twilio do).

Source: ../shared/contracts/channels.md §3 (segments). Standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass

GSM7 = "gsm-7"
UCS2 = "ucs-2"

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

#: (single message, per part of a concatenated message), in septets or UTF-16 code units.
LIMITS = {GSM7: (160, 153), UCS2: (70, 67)}

MAX_SMS_SEGMENTS = 3


@dataclass(frozen=True)
class SmsLength:
    encoding: str  # GSM7 or UCS2
    characters: int  # billed length: septets (GSM-7) or UTF-16 code units (UCS-2)
    segments: int


@dataclass(frozen=True)
class SmsCapCheck:
    length: SmsLength
    cap: int

    @property
    def over(self) -> bool:
        return self.length.segments > self.cap

    def describe(self) -> str:
        length = self.length
        plural = "" if length.segments == 1 else "s"
        return (
            f"{length.segments} SMS segment{plural} ({length.encoding.upper()}, {length.characters} characters); "
            f"the limit is {self.cap}"
        )


def is_gsm7(text: str) -> bool:
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text)


def _unit_costs(text: str, encoding: str) -> list[int]:
    if encoding == GSM7:
        return [2 if ch in GSM7_EXTENSION else 1 for ch in text]
    return [2 if ord(ch) > 0xFFFF else 1 for ch in text]


def sms_length(text: str) -> SmsLength:
    encoding = GSM7 if is_gsm7(text) else UCS2
    costs = _unit_costs(text, encoding)
    total = sum(costs)
    single, per_part = LIMITS[encoding]
    if total == 0:
        return SmsLength(encoding, 0, 0)
    if total <= single:
        return SmsLength(encoding, total, 1)
    segments, used = 1, 0
    for cost in costs:
        if used + cost > per_part:
            segments, used = segments + 1, 0
        used += cost
    return SmsLength(encoding, total, segments)


def check_sms_cap(text: str, cap: int = MAX_SMS_SEGMENTS) -> SmsCapCheck:
    """How many segments `text` is, and whether that is over `cap`."""
    return SmsCapCheck(sms_length(text), cap)
