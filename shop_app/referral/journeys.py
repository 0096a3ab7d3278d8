"""The Referral Generation Flow's state changes (issue 11), as shop_app/recovery/journeys.py is
recovery's: a captured profile's first paid order starts one journey (never a second: the
(profile, flow) constraint decides between concurrent webhooks); its fulfilment plans the steps;
a cancelled or fully refunded triggering order cancels what is still pending.

The journey also holds Shopify's order count for its advocate (journeys.shopify_check, 0017),
asked by jobs/referral_check.py after the trigger committed: `pending` until a run claims its
attempt and Shopify answers (`done`), or the attempts run out (`unasked`); `none-needed` when
there is nothing to ask. What the merchant should know of a journey that goes on is its `note`.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from shop_app.domain.models import Flow, JourneyStatus, Status
from shop_app.domain.referral import AWAITING_FULFILMENT, TriggerFacts, plan_on_fulfilled, plan_on_paid, trigger_refusal
from shop_app.domain.settings import ShopSettings
from shop_app.recovery import outbox
from shop_app.recovery.orders import equal_where_given
from shop_app.referral.profiles import BY_ORDER, profile_for
from shop_app.storage.database import insert_new
from shop_app.storage.tables import Journey, Message, OrderRow, Profile, Shop

FLOW = Flow.REFERRAL.value
PAID_STATUSES = ("paid", "partially_refunded")
#: journeys.shopify_check: Shopify's order count for the advocate (see the module's docstring).
CHECK_PENDING, CHECK_DONE, CHECK_UNASKED, CHECK_NONE_NEEDED = "pending", "done", "unasked", "none-needed"


def start_on_paid(
    session: Session,
    shop: Shop,
    order: OrderRow,
    settings: ShopSettings,
    *,
    test: bool,
    now: datetime,
    customer_created_at: datetime | None = None,
) -> str:
    """Start the referral journey this paid order triggers, or say why it starts none. The order
    keeps the outcome where the merchant reads it (orders.referral_note, on /flows' referral card):
    fixed sentences and the journey's number, never the buyer's details. An order that started its
    journey keeps saying so when it is delivered again ("already has a referral journey")."""
    outcome = _start_on_paid(session, shop, order, settings, test=test, now=now, created=customer_created_at)
    if order.referral_note is None or _journey_triggered_by(session, order) is None:
        order.referral_note = outcome
    return outcome


def _start_on_paid(
    session: Session,
    shop: Shop,
    order: OrderRow,
    settings: ShopSettings,
    *,
    test: bool,
    now: datetime,
    created: datetime | None,
) -> str:
    # `created`: the order's customer.created_at; a customer Shopify had before the install is
    # imported even when her order comes before the setup job's import (referral/profiles.py).
    profile = profile_for(
        session, shop, by=BY_ORDER, customer_id=order.customer_id, email=order.email, phone=order.phone,
        created_in_shopify=created,
    )  # fmt: skip
    facts = TriggerFacts(
        test_order=test,
        origin=profile.origin if profile else None,
        earlier_paid_orders=_earlier_paid(session, shop.id, order, profile),
        journey_exists=profile is not None and _journey_of(session, profile.id) is not None,
        flow_enabled=settings.referral.enabled,
    )
    refusal = trigger_refusal(facts)
    if refusal is not None or profile is None:
        return refusal or "no referral flow"
    started = order.shopify_created_at
    # Our records only know the orders since install: Shopify is asked once this commits, at once.
    check = CHECK_PENDING if profile.customer_id else CHECK_NONE_NEEDED
    if not insert_new(
        session, Journey, shop_id=shop.id, profile_id=profile.id, trigger_order_id=order.id, flow=FLOW,
        status=JourneyStatus.ACTIVE.value, abandoned_at=started, created_at=now, updated_at=now,
        shopify_check=check, shopify_check_due_at=now if check == CHECK_PENDING else None,
    ):  # fmt: skip
        return "no referral flow: this customer already has a referral journey"
    journey = _journey_of(session, profile.id)
    assert journey is not None
    for planned in plan_on_paid(settings.referral, started):
        outbox.add_planned(session, shop.id, journey.id, FLOW, planned)
    session.flush()
    _note_waiting(session, journey.id)
    return f"referral journey #{journey.id} started: {AWAITING_FULFILMENT}"


def on_fulfilled(session: Session, shop: Shop, order: OrderRow, settings: ShopSettings, at: datetime) -> str:
    journey = _journey_triggered_by(session, order)
    if journey is None:
        return "no referral journey for this order"
    if journey.status != JourneyStatus.ACTIVE:
        return f"referral journey #{journey.id} is {journey.status}"
    planned = plan_on_fulfilled(settings.referral, journey.abandoned_at, at)
    if not planned:
        return f"referral journey #{journey.id}: fulfilled after the review's deadline; nothing planned"
    existing = {
        (step, channel): (mid, status)
        for mid, step, channel, status in session.execute(
            select(Message.id, Message.step, Message.channel, Message.status).where(Message.journey_id == journey.id)
        )
    }
    for p in planned:
        found = existing.get((p.step.value, p.channel.value))
        if found is None:
            outbox.add_planned(session, shop.id, journey.id, FLOW, p)
        elif found[1] == Status.SCHEDULED:
            outbox.reschedule(session, found[0], p.due_at, "order fulfilled")
    return f"referral journey #{journey.id}: {len(planned)} message(s) planned from the fulfilment"


def on_stopped(session: Session, order: OrderRow, reason: str) -> str:
    """The triggering order was cancelled or fully refunded: pending steps are cancelled. A
    journey that already ended keeps its first reason (a later refund of a cancelled order)."""
    journey = _journey_triggered_by(session, order)
    if journey is None:
        return "no referral journey for this order"
    if journey.status != JourneyStatus.ACTIVE:
        return f"referral journey #{journey.id} is already {journey.status}"
    journey.status, journey.stop_reason = JourneyStatus.STOPPED.value, reason
    cancelled = outbox.cancel_pending(session, journey.shop_id, reason, journey_ids=[journey.id])
    return f"referral journey #{journey.id} stopped ({reason}): {cancelled} pending message(s) cancelled"


def fully_refunded(order: OrderRow) -> bool:
    """The order's refunds so far (orders.refunded_total, every partial refund added) return its total."""
    return order.refunded_total > 0 and order.refunded_total >= order.total_price


def _earlier_paid(session: Session, shop_id: int, order: OrderRow, profile: Profile | None) -> int:
    keys = (
        (OrderRow.customer_id, profile.customer_id if profile else order.customer_id),
        (OrderRow.email, profile.email if profile else order.email),
        (OrderRow.phone, profile.phone if profile else order.phone),
    )
    match = equal_where_given(*keys)
    if not match:
        return 0
    query = select(func.count(OrderRow.id)).where(
        OrderRow.shop_id == shop_id,
        OrderRow.id != order.id,
        OrderRow.financial_status.in_(PAID_STATUSES),
        OrderRow.shopify_created_at < order.shopify_created_at,
        or_(*match),
    )
    return int(session.scalar(query) or 0)


def _journey_of(session: Session, profile_id: int) -> Journey | None:
    return session.scalar(select(Journey).where(Journey.profile_id == profile_id, Journey.flow == FLOW))


def _journey_triggered_by(session: Session, order: OrderRow) -> Journey | None:
    return session.scalar(
        select(Journey).where(
            Journey.shop_id == order.shop_id, Journey.trigger_order_id == order.id, Journey.flow == FLOW
        )
    )


def _note_waiting(session: Session, journey_id: int) -> None:
    for message in session.scalars(select(Message).where(Message.journey_id == journey_id)):
        outbox.reschedule(session, message.id, message.due_at, AWAITING_FULFILMENT)


class CheckClaim(NamedTuple):
    """What a claimed run of the check asks Shopify about."""

    shop_id: int
    customer_id: str


def due_shopify_checks(session: Session, now: datetime, limit: int) -> list[tuple[int, int]]:
    """Pending checks whose next run may start: (journey id, attempts so far), oldest due first."""
    rows = session.execute(
        select(Journey.id, Journey.shopify_check_attempts)
        .where(Journey.shopify_check == CHECK_PENDING, Journey.shopify_check_due_at <= now)
        .order_by(Journey.shopify_check_due_at, Journey.id)
        .limit(limit)
    )
    return [(journey_id, done) for journey_id, done in rows]


def claim_shopify_check(session: Session, journey_id: int, attempt: int, until: datetime) -> CheckClaim | str:
    """Take the check's `attempt`-th run, or say why there is none: the row, not the job, makes
    each attempt run once. No other run is due before `until` (the backoff), even if this one
    dies with its worker; a journey that ended first, or whose profile has no customer id any
    more, has nothing to ask."""
    journey = session.get(Journey, journey_id, with_for_update=True)
    if journey is None or journey.flow != FLOW:
        return f"no referral journey #{journey_id}"
    if journey.shopify_check != CHECK_PENDING:
        return f"referral journey #{journey.id}: Shopify's order count is {journey.shopify_check or 'not asked'}"
    if journey.shopify_check_attempts != attempt - 1:
        return f"referral journey #{journey.id}: attempt {attempt} of Shopify's order count is not the next"
    customer_id = session.scalar(select(Profile.customer_id).where(Profile.id == journey.profile_id))
    if journey.status != JourneyStatus.ACTIVE or not customer_id:
        _settle_check(journey, CHECK_NONE_NEEDED)
        ended = journey.status != JourneyStatus.ACTIVE
        why = f"the journey is {journey.status}" if ended else "no Shopify customer id: our own count stands"
        return f"referral journey #{journey.id}: Shopify's order count is not asked ({why})"
    journey.shopify_check_attempts, journey.shopify_check_due_at = attempt, until
    return CheckClaim(journey.shop_id, customer_id)


def shopify_check_failed(session: Session, journey_id: int, attempt: int, reason: str, next_run: datetime) -> str:
    """The `attempt`-th run broke with attempts left: the next is due at `next_run`, and the note
    says so while the journey goes on."""
    journey = session.get(Journey, journey_id, with_for_update=True)
    if journey is None or journey.shopify_check != CHECK_PENDING or journey.shopify_check_attempts != attempt:
        return f"referral journey #{journey_id}: Shopify's order count moved on; {reason}"
    journey.shopify_check_due_at, journey.note = next_run, f"Shopify's order count: {reason}"
    return f"referral journey #{journey.id}: {journey.note}"


def _settle_check(journey: Journey, state: str, note: str | None = None) -> None:
    journey.shopify_check, journey.shopify_check_due_at, journey.note = state, None, note


def on_shopify_orders(
    session: Session, journey_id: int, shopify_orders: int | None, *, unasked: str | None = None
) -> str:
    """Shopify's numberOfOrders for the journey's customer (this order included), asked after the
    trigger committed (jobs/referral_check.py): more than this order stops the journey and cancels
    its pending messages with the reason. Otherwise it goes on; when our own records decided alone
    (Shopify could not be asked, `unasked` saying why, or knows no such customer: None), the
    journey's note says so for the merchant (stop_reason is only a stopped journey's; the pending
    rows' reasons are their state and stay as they are). Decided once: a check no longer pending,
    or a journey no longer active, is left as it is."""
    journey = session.get(Journey, journey_id, with_for_update=True)
    if journey is None or journey.flow != FLOW:
        return f"no referral journey #{journey_id}"
    if journey.shopify_check != CHECK_PENDING:
        return f"referral journey #{journey.id}: Shopify's order count is already {journey.shopify_check}"
    if journey.status != JourneyStatus.ACTIVE:
        _settle_check(journey, CHECK_NONE_NEEDED)
        return f"referral journey #{journey.id} is already {journey.status}"
    # The rest of the trigger was judged when the journey started; only Shopify's count is new.
    facts = TriggerFacts(test_order=False, origin="captured", earlier_paid_orders=0, shopify_orders=shopify_orders)
    if trigger_refusal(facts) is not None:
        _settle_check(journey, CHECK_DONE)
        reason = f"not a first purchase: Shopify counts {shopify_orders} orders for this customer"
        journey.status, journey.stop_reason = JourneyStatus.STOPPED.value, reason
        cancelled = outbox.cancel_pending(session, journey.shop_id, reason, journey_ids=[journey.id])
        return f"referral journey #{journey.id} stopped ({reason}): {cancelled} pending message(s) cancelled"
    if shopify_orders is not None:
        _settle_check(journey, CHECK_DONE)
        return f"referral journey #{journey.id} goes on: Shopify counts {shopify_orders}, a first purchase"
    unknown = f"could not be asked for the customer's orders ({unasked})" if unasked else "does not know the customer"
    note = f"Shopify {unknown}; our own records count this order as the first purchase"
    _settle_check(journey, CHECK_UNASKED if unasked else CHECK_DONE, note)
    return f"referral journey #{journey.id} goes on: {note}"
