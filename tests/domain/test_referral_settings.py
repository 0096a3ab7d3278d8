"""The settings document's `referral` section (issue 11): on by default, validated field by field."""

from __future__ import annotations

from decimal import Decimal

import pytest

from shop_app.domain.models import Channel, Step
from shop_app.domain.settings import ShopSettings
from shop_app.domain.validation import ValidationError


def test_the_flow_is_on_by_default_with_the_products_cadence() -> None:
    referral = ShopSettings.defaults("UTC").referral
    assert referral.enabled
    assert referral.step(Step.REVIEW).delay.span.days == 3
    assert referral.step(Step.SOCIAL).delay.span.days == 2
    assert referral.step(Step.INVITE).delay.span.days == 2
    assert all(referral.step(s).channels == (Channel.EMAIL,) for s in (Step.REVIEW, Step.SOCIAL, Step.INVITE))
    assert (referral.friend_percent, referral.reward_percent) == (Decimal("10"), Decimal("10"))
    assert (referral.reward_days, referral.max_rewards_per_30_days) == (60, 10)


def test_the_section_round_trips_through_the_document() -> None:
    doc = {
        "referral": {
            "review": {"channels": ["email", "sms"], "delay": {"value": 36, "unit": "hours"}},
            "invite": {"enabled": False, "friend_percent": 15},
            "reward": {"percent": 20, "expiry_days": 30, "max_per_30_days": 3},
        }
    }
    settings = ShopSettings.from_document(doc, shop_timezone="UTC")
    assert settings.referral.review.channels == (Channel.EMAIL, Channel.SMS)
    assert settings.referral.review.delay.span.total_seconds() == 36 * 3600
    assert not settings.referral.invite.enabled
    again = ShopSettings.from_document(settings.to_document(), shop_timezone="UTC")
    assert again == settings


def test_every_bad_field_is_listed() -> None:
    doc = {
        "referral": {
            "enabled": "yes",
            "review": {"channels": ["fax"], "delay": {"value": -1, "unit": "weeks"}},
            "invite": {"friend_percent": 150},
            "reward": {"expiry_days": 0, "max_per_30_days": "many", "colour": "red"},
            "extra": 1,
        }
    }
    with pytest.raises(ValidationError) as caught:
        ShopSettings.from_document(doc, shop_timezone="UTC")
    fields = {e.field for e in caught.value.errors}
    assert fields >= {
        "referral.enabled",
        "referral.review.channels",
        "referral.review.delay.unit",
        "referral.invite.friend_percent",
        "referral.reward.expiry_days",
        "referral.reward.max_per_30_days",
        "referral.reward.colour",
        "referral.extra",
    }


@pytest.mark.parametrize("invite", [[], "10%", 5, True])
def test_an_invite_that_is_not_an_object_is_a_field_error_not_a_crash(invite: object) -> None:
    """Found by the admin API fuzz: a list or text in place of the invite object raised TypeError (a 500)."""
    with pytest.raises(ValidationError) as refused:
        ShopSettings.from_document({"referral": {"invite": invite}}, shop_timezone="UTC")
    assert [e.field for e in refused.value.errors] == ["referral.invite"]
