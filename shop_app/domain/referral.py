"""The Referral Generation Flow's planning, pure (issue 11).

`trigger_refusal` says why a paid order starts no referral journey (None: it starts one).
`plan_on_paid` gives the rows a new journey starts with: the review, due at the fulfilment
deadline and waiting for the fulfilment (`AWAITING_FULFILMENT`). `plan_on_fulfilled` gives every
step's time once the order is fulfilled: review 3 days after fulfilment, social 2 days after
review, invite 2 days after social (the merchant's cadence); a fulfilment after the deadline
plans nothing and the review is skipped (`NOT_FULFILLED`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from shop_app.domain.models import PlannedMessage, Step
from shop_app.domain.referral_settings import FULFILMENT_WAIT_DAYS, ReferralSettings

AWAITING_FULFILMENT = "waiting for the order's fulfilment (review 3 days after it)"
NOT_FULFILLED = f"skipped: the order was not fulfilled within {FULFILMENT_WAIT_DAYS} days"
PLANNED_STEPS = (Step.REVIEW, Step.SOCIAL, Step.INVITE)


@dataclass(frozen=True)
class TriggerFacts:
    """What the order webhook and our records say about a paid order and its buyer."""

    test_order: bool
    origin: str | None  # the profile's origin; None: no profile (no contact details)
    earlier_paid_orders: int  # ours, before this one
    shopify_orders: int | None = None  # Shopify's numberOfOrders for the customer, when asked
    journey_exists: bool = False
    flow_enabled: bool = True


def trigger_refusal(facts: TriggerFacts) -> str | None:
    """Why this paid order starts no referral journey, as the merchant reads it; None: it starts one."""
    if not facts.flow_enabled:
        return "no referral flow: the flow is turned off in the settings"
    if facts.test_order:
        return "no referral flow: a test order"
    if facts.origin is None:
        return "no referral flow: the order has no contact details"
    if facts.origin != "captured":
        return "no referral flow: the customer was imported, not captured by the store"
    if facts.journey_exists:
        return "no referral flow: this customer already has a referral journey"
    if facts.earlier_paid_orders > 0 or (facts.shopify_orders or 0) > 1:
        return "no referral flow: a repeat order (the customer had ordered before)"
    return None


def fulfilment_deadline(paid_at: datetime) -> datetime:
    return paid_at + timedelta(days=FULFILMENT_WAIT_DAYS)


def plan_on_paid(settings: ReferralSettings, paid_at: datetime) -> tuple[PlannedMessage, ...]:
    """The rows a new journey starts with: its review, waiting for the fulfilment until the deadline
    (or, with the review off, the first enabled step, waiting the same way)."""
    first = next((s for s in PLANNED_STEPS if settings.step(s).enabled), None)
    if first is None:
        return ()
    return tuple(
        PlannedMessage(first, channel, fulfilment_deadline(paid_at)) for channel in settings.step(first).channels
    )


def step_times(settings: ReferralSettings, fulfilled_at: datetime) -> dict[Step, datetime]:
    """When each step is due, counted from the fulfilment; a disabled step keeps its place in the
    cadence (the next counts from where it would have been)."""
    times: dict[Step, datetime] = {}
    at = fulfilled_at
    for step in PLANNED_STEPS:
        at = at + settings.step(step).delay.span
        times[step] = at
    return times


def plan_on_fulfilled(
    settings: ReferralSettings, paid_at: datetime, fulfilled_at: datetime
) -> tuple[PlannedMessage, ...]:
    """Every enabled step's rows once the order is fulfilled; none when it came after the deadline."""
    if fulfilled_at > fulfilment_deadline(paid_at):
        return ()
    times = step_times(settings, fulfilled_at)
    return tuple(
        PlannedMessage(step, channel, times[step])
        for step in PLANNED_STEPS
        if settings.step(step).enabled
        for channel in settings.step(step).channels
    )
