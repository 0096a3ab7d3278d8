"""The plan's monthly usage and its enforcement when the planner starts a recovery journey.

The rule is domain/plan_limits.py's; here it meets the database. `refusal` is asked once, when a
checkout's journey is created (recovery/journeys.replan): under a limited plan it locks the shop's
row first (FOR NO KEY UPDATE), so two ingest jobs of one shop cannot both take the last journey of
the month (tests/billing/test_limit_race.py), then counts the journeys started this month and not
refused (ix_journeys_shop_flow_started). A refused journey is still recorded: `refuse` skips each of
its planned messages with the reason and stops the journey with it, so /activity shows why nothing
was sent, and a later update of its checkout does not restart it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from shop_app.billing.subscriptions import shop_entitlement
from shop_app.domain.models import JourneyStatus, Status
from shop_app.domain.plan_limits import allows_new_journey, refusal_reason, usage_month
from shop_app.recovery import outbox
from shop_app.storage.tables import Journey, Message, Shop

RECOVERY = "recovery"


def journeys_used(session: Session, shop_id: int, now: datetime) -> int:
    """Recovery journeys started in `now`'s month (UTC) and not refused by the plan."""
    start, end = usage_month(now)
    used = session.scalar(
        select(func.count())
        .select_from(Journey)
        .where(
            Journey.shop_id == shop_id,
            Journey.flow == RECOVERY,
            Journey.started_at >= start,
            Journey.started_at < end,
            Journey.plan_limited.is_(False),
        )
    )
    return used or 0


def refusal(session: Session, shop: Shop, now: datetime) -> str | None:
    """Why a new recovery journey of this shop gets no message this month, or None when it fits."""
    granted = shop_entitlement(session, shop.id)
    if not granted.limited:
        return None
    # FOR NO KEY UPDATE: it serializes the shop's refusals, yet leaves the FOR KEY SHARE that every
    # insert referencing the shop takes (this ingest's checkout, the other's) alone: FOR UPDATE
    # would deadlock two ingests that each inserted their checkout already.
    session.execute(select(Shop.id).where(Shop.id == shop.id).with_for_update(key_share=True))
    if allows_new_journey(granted, journeys_used(session, shop.id, now)):
        return None
    return refusal_reason(granted, now)


def refuse(session: Session, journey: Journey, reason: str) -> str:
    """Skip the journey's planned messages with `reason` and stop it: recorded, never sent."""
    session.flush()
    scheduled = select(Message.id).where(Message.journey_id == journey.id, Message.status == Status.SCHEDULED.value)
    skipped = sum(
        outbox.transition(session, message_id, [Status.SCHEDULED], Status.SKIPPED, reason=reason)
        for message_id in session.scalars(scheduled).all()
    )
    # Not reachable: it is messaged by nobody, so the report counts it neither treated nor control.
    session.execute(update(Journey).where(Journey.id == journey.id).values(reached=False, first_due_at=None))
    journey.plan_limited = True
    journey.status, journey.stop_reason = JourneyStatus.STOPPED.value, reason
    return f"{reason} ({skipped} message(s) skipped)"
