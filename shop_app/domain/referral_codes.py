"""The referral flow's discount codes as values (issue 11). Pure: clock and randomness are passed in.

- The advocate's **personal referral code**: readable (the advocate's first name, then six symbols,
  e.g. `ANA-7KQ2M9`), shared with friends, so it has no usage limit and no end; each friend may use
  it once (`appliesOncePerCustomer`), and it gives the friend's discount from the settings.
  *New customers only* is not expressible on a code discount for the buyers it is meant for: the only
  buyer restrictions are `context` customers / customer segments / markets, and a segment such as
  `number_of_orders = 0` matches only a known, signed-in customer, never a first-time guest (the
  usual friend). So the code is open to every buyer once, and "the friend had ordered before" is a
  fraud rule that refuses the advocate's reward (domain/referral_rules.py).
- The advocate's **reward**: a unique, unguessable, single-use code restricted to the advocate's
  Shopify customer, expiring after 60 days by default (a DiscountSpec, created like Prime's codes).

Each code's title names its advocate or reward, so a code found in Shopify after a lost answer is
known to be ours (`owns`), and a readable code that someone else already holds is not adopted.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from shop_app.domain.discounts import CODE_ALPHABET, CUSTOMER_GID_PREFIX, DiscountSpec, unguessable_code

DEFAULT_FRIEND_PERCENT = Decimal(10)
DEFAULT_REWARD_PERCENT = Decimal(10)
DEFAULT_REWARD_DAYS = 60
#: Symbols after the advocate's name: 31**6 ≈ 887 million codes per name.
REFERRAL_BODY_LENGTH = 6
REFERRAL_PREFIX_MAX = 10
FALLBACK_PREFIX = "FRIEND"
REWARD_PREFIX = "THANKS"


def referral_prefix(first_name: str | None) -> str:
    """`José Ángel` → `JOSEANGEL`: the letters and digits of the name without accents, upper-cased,
    at most REFERRAL_PREFIX_MAX; FRIEND when nothing is left."""
    folded = unicodedata.normalize("NFKD", first_name or "")
    ascii_only = folded.encode("ascii", "ignore").decode()
    prefix = re.sub(r"[^A-Za-z0-9]", "", ascii_only).upper()[:REFERRAL_PREFIX_MAX]
    return prefix or FALLBACK_PREFIX


def referral_bytes_needed() -> int:
    return REFERRAL_BODY_LENGTH  # one byte a symbol: 256 % 31 leaves a bias below 4 %, harmless here


def referral_code(first_name: str | None, random_bytes: bytes) -> str:
    """`ANA-7KQ2M9`: readable when typed from a message, unique enough per shop (a clash is
    detected when Shopify answers TAKEN, and a new code is drawn)."""
    if len(random_bytes) < REFERRAL_BODY_LENGTH:
        raise ValueError(f"a referral code needs {REFERRAL_BODY_LENGTH} random bytes")
    body = "".join(CODE_ALPHABET[byte % len(CODE_ALPHABET)] for byte in random_bytes[:REFERRAL_BODY_LENGTH])
    return f"{referral_prefix(first_name)}-{body}"


def referral_title(shop_id: int, advocate_id: int) -> str:
    return f"Reclaim referral code, advocate {shop_id}-{advocate_id}"


def reward_title(shop_id: int, reward_id: int) -> str:
    return f"Reclaim referral reward {shop_id}-{reward_id}"


def owns(title: str | None, expected: str) -> bool:
    """Whether a discount found in Shopify under our code is the one we created (by its title)."""
    return title == expected


@dataclass(frozen=True)
class ReferralCodeSpec:
    """The advocate's shared code: `percent` off for each friend, once per customer, no end."""

    code: str
    title: str
    percent: Decimal
    starts_at: datetime

    def __post_init__(self) -> None:
        if not self.code or len(self.code) > 64 or any(ch.isspace() for ch in self.code):
            raise ValueError("a referral code is 1 to 64 characters without spaces")
        if not self.title.strip():
            raise ValueError("a discount needs a title")
        if not isinstance(self.percent, Decimal) or not (0 < self.percent <= 100):
            raise ValueError("the friend's discount is a percentage above 0 and at most 100")
        if self.starts_at.tzinfo is None:
            raise ValueError("starts_at must be a timezone-aware datetime")

    @property
    def fraction(self) -> Decimal:
        """As Shopify wants it: 10 % → 0.10."""
        return self.percent / Decimal(100)


def reward_code(random_bytes: bytes) -> str:
    """`THANKS-…`: an unguessable single-use code (domain/discounts.py)."""
    return unguessable_code(REWARD_PREFIX, random_bytes)


def reward_spec(
    code: str,
    title: str,
    customer_id: str | None,
    now: datetime,
    percent: Decimal = DEFAULT_REWARD_PERCENT,
    days: int = DEFAULT_REWARD_DAYS,
) -> DiscountSpec:
    """The reward: single use, restricted to the advocate's customer when Shopify knows them
    (otherwise single use by anyone holding the unguessable code), ending after `days`."""
    if days < 1:
        raise ValueError("a reward stays valid for at least a day")
    customer_gid = None
    if customer_id:
        customer_gid = customer_id if customer_id.startswith(CUSTOMER_GID_PREFIX) else CUSTOMER_GID_PREFIX + customer_id
    return DiscountSpec(
        kind="percentage",
        value=percent,
        code=code,
        title=title,
        starts_at=now,
        ends_at=now + timedelta(days=days),
        customer_gid=customer_gid,
    )
