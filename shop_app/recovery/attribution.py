"""Attribution's state changes (issue 12): a paid order credited to the recovery journey that
recovered it, and the credit taken out when the order is cancelled or fully refunded.

Which journey, which message and what revenue are shop_app/domain/attribution.py's rules; this
module finds the candidates (the journey of the order's checkout, by checkout or cart token, and
the journeys of the same person with a message sent within the attribution window before the
order), and owns the rows of
the `attributions` table. Journey conversion (recovery/journeys.convert_journey) is unchanged: the
attribution is the separate read model of the results report.

An order is credited once: the table holds one row per order (a unique key), so a redelivered
orders/paid, or two deliveries ingested at once, leave the first credit as it is; a removed
credit stays removed. A cancellation or full refund ingested before the order's orders/paid writes
that row `removed` at once (the order row keeps no cancellation of its own), and an orders/paid
whose order is already cancelled (its body's `cancelled_at`, a `voided` or `refunded` status) or
fully refunded (orders.refunded_total) writes it `removed` too; a test order is never credited.

The clicks recorded for a credit (issue 12: "clicks recorded") are read, not stored:
`clicks_for_credited` gives them per credited order for the report, since the attributions table
(migration 0018) has no column that fits them and they keep counting after the credit.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, or_, select, update
from sqlalchemy.orm import Session

from shop_app.domain import attribution
from shop_app.domain.attribution import Candidate, Clicks, PaidOrder, Person, Sent
from shop_app.domain.models import Status
from shop_app.domain.referral_payloads import is_test_order
from shop_app.messaging import links
from shop_app.recovery.orders import equal_where_given
from shop_app.shopify.shops import load_settings
from shop_app.storage.database import insert_new
from shop_app.storage.measurement_tables import CREDITED, REMOVED, Attribution
from shop_app.storage.tables import CheckoutRow, Journey, Message, MessageEvent, OrderRow, Shop, utcnow

FLOW = "recovery"  # as recovery/journeys.FLOW: only recovery journeys recover orders


def on_paid(session: Session, shop: Shop, order: OrderRow, payload: dict[str, Any], now: datetime) -> str:
    """Credit the paid `order` (its webhook body gives the money) to the journey that recovered it;
    a test order never, and an order already cancelled or fully refunded only as `removed`."""
    if is_test_order(payload):
        return "attribution: a test order is never credited"
    existing = session.scalar(select(Attribution).where(Attribution.order_id == order.id))
    if existing is not None:
        return f"attribution: already {existing.status} (journey #{existing.journey_id})"
    days = load_settings(session, shop).measurement.attribution_days
    credit = attribution.credit(_paid(order), _candidates(session, shop.id, order, days), days, now)
    if credit is None:
        return "attribution: no journey recovered it"
    money = attribution.revenue(payload)
    out = attribution.taken_out(
        bool(payload.get("cancelled_at")), order.financial_status, order.total_price, order.refunded_total
    )
    status, reason = (CREDITED, credit.why) if out is None else (REMOVED, f"order {out}")
    if not _insert(session, order, credit, money, status, reason, now):
        return _already(session, order)
    where = f"{credit.message.step} {credit.message.channel}"
    if out is not None:
        return f"attribution: not credited, order {out} before it was paid (journey #{credit.journey_id}, {where})"
    clicked = clicks_for_credited(session, shop.id, [order.id]).get(order.id, Clicks())
    clicks = f"{clicked.clicks} click(s) on {clicked.messages} message(s) before the order"
    return f"attribution: {money.amount} {money.currency} credited to journey #{credit.journey_id} ({where}), {clicks}"


def clicks_for_credited(session: Session, shop_id: int, order_ids: Collection[int] | None = None) -> dict[int, Clicks]:
    """The clicks recorded for the shop's credited orders (all, or those of `order_ids`), by
    orders.id: the credited journey's messages clicked by the order's time (domain
    attribution.clicks_before). The attributions table has no column for them, so the results
    report reads them here, from the tracked-link rows (messaging/links.py: one per clicked message,
    its running count and first and last click's time in `raw`). Two queries, whatever the count."""
    credited = select(Attribution.order_id, Attribution.message_id, OrderRow.shopify_created_at).join(
        OrderRow, OrderRow.id == Attribution.order_id
    )
    credited = credited.where(Attribution.shop_id == shop_id, Attribution.status == CREDITED)
    if order_ids is not None:
        credited = credited.where(Attribution.order_id.in_(list(order_ids)))
    orders = {order_id: (message_id, at) for order_id, message_id, at in session.execute(credited)}
    if not orders:
        return {}
    clicks = (
        select(Attribution.order_id, MessageEvent.message_id, MessageEvent.raw, MessageEvent.created_at)
        .join(Message, Message.journey_id == Attribution.journey_id)
        .join(MessageEvent, MessageEvent.message_id == Message.id)
        .where(
            Attribution.shop_id == shop_id,
            Attribution.status == CREDITED,
            MessageEvent.event == links.EVENT,
            MessageEvent.provider == links.PROVIDER,
        )
    )
    if order_ids is not None:
        clicks = clicks.where(Attribution.order_id.in_(list(order_ids)))
    clicked: dict[int, list[attribution.Clicked]] = {order_id: [] for order_id in orders}
    for order_id, message_id, raw, created_at in session.execute(clicks):
        if order_id in clicked and message_id is not None:
            clicked[order_id].append(_clicked(message_id, raw, created_at))
    return {
        order_id: attribution.clicks_before(clicked[order_id], at, message_id)
        for order_id, (message_id, at) in orders.items()
    }


def _clicked(message_id: int, raw: Any, created_at: datetime) -> attribution.Clicked:
    """A click row as the domain reads it; a row without its times is dated by its creation."""
    raw = raw if isinstance(raw, dict) else {}
    first = _time(raw.get("first_at")) or created_at
    last = _time(raw.get("last_at")) or first
    try:
        count = int(raw.get("clicks") or 1)
    except (TypeError, ValueError):
        count = 1
    return attribution.Clicked(message_id, count, first, last)


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        return None
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def on_stopped(session: Session, order: OrderRow, what: str) -> str | None:
    """The order was cancelled or fully refunded (`what`): its credit, if any, is removed with
    the reason. Not credited yet (its orders/paid not ingested: Shopify's webhooks come in any
    order), the journey the rules name gets its row `removed` at once, so a late orders/paid finds
    it so and credits nothing. None when no journey was or would be credited with it."""
    row = session.scalar(select(Attribution).where(Attribution.order_id == order.id).with_for_update())
    if row is None:
        removed = _removed_before_paid(session, order, what)
        if removed is not None:
            return removed
        # An orders/paid ingested at the same time won the insert: take its credit out.
        row = session.scalar(select(Attribution).where(Attribution.order_id == order.id).with_for_update())
        if row is None:
            return None
    if row.status == REMOVED:
        return f"attribution already removed ({row.reason})"
    row.status, row.reason = REMOVED, f"order {what}"
    return f"attribution to journey #{row.journey_id} removed: order {what}"


def _removed_before_paid(session: Session, order: OrderRow, what: str) -> str | None:
    """The `removed` row of the journey that would be credited with the order; None when none would
    be, or a concurrent orders/paid holds the order's row already."""
    shop = session.get_one(Shop, order.shop_id)
    days = load_settings(session, shop).measurement.attribution_days
    # The candidates hold only the messages sent by the order's time: no later clock is needed.
    at = order.shopify_created_at
    credit = attribution.credit(_paid(order), _candidates(session, shop.id, order, days), days, at)
    if credit is None:
        return None
    # The order row holds the total in the shop's currency; the buyer's money is not known here.
    money = attribution.Revenue(order.total_price, order.currency, None, None)
    if not _insert(session, order, credit, money, REMOVED, f"order {what}", None):
        return None
    return f"attribution to journey #{credit.journey_id} removed before it was credited: order {what}"


def _insert(
    session: Session,
    order: OrderRow,
    credit: attribution.Credit,
    money: attribution.Revenue,
    status: str,
    reason: str,
    now: datetime | None,
) -> bool:
    """The order's one row; False when it has one already (a concurrent delivery's)."""
    return insert_new(
        session, Attribution, shop_id=order.shop_id, order_id=order.id, journey_id=credit.journey_id,
        journey_abandoned_at=select(Journey.abandoned_at).where(Journey.id == credit.journey_id).scalar_subquery(),
        message_id=credit.message.message_id, step=credit.message.step, channel=credit.message.channel,
        revenue=money.amount, currency=money.currency, presentment_amount=money.presentment_amount,
        presentment_currency=money.presentment_currency, status=status, reason=reason,
        created_at=now or utcnow(),
    )  # fmt: skip


def follow_journey(session: Session, journey_id: int, abandoned_at: datetime) -> None:
    """The journey's abandonment time moved: its attributions' copy (the report's range) follows."""
    statement = (
        update(Attribution)
        .where(Attribution.journey_id == journey_id, Attribution.journey_abandoned_at.is_distinct_from(abandoned_at))
        .values(journey_abandoned_at=abandoned_at)
    )
    session.execute(statement.execution_options(synchronize_session=False))


def _already(session: Session, order: OrderRow) -> str:
    row = session.scalars(select(Attribution).where(Attribution.order_id == order.id)).one()
    return f"attribution: already {row.status} (journey #{row.journey_id})"


def _paid(order: OrderRow) -> PaidOrder:
    return PaidOrder(order.checkout_token, _person(order), order.shopify_created_at, order.cart_token)


def _person(row: OrderRow | CheckoutRow) -> Person:
    return Person(row.customer_id, row.email, row.phone)


def _candidates(session: Session, shop_id: int, order: OrderRow, days: int) -> list[Candidate]:
    """The recovery journeys that may have recovered `order`, each with its messages sent up to the
    order's time: the journey of its checkout, and those of the same person (customer id, email or
    phone) with a message sent in the window before the order. The domain rules decide."""
    ordered_at = order.shopify_created_at
    sent_in_window = exists().where(
        Message.journey_id == Journey.id,
        Message.status == Status.SENT.value,
        Message.sent_at >= ordered_at - timedelta(days=days),
        Message.sent_at <= ordered_at,
    )
    same_person = equal_where_given(
        (CheckoutRow.customer_id, order.customer_id), (CheckoutRow.email, order.email), (CheckoutRow.phone, order.phone)
    )
    match = equal_where_given((CheckoutRow.token, order.checkout_token), (CheckoutRow.cart_token, order.cart_token))
    if same_person:
        match.append(and_(or_(*same_person), sent_in_window))
    if not match:
        return []
    journeys = session.execute(
        select(Journey.id, CheckoutRow)
        .join(CheckoutRow, CheckoutRow.id == Journey.checkout_id)
        .where(Journey.shop_id == shop_id, Journey.flow == FLOW, CheckoutRow.shop_id == shop_id, or_(*match))
    ).all()
    sent: dict[int, list[Sent]] = {journey_id: [] for journey_id, _ in journeys}
    messages = session.execute(
        select(Message.journey_id, Message.id, Message.step, Message.channel, Message.sent_at).where(
            Message.journey_id.in_(sent),
            Message.status == Status.SENT.value,
            Message.sent_at.is_not(None),
            Message.sent_at <= ordered_at,
        )
    )
    for journey_id, message_id, step, channel, sent_at in messages:
        if sent_at is not None:  # the query asked for sent_at; the column type allows None
            sent[journey_id].append(Sent(message_id, step, channel, sent_at))
    return [
        Candidate(j, checkout.token, _person(checkout), tuple(sent[j]), checkout.cart_token) for j, checkout in journeys
    ]
