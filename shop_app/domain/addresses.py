"""A person's email addresses and phone numbers, found and removed in any spelling. Pure.

A phone number reaches us spelled many ways: "+49 30 1234567", "+49301234567", "0049301234567",
"49301234567" (WhatsApp's WaId), "030 1234567" (national, trunk prefix 0). The country calling
code (ITU-T E.164, a prefix-free code) splits an international number into country code and
national number, and every spelling is one of a few prefixes before the national number, with
separators anywhere between the digits.

Used to erase a customer (compliance/erasure.py: every spelling, every table) and to store
provider texts without the addresses they echo (`scrub_provider_text`).

A shipping address is never stored: an order keeps `shipping_address_key`, a keyed hash of the
address in a normal form, so the referral fraud rule "same shipping address" can compare orders
without anyone reading the address back.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

#: What an address is replaced with in a stored text.
MASK = "<address>"
#: What stands for the recipient's name in a provider's text (scrub_provider_text).
NAME_MASK = "<name>"
#: Shorter words of a name are not masked.
NAME_MIN_LENGTH = 3
_NAME_SEPARATORS = re.compile(r"[\s\-]+")
_AFTER_A_NAME = re.compile(rf"({re.escape(NAME_MASK)}[ \t]+)([^\W\d_][\w'’-]*)")

#: Country calling codes of one and two digits; every other code has three (ITU-T E.164 list).
_SHORT_CODES = frozenset({
    "1", "7", "20", "27", "30", "31", "32", "33", "34", "36", "39", "40", "41", "43", "44", "45",
    "46", "47", "48", "49", "51", "52", "53", "54", "55", "56", "57", "58", "60", "61", "62", "63",
    "64", "65", "66", "81", "82", "84", "86", "90", "91", "92", "93", "94", "95", "98",
})  # fmt: skip
#: A national number this long is distinctive enough to be matched without its country code.
_MIN_BARE_NATIONAL = 7
#: What people put between the digits of a phone number.
SEPARATORS = " \t-./()"
_SEP_CHAR = r"[\s\-./()]"
_SEP = _SEP_CHAR + "{0,3}"
_EMAIL_CHARS = r"[\w.!#$%&'*+/=?^`{|}~-]"
#: Any email address; any number written internationally (+ or 00, then 7–15 digits).
_ANY_EMAIL = re.compile(rf"(?<!{_EMAIL_CHARS}){_EMAIL_CHARS}+@[\w-]+(?:\.[\w-]+)+")
_ANY_INTERNATIONAL_PHONE = re.compile(rf"(?<![\w+])(?:\+|00)[0-9](?:{_SEP}[0-9]){{6,14}}(?![0-9])")


def address_hash(secret_key: str, address: str) -> str:
    """A keyed one-way hash: an erased opt-out can still be matched, never read back."""
    digest = hmac.new(secret_key.encode(), address.strip().lower().encode(), hashlib.sha256).hexdigest()
    return f"hmac-sha256:{digest}"


#: The parts of Shopify's address object (`shipping_address`) that say where a parcel goes, in
#: the order they are joined; names, company and phone say to whom, and are left out.
SHIPPING_PARTS = ("address1", "address2", "zip", "city", "country_code")
#: Longer values are cut before they are read (Shopify's fields are far shorter).
_MAX_PART = 255


def _fold(text: str) -> str:
    """Only letters and digits, accents and case dropped: `Calle Mayor, 5 - 2º B` → `callemayor52ob`.
    Spacing and punctuation say nothing about where a parcel goes, and differ between spellings."""
    decomposed = unicodedata.normalize("NFKD", text[:_MAX_PART])
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()
    return re.sub(r"[\W_]+", "", plain)


def normal_shipping_address(address: Mapping[str, Any] | None) -> str | None:
    """A shipping address (Shopify's address object) in one comparable form: address1 and
    address2 as one street, zip, city and country code, each folded (`_fold`) and joined by `|`.
    None without a street: an address of only a city and country is no one's in particular."""
    if not isinstance(address, Mapping):
        return None
    parts = {name: _fold(value) if isinstance(value := address.get(name), str) else "" for name in SHIPPING_PARTS}
    street = parts["address1"] + parts["address2"]
    if not street:
        return None
    return "|".join((street, parts["zip"], parts["city"], parts["country_code"]))


def shipping_address_key(secret_key: str, address: Mapping[str, Any] | None) -> str | None:
    """The address's key as stored in `orders.shipping_address_key`: HMAC-SHA256 (64 hex digits)
    of `normal_shipping_address`, keyed by a key derived from the app's secret for this purpose
    only. Equal for two spellings of one address; the address cannot be read back from it, nor
    guessed without the secret. None when there is no street to key."""
    normal = normal_shipping_address(address)
    if normal is None:
        return None
    key = hashlib.sha256(b"reclaim-shipping-address:" + secret_key.encode()).digest()
    return hmac.new(key, normal.encode(), hashlib.sha256).hexdigest()


def _phone_digits(value: str) -> str:
    """The number as stored (shop_app.domain.payloads.normal_phone): digits, with a leading + kept."""
    digits = re.sub(r"[^0-9]", "", value)
    return "+" + digits if value.strip().removeprefix("whatsapp:").startswith("+") else digits


def _international(phone: str) -> str | None:
    """The digits after the international prefix (+ or 00), or None for a national spelling."""
    if phone.startswith("+"):
        return phone[1:]
    if phone.startswith("00"):
        return phone[2:]
    return None


def split_country(international: str) -> tuple[str, str]:
    """(country calling code, national number) of an international number's digits."""
    for length in (1, 2):
        if international[:length] in _SHORT_CODES:
            return international[:length], international[length:]
    return international[:3], international[3:]


def _national_prefixes(country: str) -> tuple[str, ...]:
    """Trunk prefixes people dial before the national number at home (none in e.g. Spain, Italy)."""
    return ("", "0", "8") if country == "7" else ("", "0")


def phone_spellings(phone: str) -> frozenset[str]:
    """Every way a phone column may hold this number (separators stripped, as stored)."""
    digits = _phone_digits(phone)
    international = _international(digits)
    if not international:
        return frozenset({digits}) if digits else frozenset()
    country, national = split_country(international)
    forms = {"+" + international, "00" + international, international}
    forms |= {
        prefix + national for prefix in _national_prefixes(country) if prefix or len(national) >= _MIN_BARE_NATIONAL
    }
    return frozenset(forms)


def _spaced(digits: str) -> str:
    return _SEP.join(re.escape(d) for d in digits)


#: Where a national number starts: not inside other digits, nor right after another country's
#: code ("+43 30 1234567" is not the German 030 1234567).
_NATIONAL_START = "(?<![0-9+])" + "".join(
    rf"(?<!{prefix}[0-9]{{{k}}}{_SEP_CHAR * n})" for prefix in (r"\+", "00") for k in (1, 2, 3) for n in (1, 2, 3)
)


def _phone_pattern(phone: str) -> str:
    """A regex for the number in any spelling, never part of a longer number."""
    digits = _phone_digits(phone)
    international = _international(digits)
    if not international:
        return rf"{_NATIONAL_START}{_spaced(digits.lstrip('+'))}(?![0-9])"
    country, national = split_country(international)
    rest = rf"{country}{_SEP}(?:\(0\){_SEP})?{_spaced(national)}"
    spellings = [rf"(?<![0-9+])(?:(?:\+|00){_SEP})?{rest}"]  # +49…, 0049…, 49…
    for trunk in _national_prefixes(country):  # 030…, and 30… when that is long enough to tell
        if trunk or len(national) >= _MIN_BARE_NATIONAL:
            spellings.append(rf"{_NATIONAL_START}{re.escape(trunk)}{_SEP if trunk else ''}{_spaced(national)}")
    return rf"(?:{'|'.join(spellings)})(?![0-9])"


def _email_pattern(email: str) -> str:
    return rf"(?<!{_EMAIL_CHARS}){re.escape(email)}(?![\w-]|\.[\w-])"


@functools.lru_cache(maxsize=64)
def _pattern(emails: frozenset[str], phones: frozenset[str]) -> re.Pattern[str] | None:
    parts = [_email_pattern(e) for e in sorted(emails)] + [_phone_pattern(p) for p in sorted(phones)]
    return re.compile("|".join(parts), re.IGNORECASE) if parts else None


@dataclass(frozen=True)
class Addresses:
    """One person's addresses: emails (lower-cased) and phone numbers (as given)."""

    emails: frozenset[str] = frozenset()
    phones: frozenset[str] = frozenset()

    @classmethod
    def of(cls, values: Iterable[str | None]) -> Addresses:
        """Sorted by shape: an email has an @; a phone number has at least six digits."""
        emails, phones = set(), set()
        for value in values:
            if value and "@" in value:
                emails.add(value.strip().lower())
            elif value and len(re.sub(r"[^0-9]", "", value)) >= 6:
                phones.add(_phone_digits(value))
        return cls(frozenset(emails), frozenset(phones))

    def __or__(self, other: Addresses) -> Addresses:
        return Addresses(self.emails | other.emails, self.phones | other.phones)

    def __bool__(self) -> bool:
        return bool(self.emails or self.phones)

    def phone_forms(self) -> frozenset[str]:
        """Every stored spelling of every phone number."""
        return frozenset(form for phone in self.phones for form in phone_spellings(phone))

    def phone_cores(self) -> frozenset[str]:
        """The digits every spelling of each number contains once its separators are dropped (the
        national number): a first filter a database can run; `found_in` is the exact test."""
        cores = set()
        for phone in self.phones:
            international = _international(phone)
            cores.add(split_country(international)[1] if international else phone.lstrip("+"))
        return frozenset(cores)

    def found_in(self, text: str) -> bool:
        pattern = _pattern(self.emails, self.phones)
        return pattern is not None and pattern.search(text) is not None

    def scrub(self, text: str) -> str:
        """The text with each of these addresses, in any spelling, replaced by MASK."""
        pattern = _pattern(self.emails, self.phones)
        return pattern.sub(MASK, text) if pattern is not None else text

    def scrub_json(self, value: Any) -> Any:
        """A JSON value with every string (keys too) scrubbed."""
        if isinstance(value, str):
            return self.scrub(value)
        if isinstance(value, list):
            return [self.scrub_json(v) for v in value]
        if isinstance(value, dict):
            return {self.scrub(str(k)): self.scrub_json(v) for k, v in value.items()}
        return value


def scrub_provider_text(text: str, *known: str | None, names: Iterable[str | None] = ()) -> str:
    """A provider's words (an error message, a bounce reason, an inbound SMS) without addresses:
    the known ones in any spelling, and any email or internationally written number; and
    without the recipient's `names` (each word of them, in any case, as a whole word; words
    shorter than NAME_MIN_LENGTH are left: masking "Al" or "Jo" would wreck ordinary words),
    nor a capitalised word right after one (the family name, which is not kept)."""
    text = Addresses.of(known).scrub(text)
    text = _ANY_INTERNATIONAL_PHONE.sub(MASK, _ANY_EMAIL.sub(MASK, text))
    words = {word for name in names if name for word in _NAME_SEPARATORS.split(name) if len(word) >= NAME_MIN_LENGTH}
    if not words:
        return text
    alternatives = "|".join(re.escape(word) for word in sorted(words, key=len, reverse=True))
    text = re.sub(rf"(?<!\w)(?:{alternatives})(?!\w)", NAME_MASK, text, flags=re.IGNORECASE)
    # The family name is not kept, but is often written right after the first: "Ana Ruiz".
    return _AFTER_A_NAME.sub(lambda m: m[1] + NAME_MASK if m[2][0].isupper() else m[0], text)
