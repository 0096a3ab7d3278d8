"""Journey bookkeeping over the database: upsert checkouts and orders, write the planner's
answer as message rows, stop journeys. Called by the ingest and send jobs."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from decimal import Decimal

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from shop_app.channels.push_subscriptions import subscription_for
from shop_app.compliance.consent_records import record_consent
from shop_app.domain import planner
from shop_app.domain.models import PENDING, Checkout, LineItem, Order, Status
from shop_app.domain.settings import ShopSettings
from shop_app.storage.tables import CheckoutRow, Journey, Message, OrderRow, Profile, Shop

PENDING_VALUES = tuple(s.value for s in PENDING)


def checkout_of(row: CheckoutRow) -> Checkout:
    return Checkout(
        token=row.token,
        shopify_id=row.shopify_id,
        cart_token=row.cart_token,
        updated_at=row.shopify_updated_at,
        created_at=row.shopify_created_at,
        email=row.email,
        phone=row.phone,
        customer_id=row.customer_id,
        first_name=row.first_name,
        abandoned_checkout_url=row.abandoned_checkout_url,
        currency=row.currency,
        total_price=Decimal(row.total_price),
        line_items=tuple(
            LineItem(i["title"], i["quantity"], Decimal(i["price"]), i.get("variant_title")) for i in row.line_items
        ),
        accepts_email_marketing=row.accepts_email_marketing,
        accepts_sms_marketing=row.accepts_sms_marketing,
        locale=row.locale,
        completed_at=row.completed_at,
    )


def store_checkout(session: Session, shop: Shop, checkout: Checkout) -> tuple[CheckoutRow, str | None]:
    """Upsert; returns (row, why_ignored). A stale `updated_at` never overwrites newer state."""
    row = session.scalar(
        select(CheckoutRow).where(CheckoutRow.shop_id == shop.id, CheckoutRow.token == checkout.token).with_for_update()
    )
    if row is not None and row.deleted_at is not None:
        return row, "checkout was deleted; later update ignored"
    if row is not None and checkout.updated_at < row.shopify_updated_at:
        return row, (
            f"stale: updated_at {checkout.updated_at:%Y-%m-%d %H:%M:%S} is older than the stored "
            f"{row.shopify_updated_at:%Y-%m-%d %H:%M:%S}; ignored"
        )
    if row is None:
        row = CheckoutRow(shop_id=shop.id, token=checkout.token)
        session.add(row)
    row.shopify_id = checkout.shopify_id or row.shopify_id
    row.cart_token = checkout.cart_token
    row.email, row.phone, row.customer_id = checkout.email, checkout.phone, checkout.customer_id
    row.first_name = checkout.first_name
    row.abandoned_checkout_url = checkout.abandoned_checkout_url
    row.currency, row.total_price = checkout.currency, checkout.total_price
    row.line_items = [
        {"title": i.title, "quantity": i.quantity, "price": str(i.price), "variant_title": i.variant_title}
        for i in checkout.line_items
    ]
    row.accepts_email_marketing = checkout.accepts_email_marketing
    row.accepts_sms_marketing = checkout.accepts_sms_marketing
    row.locale = checkout.locale
    row.completed_at = checkout.completed_at
    row.shopify_created_at = checkout.created_at
    row.shopify_updated_at = checkout.updated_at
    if row.profile_id is None and checkout.reachable:
        row.profile_id = _profile_for(session, shop, checkout).id
    _record_checkout_consent(session, shop, row, checkout)
    session.flush()
    return row, None


def _record_checkout_consent(session: Session, shop: Shop, row: CheckoutRow, checkout: Checkout) -> None:
    """What the checkout's marketing checkboxes say, as consent records (source "checkout").

    An unticked SMS box is no statement (it is unticked by default), so only a tick is recorded
    for SMS; the email box is recorded either way when Shopify tells us its state.
    """
    at = checkout.updated_at
    if checkout.email and checkout.accepts_email_marketing is not None:
        record_consent(
            session,
            shop.id,
            "email",
            checkout.email,
            granted=checkout.accepts_email_marketing,
            source="checkout",
            at=at,
            profile_id=row.profile_id,
        )
    if checkout.phone and checkout.accepts_sms_marketing:
        record_consent(
            session, shop.id, "sms", checkout.phone, granted=True, source="checkout", at=at, profile_id=row.profile_id
        )


def _profile_for(session: Session, shop: Shop, checkout: Checkout) -> Profile:
    """The customer's profile, created with origin 'checkout' when the store captures them first."""
    match = []
    if checkout.email:
        match.append(Profile.email == checkout.email)
    if checkout.phone:
        match.append(Profile.phone == checkout.phone)
    profile = session.scalar(select(Profile).where(Profile.shop_id == shop.id, or_(*match)).limit(1))
    if profile is None:
        profile = Profile(
            shop_id=shop.id,
            email=checkout.email,
            phone=checkout.phone,
            customer_id=checkout.customer_id,
            first_name=checkout.first_name,
            origin="checkout",
        )
        session.add(profile)
        session.flush()
    return profile


def store_order(session: Session, shop: Shop, order: Order) -> OrderRow:
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
        setattr(row, key, value)
    session.flush()
    return row


def equal_where_given(*pairs) -> list:
    """`column == value` for each (column, value) pair whose value is known."""
    return [column == value for column, value in pairs if value]


def payment_for(session: Session, shop_id: int, checkout: Checkout, since: datetime) -> OrderRow | None:
    """An order for this checkout, or by this customer since the abandonment (local records)."""
    match = equal_where_given((OrderRow.checkout_token, checkout.token), (OrderRow.cart_token, checkout.cart_token))
    by_customer = equal_where_given((OrderRow.email, checkout.email), (OrderRow.phone, checkout.phone))
    if by_customer:
        match.append(and_(OrderRow.shopify_created_at >= since, or_(*by_customer)))
    return session.scalar(
        select(OrderRow).where(OrderRow.shop_id == shop_id, or_(*match)).order_by(OrderRow.shopify_created_at).limit(1)
    )


def describe_order(order: OrderRow) -> str:
    status = f", {order.financial_status}" if order.financial_status else ""
    return f"order {order.name or order.shopify_id} placed {order.shopify_created_at:%Y-%m-%d %H:%M} UTC{status}"


def cancel_pending(session: Session, shop_id: int, reason: str, *, journey_id: int | None = None) -> int:
    query = update(Message).where(Message.shop_id == shop_id, Message.status.in_(PENDING_VALUES))
    if journey_id is not None:
        query = query.where(Message.journey_id == journey_id)
    result = session.execute(
        query.values(status=Status.CANCELLED.value, reason=reason[:1000]).execution_options(synchronize_session=False)
    )
    return result.rowcount


def stop_journey(session: Session, journey: Journey, status: str, reason: str) -> None:
    journey.status, journey.stop_reason = status, reason
    cancel_pending(session, journey.shop_id, reason, journey_id=journey.id)


def convert_journey(session: Session, journey: Journey, order: OrderRow) -> None:
    """The customer paid: stop every pending message, attribute revenue if we had reached them."""
    if journey.status == "converted":
        return
    reached = session.scalar(
        select(Message.id)
        .where(
            Message.journey_id == journey.id,
            Message.status == Status.SENT.value,
            Message.sent_at <= order.shopify_created_at,
        )
        .limit(1)
    )
    journey.order_id = order.id
    journey.recovered_revenue = order.total_price if reached else None
    stop_journey(session, journey, "converted", f"paid: {describe_order(order)}")


def replan(session: Session, shop: Shop, row: CheckoutRow, settings: ShopSettings, now: datetime) -> str:
    """Bring the journey of this checkout in line with the planner. Returns what happened."""
    checkout = checkout_of(row)
    journey = session.scalar(select(Journey).where(Journey.checkout_id == row.id, Journey.flow == "recovery"))
    has_push = bool(checkout.cart_token) and subscription_for(session, shop.id, checkout.cart_token) is not None
    plan = planner.plan(checkout, settings, now, has_push=has_push)

    paid = payment_for(session, shop.id, checkout, checkout.updated_at)
    if journey is not None and journey.status != "active":
        return f"journey already {journey.status}; not restarted"
    if paid is not None:
        if journey is not None:
            convert_journey(session, journey, paid)
        return f"paid: {describe_order(paid)}"
    if plan.stop_reason:
        if journey is not None:
            status = "converted" if checkout.completed_at else "stopped"
            stop_journey(session, journey, status, plan.stop_reason)
        return plan.stop_reason

    if journey is None:
        journey = Journey(shop_id=shop.id, checkout_id=row.id, flow="recovery", abandoned_at=checkout.updated_at)
        session.add(journey)
        session.flush()
    journey.abandoned_at = checkout.updated_at

    existing = {
        (m.step, m.channel): m
        for m in session.scalars(select(Message).where(Message.journey_id == journey.id).with_for_update())
    }
    created = moved = 0
    for planned in plan.messages:
        message = existing.get((planned.step.value, planned.channel.value))
        if message is None:
            session.add(
                Message(
                    shop_id=shop.id,
                    journey_id=journey.id,
                    flow="recovery",
                    step=planned.step.value,
                    channel=planned.channel.value,
                    status=Status.SCHEDULED.value,
                    due_at=planned.due_at,
                )
            )
            created += 1
        elif message.status == Status.SCHEDULED.value and message.due_at != planned.due_at:
            message.due_at = planned.due_at
            message.reason = "rescheduled: the checkout was updated"
            moved += 1
    session.flush()
    return f"planned: {created} new, {moved} moved"


def replan_cart(session: Session, shop: Shop, cart_token: str, settings: ShopSettings, now: datetime) -> list[str]:
    """A browser subscribed to push for this cart: its open checkouts' journeys gain a push message."""
    rows = session.scalars(
        select(CheckoutRow).where(
            CheckoutRow.shop_id == shop.id,
            CheckoutRow.cart_token == cart_token,
            CheckoutRow.deleted_at.is_(None),
            CheckoutRow.completed_at.is_(None),
        )
    ).all()
    return [replan(session, shop, row, settings, now) for row in rows]
