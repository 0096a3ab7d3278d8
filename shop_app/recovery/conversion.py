"""The incremental rule's answer kept on each recovery journey (issue 12, point 5):
`journeys.conversion_days`, the fewest attribution days under which the journey converts
(domain/incremental.conversion_days: 0 its own checkout paid, None not within the longest window).

The results report counts `conversion_days <= attribution_days` from the journeys' index instead of
joining every journey of a range to the shop's orders on four keys. This module owns the column and
keeps it true wherever its inputs change:

- an order is stored or refunded (recovery/orders.py): `refresh_for_order`, for the journeys whose
  checkout shares one of the order's keys (its checkout token; the customer id, email or phone);
- a journey is planned (recovery/journeys.replan), since its anchor (first_due_at) or its checkout's
  keys may have changed: `days_for`, from the candidate orders read with the plan's other facts
  (recovery/plan_facts.py), written with the journey's own INSERT or UPDATE.

Both recompute the journey from all its candidate orders, so a refund that takes out the order a
journey converted by leaves the next one (or none) in its place.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import ColumnElement, false, or_, select, update
from sqlalchemy.orm import Session

from shop_app.domain import incremental
from shop_app.domain.measurement_settings import MAX_ATTRIBUTION_DAYS
from shop_app.storage.tables import CheckoutRow, Journey, OrderRow

FLOW = "recovery"  # as recovery/journeys.FLOW: the report measures the recovery journeys
#: A refunded order (in full) converts nothing.
NOT_REFUNDED = or_(OrderRow.refunded_total <= 0, OrderRow.refunded_total < OrderRow.total_price)


class Candidate(NamedTuple):
    """An order that may convert a journey: what the rule reads of it."""

    created_at: datetime
    id: int
    checkout_token: str | None
    customer_id: str | None
    email: str | None
    phone: str | None


#: A Candidate's columns, in its order.
CANDIDATE_COLUMNS = (
    OrderRow.shopify_created_at, OrderRow.id, OrderRow.checkout_token, OrderRow.customer_id, OrderRow.email,
    OrderRow.phone,
)  # fmt: skip


def candidate_keys(
    token: str | None, customer_id: str | None, email: str | None, phone: str | None
) -> ColumnElement[bool]:
    """The orders sharing one of a checkout's keys (an unknown key, None or "", matches nothing)."""
    pairs = (
        (OrderRow.checkout_token, token), (OrderRow.customer_id, customer_id), (OrderRow.email, email),
        (OrderRow.phone, phone),
    )  # fmt: skip
    keys = [column == value for column, value in pairs if value]
    return or_(*keys) if keys else false()


def days_for(
    anchor: datetime | None,
    keys: tuple[str | None, str | None, str | None, str | None],
    orders: Iterable[Candidate],
) -> int | None:
    """The conversion of a journey anchored at `anchor` whose checkout has these keys (token,
    customer id, email, phone), from its candidate orders (others are left out); None unplanned."""
    if anchor is None:
        return None
    token, customer_id, email, phone = keys
    candidates = [
        (order.created_at, _same(token, order.checkout_token))
        for order in orders
        if _same(token, order.checkout_token)
        or _same(customer_id, order.customer_id)
        or _same(email, order.email)
        or _same(phone, order.phone)
    ]
    return incremental.conversion_days(anchor, candidates, MAX_ATTRIBUTION_DAYS)


def refresh_for_order(session: Session, shop_id: int, order: OrderRow) -> None:
    """The journeys this order may convert (or, refunded, no longer): recomputed."""
    keys = [
        column == value
        for column, value in (
            (CheckoutRow.token, order.checkout_token),
            (CheckoutRow.customer_id, order.customer_id),
            (CheckoutRow.email, order.email),
            (CheckoutRow.phone, order.phone),
        )
        if value  # an unknown key (None or "") matches nothing
    ]
    if not keys or order.shopify_created_at is None:
        return
    journeys = (
        select(Journey.id)
        .join(CheckoutRow, CheckoutRow.id == Journey.checkout_id)
        .where(
            Journey.shop_id == shop_id,
            Journey.flow == FLOW,
            Journey.first_due_at <= order.shopify_created_at,
            CheckoutRow.shop_id == shop_id,
            or_(*keys),
        )
    )
    refresh(session, shop_id, list(session.scalars(journeys)))


def refresh(session: Session, shop_id: int, journey_ids: Collection[int]) -> None:
    """Recompute the conversion of these journeys of the shop from their candidate orders; a
    journey not planned yet (no anchor) has none. Two reads whatever the count, and an UPDATE per
    journey whose answer changed."""
    if not journey_ids:
        return
    anchors = session.execute(
        select(
            Journey.id,
            Journey.first_due_at,
            Journey.conversion_days,
            CheckoutRow.token,
            CheckoutRow.customer_id,
            CheckoutRow.email,
            CheckoutRow.phone,
        )  # fmt: skip
        .join(CheckoutRow, CheckoutRow.id == Journey.checkout_id)
        .where(Journey.shop_id == shop_id, Journey.flow == FLOW, Journey.id.in_(list(journey_ids)))
    ).all()
    planned = [row for row in anchors if row.first_due_at is not None]
    orders: list[OrderRow] = []
    wanted = [
        column.in_(values)
        for column, values in (
            (OrderRow.checkout_token, {row.token for row in planned if row.token}),
            (OrderRow.customer_id, {row.customer_id for row in planned if row.customer_id}),
            (OrderRow.email, {row.email for row in planned if row.email}),
            (OrderRow.phone, {row.phone for row in planned if row.phone}),
        )
        if values
    ]
    if wanted:
        earliest = min(row.first_due_at for row in planned)
        orders = list(
            session.scalars(
                select(OrderRow).where(
                    OrderRow.shop_id == shop_id,
                    OrderRow.shopify_created_at >= earliest,
                    NOT_REFUNDED,
                    or_(*wanted),
                )
            )
        )
    candidates = [Candidate(o.shopify_created_at, o.id, o.checkout_token, o.customer_id, o.email, o.phone)
                  for o in orders]  # fmt: skip
    for row in anchors:
        days = days_for(row.first_due_at, (row.token, row.customer_id, row.email, row.phone), candidates)
        if days != row.conversion_days:
            statement = update(Journey).where(Journey.id == row.id).values(conversion_days=days)
            session.execute(statement.execution_options(synchronize_session=False))


def _same(mine: str | None, theirs: str | None) -> bool:
    """A key both sides know and share (an unknown one, None or "", matches nothing)."""
    return bool(mine) and mine == theirs
