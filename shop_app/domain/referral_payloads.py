"""The webhook bodies the Referral Generation Flow reads (issue 11), as plain values.

customers/create (a customer and when Shopify created it), orders/fulfilled, orders/cancelled and
refunds/create (which order, when, and how much a refund returned, in the currency it was paid
back in and in the shop's), whether an order is a test order, and what an order body tells the
referral flow beyond the recovery's Order (`OrderFacts`: its shipping address as a key, its
language). Anything unusable is a
PayloadProblem, as for the recovery topics.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from shop_app.domain.addresses import shipping_address_key
from shop_app.domain.payloads import (
    _CENT,
    JsonObject,
    PayloadProblem,
    _id,
    _money,
    _require_object,
    _text,
    normal_email,
    normal_phone,
    parse_time,
)


@dataclass(frozen=True)
class Customer:
    customer_id: str
    created_at: datetime | None
    email: str | None = None
    phone: str | None = None
    first_name: str | None = None


@dataclass(frozen=True)
class OrderEvent:
    """An order fulfilled, cancelled or refunded: which order, when, and (refunds) which refund,
    how much it returned and in which currency (None when its transactions do not say), and that
    money in the shop's currency (`shop_money`)."""

    order_id: str
    at: datetime | None
    refunded: Decimal = Decimal("0")
    refund_id: str | None = None
    currency: str | None = None
    #: That money in the shop's currency, as (amount, currency), or why the body does not tell
    #: (refund_shop_money); None when the transactions name no currency.
    shop_money: tuple[Decimal, str] | str | None = None


@dataclass(frozen=True)
class OrderFacts:
    """What an order body says beyond domain.models.Order: the shipping address's key
    (domain/addresses.shipping_address_key; the address itself is not kept) and the buyer's
    locale (`customer_locale`, e.g. "es-MX"). None: the body did not say."""

    shipping_address_key: str | None = None
    locale: str | None = None


def parse_order_facts(data: Any, secret_key: str) -> OrderFacts:
    """An orders/* body's OrderFacts; `secret_key` keys the address hash."""
    data = _require_object(data)
    address = data.get("shipping_address")
    return OrderFacts(
        shipping_address_key=shipping_address_key(secret_key, address if isinstance(address, dict) else None),
        locale=_text(data.get("customer_locale"), 16),
    )


def parse_customer(data: Any) -> Customer:
    data = _require_object(data)
    customer_id = _id(data.get("id"))
    if not customer_id:
        raise PayloadProblem("id is missing: not a customer payload")
    return Customer(
        customer_id=customer_id,
        created_at=parse_time(data.get("created_at"), "created_at", required=False),
        email=normal_email(data.get("email")),
        phone=normal_phone(data.get("phone")),
        first_name=_text(data.get("first_name"), 80),
    )


def is_test_order(data: Any) -> bool:
    return isinstance(data, dict) and data.get("test") is True


def parse_fulfilled(data: Any) -> OrderEvent:
    """orders/fulfilled (an order body)."""
    data = _require_object(data)
    order_id = _id(data.get("id"))
    if not order_id:
        raise PayloadProblem("id is missing: not an order payload")
    at = data.get("closed_at") or data.get("updated_at") or data.get("created_at")
    return OrderEvent(order_id, parse_time(at, "updated_at", required=False))


def parse_cancelled(data: Any) -> OrderEvent:
    data = _require_object(data)
    order_id = _id(data.get("id"))
    if not order_id:
        raise PayloadProblem("id is missing: not an order payload")
    return OrderEvent(order_id, parse_time(data.get("cancelled_at"), "cancelled_at", required=False))


#: A refund's parts that carry their amounts in both currencies (a MoneyBag: {shop_money,
#: presentment_money}), as Shopify's REST refund shows them (from 2024-10 its shipping is in
#: refund_shipping_lines; order_adjustments keep the discrepancies).
_REFUND_PARTS = (
    ("refund_line_items", ("subtotal_set", "total_tax_set")),
    ("refund_shipping_lines", ("subtotal_amount_set", "tax_amount_set")),
    ("order_adjustments", ("amount_set", "tax_amount_set")),
)
_REFUND_TOTALS = ("total_duties_set", "total_additional_fees_set")
#: Why a refund paid back in the buyer's currency has no amount in the shop's: the body has none.
NO_SHOP_MONEY = "Shopify's refund gives no amount in the shop's currency (shop_money in its *_set fields)"


def _size(value: Any, field: str) -> Decimal:
    """A MoneyBag side's amount without its sign: an order adjustment may be negative (a shipping
    refund recorded the old way), and only its size tells the exchange rate."""
    if isinstance(value, str) and value.strip().startswith("-"):
        value = value.strip()[1:]
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        value = abs(value)
    return _money(value, field)


def _money_bags(data: JsonObject) -> list[tuple[str, JsonObject, JsonObject]]:
    """Every MoneyBag of the refund's parts: (field, shop_money, presentment_money)."""
    bags: list[tuple[str, Any]] = [(name, data.get(name)) for name in _REFUND_TOTALS]
    for part, fields in _REFUND_PARTS:
        items = data.get(part)
        if not isinstance(items, list):
            continue
        bags += [(f"{part}[].{name}", item.get(name)) for item in items if isinstance(item, dict) for name in fields]
    return [
        (field, bag["shop_money"], bag["presentment_money"])
        for field, bag in bags
        if isinstance(bag, dict)
        and isinstance(bag.get("shop_money"), dict)
        and isinstance(bag.get("presentment_money"), dict)
    ]


def _code(money: JsonObject) -> str:
    return (_text(money.get("currency_code"), 3) or "").upper()


def refund_shop_money(data: JsonObject, paid: Decimal, paid_in: str) -> tuple[Decimal, str] | str:
    """The `paid` money (the refund transactions' sum, in `paid_in`: the buyer's currency) in the
    shop's currency as (amount, shop currency), or why the body does not tell (NO_SHOP_MONEY, ...).

    Shopify's refund transactions carry `amount` in the buyer's (presentment) currency only; the
    refund's parts carry both (refund_line_items[].subtotal_set and total_tax_set,
    refund_shipping_lines[].subtotal_amount_set and tax_amount_set, order_adjustments[].amount_set
    and tax_amount_set, total_duties_set, total_additional_fees_set). Their sums in each currency
    give this refund's own exchange rate: `paid` × shop sum / presentment sum. When the parts add up
    to what was paid back (items, their tax, shipping) that is exactly their shop-money sum, so a
    full refund reaches the order's total_price; a refund of less than its parts (a discrepancy
    adjustment) is converted at their rate, to the cent."""
    try:
        bags = [
            (_code(shop), _code(presented), _size(shop.get("amount"), f"{field}.shop_money.amount"),
             _size(presented.get("amount"), f"{field}.presentment_money.amount"))
            for field, shop, presented in _money_bags(data)
        ]  # fmt: skip
    except PayloadProblem as problem:
        return str(problem)
    shop_currencies = {shop for shop, _, _, _ in bags}
    presented_sum = sum((amount for _, _, _, amount in bags), Decimal("0"))
    if not presented_sum or "" in shop_currencies:
        return NO_SHOP_MONEY
    if len(shop_currencies) > 1 or {presented for _, presented, _, _ in bags} != {paid_in}:
        return f"the refund's *_set amounts are in another currency than {paid_in} or in two shop currencies"
    shop_sum = sum((amount for _, _, amount, _ in bags), Decimal("0"))
    return (paid * shop_sum / presented_sum).quantize(_CENT, rounding=ROUND_HALF_UP), shop_currencies.pop()


def parse_refund(data: Any) -> OrderEvent:
    """refunds/create: the order, the refund, and the money its successful refund transactions
    returned, in their currency and (refund_shop_money) in the shop's; transactions in more than
    one currency are a PayloadProblem (one refund is paid back in one currency)."""
    data = _require_object(data)
    order_id = _id(data.get("order_id"))
    if not order_id:
        raise PayloadProblem("order_id is missing: not a refund payload")
    transactions = data.get("transactions") if isinstance(data.get("transactions"), list) else []
    paid_back = [
        t
        for t in transactions
        if isinstance(t, dict) and t.get("kind") == "refund" and t.get("status") in ("success", None)
    ]
    refunded = sum((_money(t.get("amount"), "transactions.amount") for t in paid_back), Decimal("0"))
    currencies = {code.upper() for t in paid_back if (code := _text(t.get("currency"), 3))}
    if len(currencies) > 1:
        raise PayloadProblem("the refund's transactions are in more than one currency")
    currency = currencies.pop() if currencies else None
    return OrderEvent(
        order_id,
        parse_time(data.get("created_at"), "created_at", required=False),
        refunded,
        refund_id=_id(data.get("id")),
        currency=currency,
        shop_money=refund_shop_money(data, refunded, currency) if currency else None,
    )


def refund_in(event: OrderEvent, currency: str) -> Decimal | str:
    """The refund's money in `currency` (the order's total's: the shop's), or why it cannot be
    told: transactions in that currency (or naming none, as before) count as they are; paid back in
    the buyer's currency, their shop-money equivalent (refund_shop_money) when it is in `currency`."""
    if event.currency is None or event.currency == currency:
        return event.refunded
    if not isinstance(event.shop_money, tuple):
        return event.shop_money or NO_SHOP_MONEY
    amount, shop_currency = event.shop_money
    return (
        amount
        if shop_currency == currency
        else f"Shopify's refund gives its amount in the shop's money in {shop_currency}"
    )
