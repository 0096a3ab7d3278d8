"""Journeys: the planner's answer written to the outbox, and journeys stopped or converted.

A new recovery journey is assigned to the holdout's control group or not (issue 12,
domain/holdout.py) when it is created, and keeps that answer whatever the settings say later.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from shop_app import runtime
from shop_app.billing import usage
from shop_app.channels.push_subscriptions import subscription_for
from shop_app.domain import holdout, planner
from shop_app.domain.models import Checkout, JourneyStatus, PlannedMessage, Status
from shop_app.domain.settings import ShopSettings
from shop_app.recovery import attribution, conversion, outbox
from shop_app.recovery.checkouts import checkout_of
from shop_app.recovery.orders import describe_order, payment_for
from shop_app.storage.tables import CheckoutRow, Journey, Message, OrderRow, Shop

FLOW = "recovery"
#: The plan event's outcomes: messages written to the outbox, or the journey not (re)planned.
PLANNED, SKIPPED = "planned", "skipped"
log = logging.getLogger(__name__)


def stop_journey(session: Session, journey: Journey, status: JourneyStatus, reason: str) -> None:
    journey.status, journey.stop_reason = status.value, reason
    outbox.cancel_pending(session, journey.shop_id, reason, journey_ids=[journey.id])


def convert_journey(session: Session, journey: Journey, order: OrderRow) -> None:
    """The customer paid: stop every pending message, attribute revenue if we had reached them."""
    if journey.status == JourneyStatus.CONVERTED:
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
    stop_journey(session, journey, JourneyStatus.CONVERTED, f"paid: {describe_order(order)}")


def replan(
    session: Session, shop: Shop, row: CheckoutRow, settings: ShopSettings, now: datetime, *, keys_moved: bool = True
) -> str:
    """Bring the journey of this checkout in line with the planner. Returns what happened, and logs
    it: the plan event (README "Logs"), with no personal data. `keys_moved`: the checkout is new or
    its customer id, email or phone changed (its journey's conversion is then recomputed, as when
    its anchor moves)."""
    result = _replan(session, shop, row, settings, now, keys_moved)
    log.info(
        "%s: %s",
        f"journey {result.journey_id}" if result.journey_id else "no journey",
        result.reason,
        extra={
            "event": "plan",
            "shop": shop.domain,
            "journey_id": result.journey_id,
            "outcome": result.outcome,
            "reason": result.reason,
            "planned": result.planned,
            "moved": result.moved,
        },
    )
    return result.reason


@dataclass(frozen=True)
class Replanned:
    """What replan did: `planned` (messages added, `moved` rescheduled) or `skipped`, and why."""

    outcome: str
    reason: str
    journey_id: int | None
    planned: int = 0
    moved: int = 0


def _replan(
    session: Session, shop: Shop, row: CheckoutRow, settings: ShopSettings, now: datetime, keys_moved: bool
) -> Replanned:
    checkout = checkout_of(row)
    journey = session.scalar(select(Journey).where(Journey.checkout_id == row.id, Journey.flow == FLOW))
    has_push = subscription_for(session, shop.id, checkout.cart_token) is not None
    plan = planner.plan(checkout, settings, now, has_push=has_push)

    paid = payment_for(session, shop.id, checkout, checkout.updated_at)
    journey_id = journey.id if journey is not None else None
    if journey is not None and journey.status != JourneyStatus.ACTIVE:
        return Replanned(SKIPPED, f"journey already {journey.status}; not restarted", journey_id)
    if paid is not None:
        if journey is not None:
            convert_journey(session, journey, paid)
        return Replanned(SKIPPED, f"paid: {describe_order(paid)}", journey_id)
    if plan.stop_reason:
        if journey is not None:
            status = JourneyStatus.CONVERTED if checkout.completed_at else JourneyStatus.STOPPED
            stop_journey(session, journey, status, plan.stop_reason)
        return Replanned(SKIPPED, plan.stop_reason, journey_id)

    refused, started = None, journey is None
    if journey is None:
        control = held_out(shop, checkout, settings)  # decided once, here: never changed afterwards
        refused = usage.refusal(session, shop, now)  # the plan's monthly limit (issue 14): recorded, not sent
        journey = Journey(
            shop_id=shop.id,
            checkout_id=row.id,
            flow=FLOW,
            abandoned_at=checkout.updated_at,
            holdout=control,
            started_at=now,
        )
        session.add(journey)
        session.flush()
    if journey.abandoned_at != checkout.updated_at:  # its messages and credits keep a copy (the report's range)
        journey.abandoned_at = checkout.updated_at
        outbox.follow_journey(session, journey.id, checkout.updated_at)
        attribution.follow_journey(session, journey.id, checkout.updated_at)

    created, moved = _write_plan(session, shop, journey, plan.messages, new_journey=started)
    if started or created or moved or keys_moved:  # its anchor or its checkout's keys may have moved
        conversion.refresh(session, shop.id, [journey.id])
    if refused:
        return Replanned(SKIPPED, usage.refuse(session, journey, refused), journey.id)
    return Replanned(PLANNED, f"planned: {created} new, {moved} moved", journey.id, created, moved)


def _write_plan(
    session: Session, shop: Shop, journey: Journey, messages: Sequence[PlannedMessage], *, new_journey: bool
) -> tuple[int, int]:
    """The plan's new messages written and its still-scheduled ones moved: (new, moved). A journey
    created in this transaction has no messages yet: they are not looked for."""
    mine = select(Message).where(Message.journey_id == journey.id).with_for_update()
    existing = {} if new_journey else {(m.step, m.channel): m for m in session.scalars(mine)}
    new, moves = [], []
    for planned in messages:
        message = existing.get((planned.step.value, planned.channel.value))
        if message is None:
            new.append(planned)
        elif message.status == Status.SCHEDULED.value and message.due_at != planned.due_at:
            moves.append((message.id, planned.due_at))
    created = outbox.add_planned_rows(session, shop.id, journey, FLOW, new)
    return created, outbox.reschedule_rows(session, journey.id, moves, "rescheduled: the checkout was updated")


def held_out(shop: Shop, checkout: Checkout, settings: ShopSettings) -> bool:
    """Whether a new journey for `checkout` joins the control group: its token's keyed hash under
    the share the settings give for when it was abandoned. The key is the app's server-side secret."""
    percent = settings.measurement.holdout_share(shop.installed_at, checkout.updated_at)
    return holdout.in_control(runtime.current().settings.secret_key, checkout.token, percent)


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
