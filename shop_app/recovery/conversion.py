"""The incremental rule's answer kept on each recovery journey (issue 12, point 5):
`journeys.conversion_days`, the fewest attribution days under which the journey converts
(domain/incremental.conversion_days: 0 its own checkout paid, None not within the longest window).

The results report counts `conversion_days <= attribution_days` from the journeys' index instead of
joining every journey of a range to the shop's orders on four keys. This module owns the column and
keeps it true wherever its inputs change:

- an order is stored or refunded (recovery/orders.py): `refresh_for_order`, for the journeys whose
  checkout shares one of the order's keys (its checkout token; the customer id, email or phone);
- a journey is planned (recovery/journeys.replan): `refresh`, since its anchor (first_due_at) or its
  checkout's keys may have changed.

Both recompute the journey from all its candidate orders, so a refund that takes out the order a
journey converted by leaves the next one (or none) in its place.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from shop_app.domain import incremental
from shop_app.domain.measurement_settings import MAX_ATTRIBUTION_DAYS
from shop_app.storage.tables import CheckoutRow, Journey, OrderRow

FLOW = "recovery"  # as recovery/journeys.FLOW: the report measures the recovery journeys


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
                    or_(OrderRow.refunded_total <= 0, OrderRow.refunded_total < OrderRow.total_price),
                    or_(*wanted),
                )
            )
        )
    for row in anchors:
        days = None
        if row.first_due_at is not None:
            candidates = [
                (order.shopify_created_at, _same(row.token, order.checkout_token))
                for order in orders
                if _same(row.token, order.checkout_token)
                or _same(row.customer_id, order.customer_id)
                or _same(row.email, order.email)
                or _same(row.phone, order.phone)
            ]
            days = incremental.conversion_days(row.first_due_at, candidates, MAX_ATTRIBUTION_DAYS)
        if days != row.conversion_days:
            statement = update(Journey).where(Journey.id == row.id).values(conversion_days=days)
            session.execute(statement.execution_options(synchronize_session=False))


def _same(mine: str | None, theirs: str | None) -> bool:
    """A key both sides know and share (an unknown one, None or "", matches nothing)."""
    return bool(mine) and mine == theirs
