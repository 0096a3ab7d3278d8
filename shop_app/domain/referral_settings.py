"""The `referral` section of a shop's settings document (issue 11): the Referral Generation Flow.

On by default (the seed: the flow starts by itself after a new profile's first purchase). Each
step has `enabled`, `channels` (default email) and a `delay` ({"value": n, "unit": "hours" |
"days"}): review counts from the order's fulfilment, social from review, invite from social.
The friend's code and the advocate's reward are percentages; rewards are capped per advocate per
30 days. `review` and `social` may carry an `incentive` (null, the default, is none): a thank-you
{"percent": 1-50, "expiry_days": 1-365}, a unique single-use code made for the advocate when the
step is sent (referral/codes.py). Read by `read_referral` with the settings reader, so every
problem is a FieldError.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from shop_app.domain.models import Channel, Step

REFERRAL_CHANNELS = (Channel.EMAIL, Channel.SMS, Channel.WHATSAPP, Channel.PUSH)
DELAY_UNITS = ("hours", "days")
MAX_DELAY_HOURS = 90 * 24
#: Not fulfilled this long after the order was paid: the review step is skipped.
FULFILMENT_WAIT_DAYS = 30
DEFAULT_FRIEND_PERCENT = Decimal("10")
DEFAULT_REWARD_PERCENT = Decimal("10")
DEFAULT_REWARD_DAYS = 60
DEFAULT_MAX_REWARDS = 10
#: A review or social step's thank-you code: its percentage and how many days it stays valid.
INCENTIVE_PERCENT_RANGE = (Decimal(1), Decimal(50))
INCENTIVE_DAYS_RANGE = (1, 365)
DEFAULT_INCENTIVE_DAYS = 30


@dataclass(frozen=True)
class Delay:
    value: int
    unit: str = "days"

    @property
    def span(self) -> timedelta:
        return timedelta(hours=self.value) if self.unit == "hours" else timedelta(days=self.value)

    def to_document(self) -> dict[str, Any]:
        return {"value": self.value, "unit": self.unit}


@dataclass(frozen=True)
class StepIncentive:
    """A unique, single-use code for the advocate: `percent` off, valid `expiry_days` from its making."""

    percent: Decimal
    expiry_days: int = DEFAULT_INCENTIVE_DAYS

    def to_document(self) -> dict[str, Any]:
        return {"percent": float(self.percent), "expiry_days": self.expiry_days}


@dataclass(frozen=True)
class ReferralStep:
    enabled: bool = True
    channels: tuple[Channel, ...] = (Channel.EMAIL,)
    delay: Delay = Delay(2)
    incentive: StepIncentive | None = None  # review and social only


@dataclass(frozen=True)
class ReferralSettings:
    enabled: bool = True
    review: ReferralStep = ReferralStep(delay=Delay(3))
    social: ReferralStep = ReferralStep()
    invite: ReferralStep = ReferralStep()
    reward_enabled: bool = True
    friend_percent: Decimal = DEFAULT_FRIEND_PERCENT
    reward_percent: Decimal = DEFAULT_REWARD_PERCENT
    reward_days: int = DEFAULT_REWARD_DAYS
    max_rewards_per_30_days: int = DEFAULT_MAX_REWARDS

    def step(self, step: Step) -> ReferralStep:
        return {Step.REVIEW: self.review, Step.SOCIAL: self.social, Step.INVITE: self.invite}[step]

    def to_document(self) -> dict[str, Any]:
        def step_doc(s: ReferralStep) -> dict[str, Any]:
            return {"enabled": s.enabled, "channels": [c.value for c in s.channels], "delay": s.delay.to_document()}

        def with_incentive(s: ReferralStep) -> dict[str, Any]:
            return {**step_doc(s), "incentive": s.incentive.to_document() if s.incentive else None}

        return {
            "enabled": self.enabled,
            "review": with_incentive(self.review),
            "social": with_incentive(self.social),
            "invite": {**step_doc(self.invite), "friend_percent": float(self.friend_percent)},
            "reward": {
                "enabled": self.reward_enabled,
                "percent": float(self.reward_percent),
                "expiry_days": self.reward_days,
                "max_per_30_days": self.max_rewards_per_30_days,
            },
        }


_STEP_KEYS = {"enabled", "channels", "delay"}


def read_referral(reader: Any, value: Any) -> ReferralSettings:
    """The section from loose JSON; `reader` is shop_app.domain.settings' reader (FieldErrors)."""
    if value is None:
        return ReferralSettings()
    doc = reader.obj(value, "referral")
    reader.no_extra(doc, "referral", {"enabled", "review", "social", "invite", "reward"})
    defaults = ReferralSettings()
    # Only review and social take an incentive: the invite's code and the reward are incentives already.
    review = _step(reader, doc.get("review", {}), "referral.review", defaults.review, {"incentive"})
    social = _step(reader, doc.get("social", {}), "referral.social", defaults.social, {"incentive"})
    i = reader.obj(doc.get("invite", {}), "referral.invite")  # a non-object is an error and reads as {}
    invite = _step(reader, i, "referral.invite", defaults.invite, {"friend_percent"})
    friend = _percent(reader, i, "friend_percent", "referral.invite", DEFAULT_FRIEND_PERCENT)
    r = reader.obj(doc.get("reward", {}), "referral.reward")
    reader.no_extra(r, "referral.reward", {"enabled", "percent", "expiry_days", "max_per_30_days"})
    return ReferralSettings(
        enabled=reader.boolean(doc, "enabled", "referral", True),
        review=review,
        social=social,
        invite=invite,
        reward_enabled=reader.boolean(r, "enabled", "referral.reward", True),
        friend_percent=friend,
        reward_percent=_percent(reader, r, "percent", "referral.reward", DEFAULT_REWARD_PERCENT),
        reward_days=reader.integer(r, "expiry_days", "referral.reward", DEFAULT_REWARD_DAYS, 1, 365),
        max_rewards_per_30_days=reader.integer(r, "max_per_30_days", "referral.reward", DEFAULT_MAX_REWARDS, 0, 1000),
    )


def _step(reader: Any, value: Any, where: str, default: ReferralStep, extra: set[str]) -> ReferralStep:
    doc = reader.obj(value, where)
    reader.no_extra(doc, where, _STEP_KEYS | extra)
    return ReferralStep(
        enabled=reader.boolean(doc, "enabled", where, default.enabled),
        channels=reader.channels(doc, "channels", where, default.channels, REFERRAL_CHANNELS),
        delay=_delay(reader, doc.get("delay"), f"{where}.delay", default.delay),
        incentive=_incentive(reader, doc.get("incentive"), f"{where}.incentive") if "incentive" in extra else None,
    )


def _incentive(reader: Any, value: Any, where: str) -> StepIncentive | None:
    """null (or absent): no incentive; else {"percent": 1-50, "expiry_days": 1-365 (default 30)}."""
    if value is None:
        return None
    doc = reader.obj(value, where)
    reader.no_extra(doc, where, {"percent", "expiry_days"})
    low, high = INCENTIVE_PERCENT_RANGE
    days = reader.integer(doc, "expiry_days", where, DEFAULT_INCENTIVE_DAYS, *INCENTIVE_DAYS_RANGE)
    if not isinstance(value, dict):  # refused by reader.obj
        return None
    if "percent" not in doc:
        reader.fail(f"{where}.percent", f"is required: a percentage from {low} to {high}")
        return None
    percent = reader._amount(doc["percent"], f"{where}.percent", "percentage")
    if percent is None:
        return None
    if not low <= percent <= high or percent != percent.quantize(Decimal("0.01")):
        reader.fail(f"{where}.percent", f"must be from {low} to {high}, with at most two decimals")
        return None
    return StepIncentive(percent, days)


def _delay(reader: Any, value: Any, where: str, default: Delay) -> Delay:
    if value is None:
        return default
    doc = reader.obj(value, where)
    reader.no_extra(doc, where, {"value", "unit"})
    unit = reader.choice(doc, "unit", where, default.unit, DELAY_UNITS)
    high = MAX_DELAY_HOURS if unit == "hours" else MAX_DELAY_HOURS // 24
    return Delay(reader.integer(doc, "value", where, default.value, 1 if unit == "hours" else 0, high), unit)


def _percent(reader: Any, doc: dict[str, Any], key: str, where: str, default: Decimal) -> Decimal:
    if key not in doc:
        return default
    amount = reader._amount(doc[key], f"{where}.{key}", "percentage")
    return default if amount is None else amount
