"""What replanning one checkout reads, in one statement (issue 13, item 6).

recovery/journeys.replan needs: the checkout's recovery journey, its messages (locked: their
statuses decide which move), whether a browser subscribed to push for the cart, the first order
that pays the checkout (recovery/orders.payment_query), whether the journey has an attribution (its
copy of the abandonment time then follows), and the orders that may convert it (the candidates of
recovery/conversion.py, so its conversion is computed without reading them again). One SELECT
brings them all: the journey, its messages and the candidate orders outer-joined to a one-row
table, the rest as scalar subqueries. The messages are locked inside their own subquery
(PostgreSQL refuses FOR UPDATE on the nullable side of an outer join); SQLite has no row locks.

The candidate orders are those placed since the earlier of the journey's anchor and the
checkout's abandonment: every due time the planner gives counts from the abandonment, so no
anchor the replan sets is earlier (journeys.py checks, and reads them again if one is).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, case, exists, false, literal, select
from sqlalchemy.orm import Session, aliased

from shop_app.channels.push_subscriptions import InvalidSubscription, clean_cart_token
from shop_app.domain.models import Checkout
from shop_app.recovery import conversion
from shop_app.recovery.orders import payment_query
from shop_app.storage.measurement_tables import Attribution
from shop_app.storage.tables import CheckoutRow, Journey, Message, OrderRow, PushSubscription

FLOW = "recovery"


@dataclass(frozen=True)
class PlanFacts:
    journey: Journey | None
    messages: list[Message]  # the journey's, locked
    has_push: bool
    paid_id: int | None  # the first order that pays the checkout
    credited: bool  # the journey has an attribution row
    since: datetime  # candidate orders placed from then on are in `orders`
    orders: list[conversion.Candidate]


def read(session: Session, shop_id: int, row: CheckoutRow, checkout: Checkout) -> PlanFacts:
    journey_id = select(Journey.id).where(Journey.checkout_id == row.id, Journey.flow == FLOW).scalar_subquery()
    mine = select(Message).where(Message.journey_id == journey_id).with_for_update().subquery("mine")
    message = aliased(Message, mine)
    abandoned = literal(checkout.updated_at, Journey.first_due_at.type)
    since = case((Journey.first_due_at < abandoned, Journey.first_due_at), else_=abandoned)
    keys = conversion.candidate_keys(row.token, row.customer_id, row.email, row.phone)
    placed = and_(OrderRow.shop_id == shop_id, OrderRow.shopify_created_at >= since, conversion.NOT_REFUNDED, keys)
    one = select(literal(1).label("one")).subquery("one")
    statement = (
        select(
            Journey,
            message,
            *conversion.CANDIDATE_COLUMNS,
            _has_push(shop_id, checkout.cart_token).label("has_push"),
            payment_query(shop_id, checkout, checkout.updated_at).with_only_columns(OrderRow.id).scalar_subquery(),
            exists().where(Attribution.journey_id == Journey.id).label("credited"),
        )
        .select_from(one)
        .outerjoin(Journey, and_(Journey.checkout_id == row.id, Journey.flow == FLOW))
        .outerjoin(message, message.journey_id == Journey.id)
        .outerjoin(OrderRow, placed)
    )
    rows = session.execute(statement).all()
    journey = rows[0][0]
    messages = {m.id: m for r in rows if (m := r[1]) is not None}
    orders = {c for r in rows if (c := conversion.Candidate(*r[2:-3])).id is not None}
    first_due = journey.first_due_at if journey is not None else None
    return PlanFacts(
        journey=journey,
        messages=list(messages.values()),
        has_push=bool(rows[0][-3]),
        paid_id=rows[0][-2],
        credited=bool(rows[0][-1]),
        since=min(first_due, checkout.updated_at) if first_due is not None else checkout.updated_at,
        orders=sorted(orders),
    )


def _has_push(shop_id: int, cart_token: str | None) -> ColumnElement[bool]:
    """Whether a browser subscribed to push for this cart (push_subscriptions.subscription_for's rule)."""
    try:
        token = clean_cart_token(cart_token)
    except InvalidSubscription:
        return false()
    return exists().where(PushSubscription.shop_id == shop_id, PushSubscription.cart_token == token)
