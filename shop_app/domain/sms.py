"""SMS length: which encoding a text needs and how many segments it is billed as. Pure.

`gsm_fold` respells customer data into GSM-7 where a close spelling exists; the send path uses it only
when a message would otherwise go over the segment cap (shop_app/messaging/sandbox.py, `fit_sms`).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

GSM7 = "gsm-7"
UCS2 = "ucs-2"

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")
_GSM7 = GSM7_BASIC | GSM7_EXTENSION

#: (single message, per part of a concatenated message), in septets or UTF-16 code units.
LIMITS = {GSM7: (160, 153), UCS2: (70, 67)}

MAX_SMS_SEGMENTS = 3


@dataclass(frozen=True)
class SmsLength:
    encoding: str  # GSM7 or UCS2
    characters: int  # billed length: septets (GSM-7) or UTF-16 code units (UCS-2)
    segments: int


#: How many of the characters that force UCS-2 a message names ("UCS-2: ó, í, 😀").
SHOWN_NON_GSM = 5

#: Look-alikes with no decomposition to a GSM-7 letter (NFKD handles accents and ligatures).
_LOOKALIKES = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'", "\u00b4": "'", "`": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u2033": '"', "\u00ab": '"', "\u00bb": '"',
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2212": "-",
    "\u2026": "...", "\u00a0": " ", "\u2009": " ", "\u202f": " ", "\u00b7": "-", "\u2022": "-",
    "\u00d7": "x", "\u0131": "i", "\u0141": "L", "\u0142": "l", "\u00f0": "d", "\u00d0": "D", "\u0153": "oe",
    "\u0152": "OE", "\u00fe": "th", "\u00de": "Th",
})  # fmt: skip


@dataclass(frozen=True)
class SmsCapCheck:
    length: SmsLength
    cap: int
    non_gsm: tuple[str, ...] = ()  # the characters that made the text UCS-2, first few, in order

    @property
    def over(self) -> bool:
        return self.length.segments > self.cap

    def describe(self) -> str:
        """'SMS is 4 segments (UCS-2: ó; 211 characters) — the cap is 3'."""
        length = self.length
        plural = "" if length.segments == 1 else "s"
        encoding = length.encoding.upper()
        if self.non_gsm:
            encoding += ": " + ", ".join(_shown(ch) for ch in self.non_gsm)
        return (
            f"SMS is {length.segments} segment{plural} ({encoding}; {length.characters} characters)"
            f" — the cap is {self.cap}"
        )


def _shown(ch: str) -> str:
    """A character as a merchant can find it: itself when visible, else its code point."""
    return ch if ch.isprintable() and not ch.isspace() else f"U+{ord(ch):04X}"


def _in_gsm7(ch: str) -> bool:
    return ch in _GSM7


def is_gsm7(text: str) -> bool:
    return _GSM7.issuperset(text)


def non_gsm_characters(text: str, limit: int = SHOWN_NON_GSM) -> tuple[str, ...]:
    """The distinct characters of `text` outside GSM-7, in order of appearance (at most `limit`)."""
    found: list[str] = []
    for ch in text:
        if not _in_gsm7(ch) and ch not in found:
            found.append(ch)
            if len(found) == limit:
                break
    return tuple(found)


def gsm_fold(text: str) -> str | None:
    """`text` spelled in GSM-7 (accents GSM-7 lacks dropped, look-alike punctuation replaced),
    or None when some character has no GSM-7 spelling (Cyrillic, CJK, emoji…)."""
    out: list[str] = []
    for ch in text.translate(_LOOKALIKES):
        if _in_gsm7(ch):
            out.append(ch)
            continue
        base = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
        if not base or not is_gsm7(base):
            return None
        out.append(base)
    return "".join(out)


def _unit_costs(text: str, encoding: str) -> list[int]:
    if encoding == GSM7:
        return [2 if ch in GSM7_EXTENSION else 1 for ch in text]
    return [2 if ord(ch) > 0xFFFF else 1 for ch in text]


def sms_length(text: str) -> SmsLength:
    """The encoding `text` needs, its length in septets or UTF-16 code units, and its segments.

    GSM 03.38 (GSM-7) packs 160 septets into one SMS; a concatenated message loses 7 septets per
    part to the user-data header, leaving 153. Extension-table characters (``^{}\\[~]|€`` and form
    feed) are sent as ESC + char, so they cost two septets. A single character outside GSM-7 (an
    emoji, a curly quote, á/í/ó/ú…) switches the whole text to UCS-2: 70 UTF-16 code units alone,
    67 per part, and characters beyond the BMP (most emoji) take two code units. A character that
    does not fit whole in the current part starts the next one: an escape pair or a surrogate
    pair is never split across parts (what handsets and Twilio do).
    """
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
    length = sms_length(text)
    return SmsCapCheck(length, cap, non_gsm_characters(text) if length.encoding == UCS2 else ())
