"""What replanning one checkout reads, in one statement (issue 13, item 6).

recovery/journeys.replan needs: the checkout's recovery journey, its messages (locked: their
statuses decide which move), whether a browser subscribed to push for the cart, the first order
that pays the checkout (recovery/orders.payment_query), whether the journey has an attribution (its
copy of the abandonment time then follows), and the orders that may convert it (the candidates of
recovery/conversion.py, so its conversion is computed without reading them again). One SELECT
brings them all: the journey, its messages and the candidate orders outer-joined to a one-row
table, the rest as scalar subqueries. The messages are locked inside their own subquery
(PostgreSQL refuses FOR UPDATE on the nullable side of an outer join); SQLite has no row locks.

The ingest reads them before it writes the checkout (recovery/checkouts.py), its row already
locked by the delivery's read, so they come after that lock; a new customer's profile lookup
(locked as profile_for locks it) rides along, its own locked subquery, as the checkout's INSERT
needs its id. What keys the read (the checkout's token, cart token, customer id, email, phone
and abandonment time) is the body's, which that write stores.

The candidate orders are those placed since the earlier of the journey's anchor and the
checkout's abandonment: every due time the planner gives counts from the abandonment, so no
anchor the replan sets is earlier (journeys.py checks, and reads them again if one is).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, exists, false, literal, select, true
from sqlalchemy.orm import Session, aliased

from shop_app.channels.push_subscriptions import InvalidSubscription, clean_cart_token
from shop_app.domain.models import Checkout
from shop_app.recovery import conversion
from shop_app.recovery.orders import payment_query
from shop_app.storage.measurement_tables import Attribution
from shop_app.storage.tables import Journey, Message, OrderRow, Profile, PushSubscription

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
    profile: Profile | None = None  # what the `profile` lookup found


def read(
    session: Session, shop_id: int, checkout_id: int | None, checkout: Checkout, profile: Select[Any] | None = None
) -> PlanFacts:
    """The facts of the checkout stored as `checkout_id` (None: not stored yet, so no journey),
    with `profile`'s one row when given (a locked lookup, run inside its own subquery)."""
    mine = Journey.checkout_id == checkout_id if checkout_id is not None else false()
    journey_id = select(Journey.id).where(mine, Journey.flow == FLOW).scalar_subquery()
    locked = select(Message).where(Message.journey_id == journey_id).with_for_update().subquery("mine")
    message = aliased(Message, locked)
    abandoned = literal(checkout.updated_at, Journey.first_due_at.type)
    since = case((Journey.first_due_at < abandoned, Journey.first_due_at), else_=abandoned)
    keys = conversion.candidate_keys(checkout.token, checkout.customer_id, checkout.email, checkout.phone)
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
        .outerjoin(Journey, and_(mine, Journey.flow == FLOW))
        .outerjoin(message, message.journey_id == Journey.id)
        .outerjoin(OrderRow, placed)
    )
    found = None
    if profile is not None:
        found = aliased(Profile, profile.subquery("known"))
        statement = statement.add_columns(found).outerjoin(found, true())
    rows = session.execute(statement).all()
    journey = rows[0][0]
    messages = {m.id: m for r in rows if (m := r[1]) is not None}
    width = 2 + len(conversion.CANDIDATE_COLUMNS)  # then has_push, paid_id, credited (and the profile)
    orders = {c for r in rows if (c := conversion.Candidate(*r[2:width])).id is not None}
    first_due = journey.first_due_at if journey is not None else None
    has_push, paid_id, credited = rows[0][width : width + 3]
    return PlanFacts(
        journey=journey,
        messages=list(messages.values()),
        has_push=bool(has_push),
        paid_id=paid_id,
        credited=bool(credited),
        since=min(first_due, checkout.updated_at) if first_due is not None else checkout.updated_at,
        orders=sorted(orders),
        profile=rows[0][width + 3] if found is not None else None,
    )


def _has_push(shop_id: int, cart_token: str | None) -> ColumnElement[bool]:
    """Whether a browser subscribed to push for this cart (push_subscriptions.subscription_for's rule)."""
    try:
        token = clean_cart_token(cart_token)
    except InvalidSubscription:
        return false()
    return exists().where(PushSubscription.shop_id == shop_id, PushSubscription.cart_token == token)
