"""The `referral` section of a shop's settings document (issue 11): the Referral Generation Flow.

On by default (the seed: the flow starts by itself after a new profile's first purchase). Each
step has `enabled`, `channels` (default email) and a `delay` ({"value": n, "unit": "hours" |
"days"}): review counts from the order's fulfilment, social from review, invite from social.
The friend's code and the advocate's reward are percentages; rewards are capped per advocate per
30 days. Read by `read_referral` with the settings reader, so every problem is a FieldError.
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
class ReferralStep:
    enabled: bool = True
    channels: tuple[Channel, ...] = (Channel.EMAIL,)
    delay: Delay = Delay(2)


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

        return {
            "enabled": self.enabled,
            "review": step_doc(self.review),
            "social": step_doc(self.social),
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
    review = _step(reader, doc.get("review", {}), "referral.review", defaults.review, set())
    social = _step(reader, doc.get("social", {}), "referral.social", defaults.social, set())
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
    )


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
