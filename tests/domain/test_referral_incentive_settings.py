"""The review's and social's optional incentive in the `referral` section (issue 11, point 3): null by
default, {"percent": 1-50, "expiry_days": 1-365 (default 30)} when set; every bad value is a FieldError."""

from __future__ import annotations

from decimal import Decimal

import pytest

from shop_app.domain.models import Step
from shop_app.domain.referral_settings import StepIncentive
from shop_app.domain.settings import ShopSettings
from shop_app.domain.validation import ValidationError


def _read(referral: dict) -> ShopSettings:
    return ShopSettings.from_document({"referral": referral}, shop_timezone="UTC")


def test_no_step_has_an_incentive_by_default_and_the_document_says_null() -> None:
    settings = ShopSettings.defaults("UTC")
    assert all(settings.referral.step(s).incentive is None for s in (Step.REVIEW, Step.SOCIAL, Step.INVITE))
    doc = settings.to_document()["referral"]
    assert doc["review"]["incentive"] is None and doc["social"]["incentive"] is None
    assert "incentive" not in doc["invite"]


def test_an_incentive_round_trips_with_its_default_expiry() -> None:
    settings = _read(
        {"review": {"incentive": {"percent": 15}}, "social": {"incentive": {"percent": 7.5, "expiry_days": 365}}}
    )
    assert settings.referral.review.incentive == StepIncentive(Decimal("15"), 30)
    assert settings.referral.social.incentive == StepIncentive(Decimal("7.5"), 365)
    assert ShopSettings.from_document(settings.to_document(), shop_timezone="UTC") == settings
    assert _read({"review": {"incentive": None}}).referral.review.incentive is None


@pytest.mark.parametrize(
    ("incentive", "fields"),
    [
        ({"percent": 51}, ["referral.review.incentive.percent"]),
        ({"percent": 0.5}, ["referral.review.incentive.percent"]),
        ({"percent": 10.125}, ["referral.review.incentive.percent"]),
        ({"percent": "ten"}, ["referral.review.incentive.percent"]),
        ({"percent": True}, ["referral.review.incentive.percent"]),
        ({}, ["referral.review.incentive.percent"]),
        ({"percent": 10, "expiry_days": 366}, ["referral.review.incentive.expiry_days"]),
        ({"percent": 10, "expiry_days": 1.5}, ["referral.review.incentive.expiry_days"]),
        ({"percent": 10, "kind": "fixed"}, ["referral.review.incentive.kind"]),
        (15, ["referral.review.incentive"]),
        ([], ["referral.review.incentive"]),
    ],
)
def test_a_bad_incentive_names_its_field(incentive: object, fields: list[str]) -> None:
    with pytest.raises(ValidationError) as refused:
        _read({"review": {"incentive": incentive}})
    assert sorted(e.field for e in refused.value.errors) == fields


def test_the_invite_and_reward_take_no_incentive_key() -> None:
    with pytest.raises(ValidationError) as refused:
        _read({"invite": {"incentive": {"percent": 10}}, "reward": {"incentive": {"percent": 10}}})
    assert sorted(e.field for e in refused.value.errors) == ["referral.invite.incentive", "referral.reward.incentive"]
