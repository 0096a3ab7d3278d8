"""Journeys: the planner's answer written to the outbox, and journeys stopped or converted.

A new recovery journey is assigned to the holdout's control group or not (issue 12,
domain/holdout.py) when it is created, and keeps that answer whatever the settings say later.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from shop_app import runtime
from shop_app.billing import usage
from shop_app.domain import holdout, planner
from shop_app.domain.models import Checkout, JourneyStatus, PlannedMessage, Status
from shop_app.domain.settings import ShopSettings
from shop_app.recovery import attribution, conversion, outbox, plan_facts, plan_writes
from shop_app.recovery.checkouts import checkout_of
from shop_app.recovery.orders import describe_order
from shop_app.storage.tables import CheckoutRow, Journey, Message, OrderRow, Shop

FLOW = "recovery"
#: A moved message's reason.
RESCHEDULED = "rescheduled: the checkout was updated"
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
    session: Session,
    shop: Shop,
    row: CheckoutRow,
    settings: ShopSettings,
    now: datetime,
    *,
    keys_moved: bool = True,
    facts: plan_facts.PlanFacts | None = None,
) -> str:
    """Bring the journey of this checkout in line with the planner. Returns what happened, and logs
    it: the plan event (README "Logs"), with no personal data. `keys_moved`: the checkout is new or
    its customer id, email or phone changed (its journey's conversion is then recomputed, as when
    its anchor moves). `facts`: the checkout's, read under its lock (recovery/checkouts.py); else
    read here."""
    result = _replan(session, shop, row, settings, now, keys_moved, facts)
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
    session: Session,
    shop: Shop,
    row: CheckoutRow,
    settings: ShopSettings,
    now: datetime,
    keys_moved: bool,
    facts: plan_facts.PlanFacts | None,
) -> Replanned:
    checkout = checkout_of(row)
    if facts is None:
        facts = plan_facts.read(session, shop.id, row.id, checkout)  # one SELECT: see plan_facts.py
    journey = facts.journey
    plan = planner.plan(checkout, settings, now, has_push=facts.has_push)
    paid = session.get(OrderRow, facts.paid_id) if facts.paid_id is not None else None
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
    if journey is None:
        return _start(session, shop, row, settings, now, plan.messages, facts)
    created, moved = _follow(session, shop, row, journey, plan.messages, facts, keys_moved)
    return Replanned(PLANNED, f"planned: {created} new, {moved} moved", journey.id, created, moved)


def _start(
    session: Session,
    shop: Shop,
    row: CheckoutRow,
    settings: ShopSettings,
    now: datetime,
    messages: Sequence[PlannedMessage],
    facts: plan_facts.PlanFacts,
) -> Replanned:
    """A new journey, its reach, anchor and conversion written with it, then its messages."""
    checkout = checkout_of(row)
    control = held_out(shop, checkout, settings)  # decided once, here: never changed afterwards
    refused = usage.refusal(session, shop, now)  # the plan's monthly limit (issue 14): recorded, not sent
    anchor = min(message.due_at for message in messages)  # a plan without a stop reason has messages
    journey = Journey(
        shop_id=shop.id,
        checkout_id=row.id,
        flow=FLOW,
        abandoned_at=checkout.updated_at,
        holdout=control,
        started_at=now,
        reached=True,
        first_due_at=anchor,
        conversion_days=_conversion(row, anchor, facts),
    )
    session.add(journey)
    session.flush()
    created = outbox.add_planned_rows(session, shop.id, journey, FLOW, messages)  # reach and anchor: written
    if anchor < facts.since:  # earlier than the candidates read reach: read them again
        _read_again(session, shop.id, journey)
    if refused:
        return Replanned(SKIPPED, usage.refuse(session, journey, refused), journey.id)
    return Replanned(PLANNED, f"planned: {created} new, 0 moved", journey.id, created, 0)


def _follow(
    session: Session,
    shop: Shop,
    row: CheckoutRow,
    journey: Journey,
    messages: Sequence[PlannedMessage],
    facts: plan_facts.PlanFacts,
    keys_moved: bool,
) -> tuple[int, int]:
    """The active journey follows its checkout: its still-scheduled messages moved, the new ones
    written, its abandonment time copied to its messages and credits; its own columns change in
    one UPDATE (at the flush). (new, moved)."""
    abandoned = row.shopify_updated_at
    existing = {(m.step, m.channel): m for m in facts.messages}
    new, moves = [], {}
    for planned in messages:
        message = existing.get((planned.step.value, planned.channel.value))
        if message is None:
            new.append(planned)
        elif message.status == Status.SCHEDULED.value and message.due_at != planned.due_at:
            moves[message.id] = planned.due_at
    if journey.abandoned_at != abandoned and facts.credited:  # its credits keep a copy (the report's range)
        attribution.follow_journey(session, journey.id, abandoned)
    anchor = journey.first_due_at
    if new:  # as outbox.add_planned_rows: reached, and the anchor no later than the new rows
        journey.reached = True
        anchor = min(p.due_at for p in new) if anchor is None else min(anchor, *[p.due_at for p in new])
    if moves:  # the anchor: the earliest due time of all its messages
        anchor = min([moves.get(m.id, m.due_at) for m in facts.messages] + [p.due_at for p in new])
    journey.abandoned_at, journey.first_due_at = abandoned, anchor  # so the new rows need no journey UPDATE
    exact = plan_writes.update_messages(session, facts.messages, moves, abandoned, RESCHEDULED)
    with session.no_autoflush:  # the journey's changes are written once, at the flush
        created = outbox.add_planned_rows(session, shop.id, journey, FLOW, new)
    if not exact:  # a row moved on meanwhile: its anchor and conversion read from the rows
        session.flush()
        first_due = select(func.min(Message.due_at)).where(Message.journey_id == Journey.id).scalar_subquery()
        session.execute(update(Journey).where(Journey.id == journey.id).values(first_due_at=first_due))
        conversion.refresh(session, shop.id, [journey.id])
        session.expire(journey)
    elif created or moves or keys_moved:  # its anchor or its checkout's keys may have moved
        journey.conversion_days = _conversion(row, anchor, facts)
        if anchor is not None and anchor < facts.since:
            _read_again(session, shop.id, journey)
    return created, len(moves)


def _conversion(row: CheckoutRow, anchor: datetime | None, facts: plan_facts.PlanFacts) -> int | None:
    """The journey's conversion from the candidate orders read with its facts."""
    return conversion.days_for(anchor, (row.token, row.customer_id, row.email, row.phone), facts.orders)


def _read_again(session: Session, shop_id: int, journey: Journey) -> None:
    """Its conversion from the orders read anew (its anchor is earlier than the facts' orders reach)."""
    session.flush()
    conversion.refresh(session, shop_id, [journey.id])
    session.expire(journey, ["conversion_days"])


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
