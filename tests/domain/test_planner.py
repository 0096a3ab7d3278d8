"""The Revenue Recovery planner: which messages a checkout's journey should have, and when."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from shop_app.domain.models import RECOVERY_STEPS, Channel, Checkout, Plan, PlannedMessage, Step
from shop_app.domain.planner import address_for, plan
from shop_app.domain.settings import ShopSettings

UPDATED = datetime(2026, 3, 10, 14, 25, tzinfo=UTC)  # the abandonment: last activity
NOW = datetime(2026, 3, 10, 14, 40, tzinfo=UTC)


def settings(**recovery: dict) -> ShopSettings:
    return ShopSettings.from_document({"recovery": recovery}, shop_timezone="Europe/Madrid")


DEFAULTS = settings()


def checkout(**overrides: object) -> Checkout:
    values: dict = {
        "token": "tok-1",
        "updated_at": UPDATED,
        "created_at": UPDATED - timedelta(minutes=10),
        "email": "ana@example.com",
        "phone": "+34600111222",
    }
    values.update(overrides)
    return Checkout(**values)


def triples(result: Plan) -> list[tuple[Step, Channel, datetime]]:
    return [(m.step, m.channel, m.due_at) for m in result.messages]


def test_default_plan_with_email_phone_and_push() -> None:
    result = plan(checkout(), DEFAULTS, NOW, has_push=True)
    assert result.stop_reason is None
    assert triples(result) == [
        (Step.FIRST, Channel.EMAIL, datetime(2026, 3, 10, 15, 25, tzinfo=UTC)),
        (Step.FIRST, Channel.PUSH, datetime(2026, 3, 10, 15, 25, tzinfo=UTC)),
        (Step.WHATSAPP, Channel.WHATSAPP, datetime(2026, 3, 10, 16, 25, tzinfo=UTC)),
        (Step.PRIME, Channel.SMS, datetime(2026, 3, 11, 6, 25, tzinfo=UTC)),
        (Step.PRIME, Channel.WHATSAPP, datetime(2026, 3, 11, 6, 25, tzinfo=UTC)),
    ]
    assert result.notes == ()
    assert all(isinstance(m, PlannedMessage) for m in result.messages)


def test_push_is_planned_only_with_a_push_subscription() -> None:
    result = plan(checkout(), DEFAULTS, NOW)  # has_push defaults to False
    assert (Step.FIRST, Channel.PUSH) not in [(m.step, m.channel) for m in result.messages]
    assert [(m.step, m.channel) for m in result.messages] == [
        (Step.FIRST, Channel.EMAIL),
        (Step.WHATSAPP, Channel.WHATSAPP),
        (Step.PRIME, Channel.SMS),
        (Step.PRIME, Channel.WHATSAPP),
    ]
    assert result.notes == ("first/push: no push subscription",)


def test_delays_count_from_updated_at_not_from_now_or_created_at() -> None:
    early = plan(checkout(), DEFAULTS, UPDATED)
    late = plan(checkout(), DEFAULTS, UPDATED + timedelta(days=2))
    assert triples(early) == triples(late)
    assert early.messages[0].due_at == UPDATED + timedelta(hours=1)


def test_a_later_update_moves_every_step() -> None:
    moved = plan(checkout(updated_at=UPDATED + timedelta(minutes=37)), DEFAULTS, NOW)
    before = plan(checkout(), DEFAULTS, NOW)
    assert [(m.step, m.channel) for m in moved.messages] == [(m.step, m.channel) for m in before.messages]
    shifts = [m.due_at - n.due_at for m, n in zip(moved.messages, before.messages, strict=True)]
    assert shifts == [timedelta(minutes=37)] * 4


def test_due_times_are_aware_and_keep_the_instant_of_a_non_utc_updated_at() -> None:
    plus_two = timezone(timedelta(hours=2))
    result = plan(checkout(updated_at=datetime(2026, 3, 10, 16, 25, tzinfo=plus_two)), DEFAULTS, NOW)
    assert result.messages[0].due_at == datetime(2026, 3, 10, 15, 25, tzinfo=UTC)


def test_merchant_chosen_delays() -> None:
    s = settings(first={"delay_minutes": 15}, whatsapp={"delay_minutes": 360}, prime={"delay_hours": 40})
    result = plan(checkout(), s, NOW)
    assert triples(result) == [
        (Step.FIRST, Channel.EMAIL, datetime(2026, 3, 10, 14, 40, tzinfo=UTC)),
        (Step.WHATSAPP, Channel.WHATSAPP, datetime(2026, 3, 10, 20, 25, tzinfo=UTC)),
        (Step.PRIME, Channel.SMS, datetime(2026, 3, 12, 6, 25, tzinfo=UTC)),
        (Step.PRIME, Channel.WHATSAPP, datetime(2026, 3, 12, 6, 25, tzinfo=UTC)),
    ]


def test_completed_checkout_stops() -> None:
    result = plan(checkout(completed_at=UPDATED + timedelta(minutes=5)), DEFAULTS, NOW, has_push=True)
    assert result.messages == ()
    assert result.stop_reason == "checkout completed"


def test_checkout_without_contact_stops() -> None:
    result = plan(checkout(email=None, phone=None), DEFAULTS, NOW, has_push=True)
    assert result.messages == ()
    assert result.stop_reason is not None and result.stop_reason.startswith("not reachable")


def test_empty_strings_are_no_contact() -> None:
    result = plan(checkout(email="", phone=""), DEFAULTS, NOW)
    assert result.messages == ()
    assert result.stop_reason is not None


def test_phone_less_checkout_plans_email_only() -> None:
    result = plan(checkout(phone=None), DEFAULTS, NOW)
    assert triples(result) == [(Step.FIRST, Channel.EMAIL, UPDATED + timedelta(hours=1))]
    assert result.stop_reason is None
    assert set(result.notes) == {
        "first/push: no push subscription",
        "whatsapp/whatsapp: no phone number",
        "prime/sms: no phone number",
        "prime/whatsapp: no phone number",
    }


def test_email_less_checkout_plans_phone_channels() -> None:
    result = plan(checkout(email=None), DEFAULTS, NOW, has_push=True)
    assert [(m.step, m.channel) for m in result.messages] == [
        (Step.FIRST, Channel.PUSH),
        (Step.WHATSAPP, Channel.WHATSAPP),
        (Step.PRIME, Channel.SMS),
        (Step.PRIME, Channel.WHATSAPP),
    ]
    assert result.notes == ("first/email: no email",)


@pytest.mark.parametrize(
    "recovery, missing",
    [
        ({"first": {"enabled": False}}, Step.FIRST),
        ({"whatsapp": {"enabled": False}}, Step.WHATSAPP),
        ({"prime": {"enabled": False}}, Step.PRIME),
    ],
)
def test_disabled_steps_are_not_planned(recovery: dict, missing: Step) -> None:
    result = plan(checkout(), settings(**recovery), NOW, has_push=True)
    steps = {m.step for m in result.messages}
    assert missing not in steps
    assert steps == set(RECOVERY_STEPS) - {missing}


def test_everything_disabled_stops_with_a_reason() -> None:
    s = settings(first={"enabled": False}, whatsapp={"enabled": False}, prime={"enabled": False})
    result = plan(checkout(), s, NOW, has_push=True)
    assert result.messages == ()
    assert result.stop_reason is not None


def test_no_reachable_step_stops_with_the_reasons() -> None:
    s = settings(whatsapp={"enabled": False}, prime={"enabled": False})
    result = plan(checkout(email=None), s, NOW)  # phone only, but only email/push steps are on
    assert result.messages == ()
    assert (
        result.stop_reason == "no step can reach this customer: first/email: no email; first/push: no push subscription"
    )
    assert result.notes == ("first/email: no email", "first/push: no push subscription")


def test_only_configured_channels_are_planned() -> None:
    s = settings(first={"channels": ["email"]}, prime={"channels": ["sms"]})
    result = plan(checkout(), s, NOW, has_push=True)
    assert [(m.step, m.channel) for m in result.messages] == [
        (Step.FIRST, Channel.EMAIL),
        (Step.WHATSAPP, Channel.WHATSAPP),
        (Step.PRIME, Channel.SMS),
    ]


def test_one_message_per_step_and_channel() -> None:
    result = plan(checkout(), DEFAULTS, NOW, has_push=True)
    keys = [(m.step, m.channel) for m in result.messages]
    assert len(keys) == len(set(keys))


def test_plan_is_deterministic() -> None:
    assert plan(checkout(), DEFAULTS, NOW, has_push=True) == plan(checkout(), DEFAULTS, NOW, has_push=True)


# -- address_for --------------------------------------------------------------------------------


def test_address_for_each_channel() -> None:
    c = checkout()
    assert address_for(Channel.EMAIL, c) == "ana@example.com"
    assert address_for(Channel.SMS, c) == "+34600111222"
    assert address_for(Channel.WHATSAPP, c) == "+34600111222"
    assert address_for(Channel.PUSH, c) is None
    assert address_for(Channel.PUSH, c, has_push=True) == "push:tok-1"


def test_address_for_missing_contact() -> None:
    c = checkout(email=None, phone=None)
    for channel in (Channel.EMAIL, Channel.SMS, Channel.WHATSAPP):
        assert address_for(channel, c) is None


def test_address_for_refuses_a_non_channel() -> None:
    with pytest.raises(ValueError):
        address_for("fax", checkout())  # type: ignore[arg-type]
