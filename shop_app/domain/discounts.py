"""A unique discount code as a value: what to create in Shopify, checked when built.

Pure: the caller passes the clock (`now`) and the randomness (`os.urandom` output).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

KINDS = ("percentage", "fixed_amount", "free_shipping")

#: Upper-case letters and digits without the look-alikes 0/O, 1/I/L: a code read
#: aloud or copied from an SMS cannot be mistyped into another valid code.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
DEFAULT_CODE_LENGTH = 12
MIN_CODE_LENGTH = 10
#: Bits of randomness beyond what the code needs, so mapping bytes to the
#: alphabet leaves no usable bias (< 2**-32).
SPARE_BITS = 32
MAX_CODE_CHARS = 255  # Shopify's limit on a discount code
DEFAULT_EXPIRY_HOURS = 72
CUSTOMER_GID_PREFIX = "gid://shopify/Customer/"

_PREFIX = re.compile(r"^[A-Z0-9]{0,20}$")


def _bits_per_char() -> int:
    return (len(CODE_ALPHABET) - 1).bit_length()  # 5 for 31 symbols


def random_bytes_needed(length: int = DEFAULT_CODE_LENGTH) -> int:
    """How many random bytes `unguessable_code` needs for a body of `length` characters."""
    return (length * _bits_per_char() + SPARE_BITS + 7) // 8


def unguessable_code(prefix: str, random_bytes: bytes, length: int = DEFAULT_CODE_LENGTH) -> str:
    """`PREFIX-BODY`, BODY being `length` symbols drawn from `random_bytes`.

    12 symbols of a 31-letter alphabet carry about 59 bits: far beyond guessing at
    checkout, where every wrong try costs a request.
    """
    if length < MIN_CODE_LENGTH:
        raise ValueError(f"a code body needs at least {MIN_CODE_LENGTH} characters")
    prefix = prefix.upper()
    if not _PREFIX.match(prefix):
        raise ValueError("a code prefix is up to 20 letters or digits")
    needed = random_bytes_needed(length)
    if len(random_bytes) < needed:
        raise ValueError(f"{length} characters need at least {needed} random bytes, got {len(random_bytes)}")
    number = int.from_bytes(random_bytes, "big")
    symbols = []
    for _ in range(length):
        number, index = divmod(number, len(CODE_ALPHABET))
        symbols.append(CODE_ALPHABET[index])
    body = "".join(symbols)
    return f"{prefix}-{body}" if prefix else body


def default_expiry(now: datetime, hours: int = DEFAULT_EXPIRY_HOURS) -> datetime:
    """When a code created at `now` stops working."""
    _require_aware("now", now)
    if hours <= 0:
        raise ValueError("a code must stay valid for at least an hour")
    return now + timedelta(hours=hours)


def _require_aware(name: str, value: datetime) -> None:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime")


@dataclass(frozen=True)
class DiscountSpec:
    """One single-use code. `value` is percent points (10 = 10 %) or an amount in
    the shop's currency; free shipping carries no value."""

    kind: str
    value: Decimal | None
    code: str
    title: str
    starts_at: datetime
    ends_at: datetime
    customer_gid: str | None = None
    combines_with_shipping: bool = False

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {self.kind!r}")
        if isinstance(self.value, int) and not isinstance(self.value, bool):
            object.__setattr__(self, "value", Decimal(self.value))
        self._check_value()
        if not self.code or len(self.code) > MAX_CODE_CHARS or any(ch.isspace() for ch in self.code):
            raise ValueError("a code is 1 to 255 characters without spaces")
        if not self.title.strip():
            raise ValueError("a discount needs a title (merchants see it in the admin)")
        _require_aware("starts_at", self.starts_at)
        _require_aware("ends_at", self.ends_at)
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        if self.customer_gid is not None and not (
            self.customer_gid.startswith(CUSTOMER_GID_PREFIX)
            and self.customer_gid[len(CUSTOMER_GID_PREFIX) :].isdigit()
        ):
            raise ValueError(f"customer_gid must look like {CUSTOMER_GID_PREFIX}123")
        if not isinstance(self.combines_with_shipping, bool):
            raise ValueError("combines_with_shipping must be a bool")

    def _check_value(self) -> None:
        if self.kind == "free_shipping":
            if self.value is not None:
                raise ValueError("free shipping takes no value")
            return
        if not isinstance(self.value, Decimal) or not self.value.is_finite():
            raise ValueError(f"a {self.kind} discount needs a Decimal value")
        if self.value <= 0:
            raise ValueError("a discount value must be positive")
        if self.kind == "percentage" and self.value > 100:
            raise ValueError("a percentage is at most 100")

    @property
    def percentage_fraction(self) -> Decimal:
        """The percentage as Shopify wants it: 10 % → 0.10."""
        if self.kind != "percentage" or self.value is None:
            raise ValueError("only a percentage discount has a fraction")
        return self.value / Decimal(100)
