"""Orders as stored, and the one rule for "this customer paid": an order for the checkout
(checkout or cart token), or by the same customer (email or phone) since the abandonment.

This module owns the order rows: the upsert from an order body (with what the referral flow
reads beyond the Order: the shipping address's key and the buyer's locale) and the sum of the
refunds (`add_refund`); either tells recovery/conversion.py, whose journeys' conversion may change."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, bindparam, false, or_, select, update
from sqlalchemy.orm import Session

from shop_app.domain.models import Checkout, JourneyStatus, Order
from shop_app.domain.referral_payloads import OrderFacts
from shop_app.recovery import conversion
from shop_app.storage.tables import CheckoutRow, Journey, OrderRow, Shop

#: What an order summary from the Admin API does not carry: a stored value is kept.
KEPT_WHEN_UNSAID = frozenset({"accepts_marketing", "status_url"})


def store_order(session: Session, shop: Shop, order: Order, facts: OrderFacts | None = None) -> OrderRow:
    """Insert or update the order. `facts` come with a webhook's order body; a value it does not
    give (None), like one an Admin API summary does not carry, keeps what was stored."""
    row = session.scalar(
        select(OrderRow).where(OrderRow.shop_id == shop.id, OrderRow.shopify_id == order.shopify_id).with_for_update()
    )
    if row is None:
        row = OrderRow(shop_id=shop.id, shopify_id=order.shopify_id)
        session.add(row)
    fields = asdict(order)
    fields.pop("shopify_id")
    fields["shopify_created_at"] = fields.pop("created_at")
    for key, value in fields.items():
        if value is None and key in KEPT_WHEN_UNSAID:
            continue
        setattr(row, key, value)
    for key, value in asdict(facts or OrderFacts()).items():
        if value is not None:
            setattr(row, key, value)
    session.flush()
    conversion.refresh_for_order(session, shop.id, row)
    return row


def add_refund(session: Session, order: OrderRow, amount: Decimal) -> Decimal:
    """Add one refund's amount to the order's refunded total; the new total. One UPDATE, so two
    refunds ingested at once both count (each refunds/create delivery is ingested once: the
    webhook layer records a delivery once per X-Shopify-Webhook-Id, which Shopify keeps on retries)."""
    total = session.execute(
        update(OrderRow)
        .where(OrderRow.id == order.id)
        .values(refunded_total=OrderRow.refunded_total + amount)
        .returning(OrderRow.refunded_total)
    ).scalar_one()
    session.refresh(order, ["refunded_total"])
    conversion.refresh_for_order(session, order.shop_id, order)
    return Decimal(total)


def equal_where_given(*pairs: tuple[Any, Any]) -> list[ColumnElement[bool]]:
    """`a == b` for each pair, leaving out a pair where a plain value is unknown (None or "")."""
    return [a == b for a, b in pairs if all(_known(side) for side in (a, b))]


def _known(side: Any) -> bool:
    return bool(side) if side is None or isinstance(side, str) else True


@dataclass(frozen=True)
class _Parties:
    """The same four keys on either side of a payment: columns on one side, values on the other."""

    checkout_token: Any
    cart_token: Any
    email: Any
    phone: Any


def _pays(order: _Parties, checkout: _Parties, ordered_at: Any, abandoned_at: Any) -> ColumnElement[bool]:
    """The payment rule as SQL; a value that is unknown (None, "") matches nothing."""
    same_checkout = equal_where_given(
        (order.checkout_token, checkout.checkout_token), (order.cart_token, checkout.cart_token)
    )
    same_customer = equal_where_given((order.email, checkout.email), (order.phone, checkout.phone))
    if same_customer:
        same_checkout.append(and_(ordered_at >= abandoned_at, or_(*same_customer)))
    return or_(*same_checkout) if same_checkout else false()


def payment_for(session: Session, shop_id: int, checkout: Checkout, since: datetime) -> OrderRow | None:
    """The first order that pays this checkout, abandoned at `since` (local records)."""
    return session.scalar(payment_query(shop_id, checkout, since))


def payment_query(shop_id: int, checkout: Checkout, since: datetime) -> Select[OrderRow]:
    """`payment_for`'s statement, for a caller that runs it with other reads (the send job)."""
    orders = _Parties(OrderRow.checkout_token, OrderRow.cart_token, OrderRow.email, OrderRow.phone)
    this = _Parties(checkout.token, checkout.cart_token, checkout.email, checkout.phone)
    return (
        select(OrderRow)
        .where(OrderRow.shop_id == shop_id, _pays(orders, this, OrderRow.shopify_created_at, since))
        .order_by(OrderRow.shopify_created_at)
        .limit(1)
    )


#: The checkout's four keys, in _Parties' order.
_KEYS = ("checkout_token", "cart_token", "email", "phone")


def paid_order_id_bound(checkout: Checkout) -> tuple[Select[Any], dict[str, Any]]:
    """`payment_query`'s paid order id for a caller that runs it often (the send job): built once per
    process for each shape of the checkout (which of its keys are known), its values bound: the
    statement to run with the returned values and b_pay_shop, b_pay_since."""
    values = (checkout.token, checkout.cart_token, checkout.email, checkout.phone)
    known = tuple(_known(value) for value in values)
    return _bound_paid_order_id(known), {
        f"b_pay_{k}": v for k, v, given in zip(_KEYS, values, known, strict=True) if given
    }


@cache
def _bound_paid_order_id(known: tuple[bool, ...]) -> Select[Any]:
    orders = _Parties(OrderRow.checkout_token, OrderRow.cart_token, OrderRow.email, OrderRow.phone)
    this = _Parties(*(bindparam(f"b_pay_{key}") if given else None for key, given in zip(_KEYS, known, strict=True)))
    pays = _pays(orders, this, OrderRow.shopify_created_at, bindparam("b_pay_since"))
    where = (OrderRow.shop_id == bindparam("b_pay_shop"), pays)
    return select(OrderRow.id).where(*where).order_by(OrderRow.shopify_created_at).limit(1)


def journeys_paid_by(session: Session, shop_id: int, order: OrderRow) -> list[Journey]:
    """The active journeys this order pays (the same rule, from the order's side)."""
    this = _Parties(order.checkout_token, order.cart_token, order.email, order.phone)
    checkouts = _Parties(CheckoutRow.token, CheckoutRow.cart_token, CheckoutRow.email, CheckoutRow.phone)
    return list(
        session.scalars(
            select(Journey)
            .join(CheckoutRow, CheckoutRow.id == Journey.checkout_id)
            .where(
                Journey.shop_id == shop_id,
                Journey.status == JourneyStatus.ACTIVE.value,
                _pays(this, checkouts, order.shopify_created_at, Journey.abandoned_at),
            )
            .order_by(Journey.id)
        )
    )


def describe_order(order: OrderRow) -> str:
    status = f", {order.financial_status}" if order.financial_status else ""
    return f"order {order.name or order.shopify_id} placed {order.shopify_created_at:%Y-%m-%d %H:%M} UTC{status}"
