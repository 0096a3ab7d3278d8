"""Attribution (issue 12, product.md §8): which recovery journey, if any, recovered a paid order.

An order is *recovered* by a journey when

- it pays the journey's checkout: its checkout token is the checkout's, or its cart token is the
  checkout's cart token (the customer came back and paid that very checkout; the same two keys as
  the payment rule, shop_app/recovery/orders.payment_for, so a journey converted by its checkout is
  also the one credited with it), or
- the same person (customer id, email or phone; any one is enough) ordered within the attribution
  window (`measurement.attribution_days`, 5 days by default) after one of the journey's messages
  was **sent**;

and, either way, only when the order came after the journey's first sent message: an order paid
before anything went out was not recovered by any message (the journey's conversion rule says the
same: revenue is recovered only when a message had reached the customer by the order's time). A
message that was skipped, failed or is still waiting never counts, so a control journey of the
holdout group, whose every message is skipped, is never credited.

One order is credited to at most one journey. When several qualify, the journey whose checkout the
order paid wins; otherwise the journey whose last message sent before the order is the latest (the
most recent nudge), and on a tie the newer journey (the higher id). Within that journey, the credit
goes to the last message sent before the order: its step and channel (ties: the higher message id).

An order that is cancelled or fully refunded is taken out (`taken_out`): when it already was by the
time its orders/paid is ingested (Shopify does not promise the order of its webhooks, and a
delivery can come late), the journey it would have been credited to keeps a `removed` row with the
reason, exactly as when the cancellation comes after the credit, and the order is never credited.
A test order (the body's `"test": true`, made by a test gateway or the bogus one) is never credited.

Clicks are recorded beside the credit (`clicks_before`): of the credited journey's messages, those
first clicked at or before the order's time, how many times they were clicked, and whether the
credited message is one of them. A message's tracked clicks are one row with its running count and
its first and last click's time (shop_app/messaging/links.py), so a message first clicked after the
order is left out, while one clicked both before and after counts all its clicks.

Revenue is counted in the shop's currency: Shopify's `total_price_set.shop_money.amount` (falling
back to the order's `total_price` and `currency`, which Shopify also gives in the shop's currency);
the presentment (buyer's) amount and currency are kept beside it.

Pure: standard library only; no clock is read, every time is passed in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

BY_CHECKOUT = "same checkout"
BY_PERSON = "same person within the attribution window"
CANCELLED = "cancelled"
FULLY_REFUNDED = "fully refunded"
#: Shopify's financial_status once the money is gone: refunded in full, or the authorization voided
#: (what cancelling an order that was not captured does).
_REFUNDED, _VOIDED = "refunded", "voided"


@dataclass(frozen=True)
class Person:
    """Who placed an order or abandoned a checkout, as stored (email lower-case, phone in E.164)."""

    customer_id: str | None = None
    email: str | None = None
    phone: str | None = None

    def same_as(self, other: Person) -> bool:
        """True when any key both sides know is equal; an unknown key ("" or None) matches nothing."""
        pairs = ((self.customer_id, other.customer_id), (self.email, other.email), (self.phone, other.phone))
        return any(mine and mine == theirs for mine, theirs in pairs)


@dataclass(frozen=True)
class Sent:
    """One message of a journey that was sent, and when."""

    message_id: int
    step: str
    channel: str
    sent_at: datetime


@dataclass(frozen=True)
class Candidate:
    """A recovery journey that might have recovered the order: its checkout, person and sent messages."""

    journey_id: int
    checkout_token: str | None
    person: Person
    sent: tuple[Sent, ...]
    cart_token: str | None = None


@dataclass(frozen=True)
class PaidOrder:
    checkout_token: str | None
    person: Person
    ordered_at: datetime
    cart_token: str | None = None

    def pays_checkout_of(self, candidate: Candidate) -> bool:
        """The payment rule's "same checkout": the checkout token or the cart token, an unknown
        one ("" or None) matching nothing."""
        pairs = ((self.checkout_token, candidate.checkout_token), (self.cart_token, candidate.cart_token))
        return any(mine and mine == theirs for mine, theirs in pairs)


@dataclass(frozen=True)
class Credit:
    """The journey credited with the order, the message that gets the credit, and why it qualified."""

    journey_id: int
    message: Sent
    why: str


def window(attribution_days: int) -> timedelta:
    return timedelta(days=attribution_days)


def last_sent_before(sent: Iterable[Sent], at: datetime, now: datetime) -> Sent | None:
    """The latest message sent at or before `at` (and not after `now`: no send is in the future)."""
    earlier = [s for s in sent if s.sent_at <= at and s.sent_at <= now]
    return max(earlier, key=lambda s: (s.sent_at, s.message_id), default=None)


def qualifies(order: PaidOrder, candidate: Candidate, attribution_days: int, now: datetime) -> Credit | None:
    """The credit `candidate` would get for `order`, or None when it did not recover it."""
    last = last_sent_before(candidate.sent, order.ordered_at, now)
    if last is None:
        return None  # nothing had gone out yet: not recovered, whatever matched
    if order.pays_checkout_of(candidate):
        return Credit(candidate.journey_id, last, BY_CHECKOUT)
    # The last send before the order is the one whose window reaches furthest.
    if order.person.same_as(candidate.person) and order.ordered_at <= last.sent_at + window(attribution_days):
        return Credit(candidate.journey_id, last, BY_PERSON)
    return None


def credit(order: PaidOrder, candidates: Iterable[Candidate], attribution_days: int, now: datetime) -> Credit | None:
    """The one journey credited with `order` (see the module's rules), or None."""
    credits = [c for c in (qualifies(order, k, attribution_days, now) for k in candidates) if c is not None]
    return max(
        credits,
        key=lambda c: (c.why == BY_CHECKOUT, c.message.sent_at, c.journey_id),
        default=None,
    )


def taken_out(cancelled: bool, financial_status: str | None, total: Decimal, refunded: Decimal) -> str | None:
    """Why the order cannot be credited (CANCELLED, FULLY_REFUNDED), or None while it stands:
    `cancelled` is what the order is known to be (a body's `cancelled_at`), `financial_status`
    Shopify's, `refunded` the sum of its refunds so far against its `total` (the referral flow's
    "fully refunded" too, referral/journeys.fully_refunded)."""
    if cancelled or financial_status == _VOIDED:
        return CANCELLED
    if financial_status == _REFUNDED or (refunded > 0 and refunded >= total):
        return FULLY_REFUNDED
    return None


@dataclass(frozen=True)
class Clicked:
    """One message's tracked clicks: how many, and when the first and the last came."""

    message_id: int
    clicks: int
    first_at: datetime
    last_at: datetime


@dataclass(frozen=True)
class Clicks:
    """The clicks of a credited journey before its order (see the module's rules)."""

    messages: int = 0  # its messages first clicked at or before the order
    clicks: int = 0  # their running click counts
    credited_message: bool = False  # the credited message is one of them


def clicks_before(clicked: Iterable[Clicked], ordered_at: datetime, credited_message_id: int | None) -> Clicks:
    """The clicks recorded for a credit: the journey's messages `clicked`, as of the order's time."""
    before = [c for c in clicked if c.first_at <= ordered_at]
    return Clicks(
        len(before),
        sum(max(c.clicks, 1) for c in before),
        any(c.message_id == credited_message_id for c in before),
    )


@dataclass(frozen=True)
class Revenue:
    """An order's total in the shop's currency, and what the buyer saw (None when not given)."""

    amount: Decimal
    currency: str
    presentment_amount: Decimal | None
    presentment_currency: str | None


def revenue(order: Mapping[str, Any]) -> Revenue:
    """The order's total from its webhook body: `total_price_set.shop_money` first, else
    `total_price` in `currency`; the presentment money from `total_price_set.presentment_money`,
    else the order's `presentment_currency` (with the same amount when it is the shop's currency)."""
    prices = order.get("total_price_set")
    prices = prices if isinstance(prices, Mapping) else {}
    currency = _currency(order.get("currency"))
    shop_amount, shop_currency = _money(prices.get("shop_money")) or (_amount(order.get("total_price")), None)
    amount, currency = shop_amount or Decimal("0.00"), shop_currency or currency or "USD"
    presented = _money(prices.get("presentment_money"))
    if presented is not None:
        return Revenue(amount, currency, presented[0], presented[1] or currency)
    named = _currency(order.get("presentment_currency"))
    if named is None or named == currency:
        return Revenue(amount, currency, amount, currency)
    return Revenue(amount, currency, None, named)  # the buyer's amount was not given


def _money(value: Any) -> tuple[Decimal, str | None] | None:
    if not isinstance(value, Mapping):
        return None
    amount = _amount(value.get("amount"))
    return None if amount is None else (amount, _currency(value.get("currency_code")))


def _amount(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        return None
    try:
        amount = Decimal(str(value)).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        return None
    return amount if amount.is_finite() and amount >= 0 else None


def _currency(value: Any) -> str | None:
    return value.upper() if isinstance(value, str) and len(value) == 3 and value.isalpha() else None
