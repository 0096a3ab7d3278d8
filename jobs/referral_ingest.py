"""The Referral Generation Flow's webhook handlers (issue 11), registered in jobs/ingest.py's HANDLERS.

orders/cancelled and refunds/create each do two things, since one order can be both: stop the
referral journey the order triggered (an advocate's first order), and cancel the reward a
friend's order earned when it was not sent yet (rewards.on_friend_order_stopped). A refund adds
its amount to the order's refunded total; only a total that reaches the order's stops anything.

The fulfilment that starts the review's delay is heard from orders/fulfilled alone: it needs no
scope beyond read_orders, where fulfillments/create would need read_fulfillments for nothing more.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from jobs.order_wait import OrderNotKnownYet
from shop_app import runtime
from shop_app.domain.referral_payloads import (
    OrderFacts,
    is_test_order,
    parse_cancelled,
    parse_customer,
    parse_fulfilled,
    parse_order_facts,
    parse_refund,
    refund_in,
)
from shop_app.recovery import attribution
from shop_app.recovery.orders import add_refund
from shop_app.recovery.phones import e164
from shop_app.referral import journeys
from shop_app.referral.profiles import BY_CUSTOMER, customer_created_at, profile_for
from shop_app.referral.rewards import on_friend_order_stopped
from shop_app.shopify.shops import load_settings
from shop_app.storage.tables import OrderRow, Shop


def order_facts(payload: dict) -> OrderFacts:
    """What the order upsert keeps of an orders/* body for the referral flow (the shipping
    address's key under the app's secret, the buyer's locale)."""
    return parse_order_facts(payload, runtime.current().settings.secret_key)


def start_referral(session: Session, shop: Shop, order: OrderRow, payload: dict, now: datetime) -> str:
    settings = load_settings(session, shop)
    return journeys.start_on_paid(
        session, shop, order, settings, test=is_test_order(payload), now=now,
        customer_created_at=customer_created_at(payload),
    )  # fmt: skip


def on_customer_create(session: Session, shop: Shop, payload: dict, now: datetime) -> str:
    customer = parse_customer(payload)
    phone = e164(customer.phone, shop.country_code, "customer phone")
    profile = profile_for(
        session, shop, by=BY_CUSTOMER, customer_id=customer.customer_id, email=customer.email, phone=phone,
        first_name=customer.first_name, created_in_shopify=customer.created_at,
    )  # fmt: skip
    return f"customer profile #{profile.id}: {profile.origin}" if profile else "customer without contact details"


def _order(session: Session, shop: Shop, shopify_id: str) -> OrderRow | None:
    return session.scalar(select(OrderRow).where(OrderRow.shop_id == shop.id, OrderRow.shopify_id == shopify_id))


def _label(order: OrderRow) -> str:
    return f"order {order.name or order.shopify_id}"


def _stopped(session: Session, shop: Shop, order: OrderRow, what: str) -> str:
    """The order was cancelled or fully refunded (`what`): as a triggering order its journey
    stops; as a friend's order its reward is cancelled if not sent yet."""
    outcome = journeys.on_stopped(session, order, f"{_label(order)} {what}")
    friend = on_friend_order_stopped(session, shop, order.shopify_id, what)
    outcome = "; ".join(filter(None, (outcome, attribution.on_stopped(session, order, what))))  # issue 12
    return f"{outcome}; {friend}" if friend else outcome


def on_fulfilled(session: Session, shop: Shop, payload: dict, now: datetime) -> str:
    event = parse_fulfilled(payload)
    order = _order(session, shop, event.order_id)
    if order is None:
        return "fulfilment of an order we do not know"
    return journeys.on_fulfilled(session, shop, order, load_settings(session, shop), event.at or now)


def on_cancelled(session: Session, shop: Shop, payload: dict, now: datetime) -> str:
    order_id = parse_cancelled(payload).order_id
    order = _order(session, shop, order_id)
    if order is None:
        raise OrderNotKnownYet(order_id, "cancellation")
    return _stopped(session, shop, order, "cancelled")


def on_refund(session: Session, shop: Shop, payload: dict, now: datetime) -> str:
    """Add the refund to the order's refunded total (once per refund: the webhook layer ingests a
    delivery once); the order stops the flow when the total reaches the order's.

    The total is in the shop's currency (orders.total_price, orders.currency); Shopify pays a refund
    back in the buyer's, so one in another currency is added in its shop-money equivalent
    (domain/referral_payloads.refund_in), or, when the body does not give it, not at all, with why."""
    event = parse_refund(payload)
    order = _order(session, shop, event.order_id)
    if order is None:
        raise OrderNotKnownYet(event.order_id, "refund")
    amount = refund_in(event, order.currency)
    if isinstance(amount, str):
        return (
            f"{_label(order)}: a refund of {event.refunded} {event.currency} is not added to the total "
            f"in {order.currency}: {amount}"
        )
    refunded = add_refund(session, order, amount)
    converted = event.currency not in (None, order.currency)
    paid = f" ({event.refunded} {event.currency} paid back)" if converted else ""
    summary = f"{_label(order)}: {refunded} of {order.total_price} {order.currency} refunded{paid}"
    if not journeys.fully_refunded(order):
        return f"{summary}, partly: the referral flow goes on"
    return f"{summary}; {_stopped(session, shop, order, 'fully refunded')}"


HANDLERS = {
    "customers/create": on_customer_create,
    "orders/fulfilled": on_fulfilled,
    "orders/cancelled": on_cancelled,
    "refunds/create": on_refund,
}
