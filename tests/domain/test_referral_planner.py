"""The referral planner (issue 11): who starts a journey, and when each step is due."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shop_app.domain.models import Channel, Step
from shop_app.domain.referral import (
    TriggerFacts,
    plan_on_fulfilled,
    plan_on_paid,
    trigger_refusal,
)
from shop_app.domain.settings import ShopSettings

PAID = datetime(2026, 3, 2, 18, 0, tzinfo=UTC)
DEFAULTS = ShopSettings.defaults("UTC").referral


def test_a_captured_first_time_buyer_starts_a_journey() -> None:
    assert trigger_refusal(TriggerFacts(test_order=False, origin="captured", earlier_paid_orders=0)) is None


@pytest.mark.parametrize(
    "facts, words",
    [
        (TriggerFacts(test_order=True, origin="captured", earlier_paid_orders=0), "test order"),
        (TriggerFacts(test_order=False, origin="imported", earlier_paid_orders=0), "imported"),
        (TriggerFacts(test_order=False, origin="captured", earlier_paid_orders=1), "repeat order"),
        (TriggerFacts(test_order=False, origin="captured", earlier_paid_orders=0, shopify_orders=3), "repeat"),
        (TriggerFacts(test_order=False, origin="captured", earlier_paid_orders=0, journey_exists=True), "already"),
        (TriggerFacts(test_order=False, origin=None, earlier_paid_orders=0), "contact"),
        (TriggerFacts(test_order=False, origin="captured", earlier_paid_orders=0, flow_enabled=False), "off"),
    ],
)
def test_every_refusal_says_why(facts: TriggerFacts, words: str) -> None:
    reason = trigger_refusal(facts)
    assert reason is not None and words in reason


def test_the_review_waits_for_the_fulfilment_until_the_deadline() -> None:
    (row,) = plan_on_paid(DEFAULTS, PAID)
    assert (row.step, row.channel, row.due_at) == (Step.REVIEW, Channel.EMAIL, PAID + timedelta(days=30))


def test_the_cadence_counts_from_the_fulfilment() -> None:
    fulfilled = PAID + timedelta(days=1)
    due = {p.step: p.due_at for p in plan_on_fulfilled(DEFAULTS, PAID, fulfilled)}
    assert due == {
        Step.REVIEW: fulfilled + timedelta(days=3),
        Step.SOCIAL: fulfilled + timedelta(days=5),
        Step.INVITE: fulfilled + timedelta(days=7),
    }


def test_a_fulfilment_after_30_days_plans_nothing() -> None:
    assert plan_on_fulfilled(DEFAULTS, PAID, PAID + timedelta(days=31)) == ()


def test_disabled_steps_and_extra_channels() -> None:
    doc = {"referral": {"social": {"enabled": False}, "invite": {"channels": ["email", "sms"]}}}
    referral = ShopSettings.from_document(doc, shop_timezone="UTC").referral
    planned = {(p.step, p.channel) for p in plan_on_fulfilled(referral, PAID, PAID)}
    assert planned == {(Step.REVIEW, Channel.EMAIL), (Step.INVITE, Channel.EMAIL), (Step.INVITE, Channel.SMS)}
