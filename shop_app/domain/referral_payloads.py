"""The webhook bodies the Referral Generation Flow reads (issue 11), as plain values.

customers/create (a customer and when Shopify created it), orders/fulfilled, orders/cancelled and
refunds/create (which order, when, and whether a refund returns the whole order), and whether an
order is a test order. Anything unusable is a PayloadProblem, as for the recovery topics.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

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
    """An order fulfilled, cancelled or refunded: which order, when, and (refunds) how much."""

    order_id: str
    at: datetime | None
    refunded: Decimal = Decimal("0")


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
    """orders/fulfilled (an order body) or fulfillments/create (a fulfillment with order_id)."""
    data = _require_object(data)
    order_id = _id(data.get("order_id")) or _id(data.get("id"))
    if not order_id:
        raise PayloadProblem("id is missing: not an order or fulfillment payload")
    at = data.get("closed_at") or data.get("updated_at") or data.get("created_at")
    return OrderEvent(order_id, parse_time(at, "updated_at", required=False))


def parse_cancelled(data: Any) -> OrderEvent:
    data = _require_object(data)
    order_id = _id(data.get("id"))
    if not order_id:
        raise PayloadProblem("id is missing: not an order payload")
    return OrderEvent(order_id, parse_time(data.get("cancelled_at"), "cancelled_at", required=False))


def parse_refund(data: Any) -> OrderEvent:
    """refunds/create: the order and the money its successful refund transactions returned."""
    data = _require_object(data)
    order_id = _id(data.get("order_id"))
    if not order_id:
        raise PayloadProblem("order_id is missing: not a refund payload")
    transactions = data.get("transactions") if isinstance(data.get("transactions"), list) else []
    refunded = sum(
        (
            _money(t.get("amount"), "transactions.amount")
            for t in transactions
            if isinstance(t, dict) and t.get("kind") == "refund" and t.get("status") in ("success", None)
        ),
        Decimal("0"),
    )
    return OrderEvent(order_id, parse_time(data.get("created_at"), "created_at", required=False), refunded)
