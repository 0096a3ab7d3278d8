"""The webhook bodies the Referral Generation Flow reads (issue 11), as plain values.

customers/create (a customer and when Shopify created it), orders/fulfilled, orders/cancelled and
refunds/create (which order, when, and how much a refund returned, in which currency), whether an
order is a test order, and what an order body tells the referral flow beyond the recovery's Order
(`OrderFacts`: its shipping address as a key, its language). Anything unusable is a
PayloadProblem, as for the recovery topics.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from shop_app.domain.addresses import shipping_address_key
from shop_app.domain.payloads import (
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
    how much it returned and in which currency (None when its transactions do not say)."""

    order_id: str
    at: datetime | None
    refunded: Decimal = Decimal("0")
    refund_id: str | None = None
    currency: str | None = None


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


def parse_refund(data: Any) -> OrderEvent:
    """refunds/create: the order, the refund, and the money its successful refund transactions
    returned; transactions in more than one currency are a PayloadProblem (one refund is paid
    back in one currency)."""
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
    return OrderEvent(
        order_id,
        parse_time(data.get("created_at"), "created_at", required=False),
        refunded,
        refund_id=_id(data.get("id")),
        currency=currencies.pop() if currencies else None,
    )
