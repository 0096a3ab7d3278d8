"""/flows' Referral Generation card: the flow on or off, each step's channels and timing (the settings'
`referral` section), and the last days' results (shop_app/reporting/referral.py)."""

from __future__ import annotations

from dataclasses import dataclass

from shop_app.domain.models import Channel
from shop_app.domain.referral_settings import Delay, ReferralSettings
from shop_app.domain.settings import CHANNEL_NAMES
from shop_app.reporting.present import Line, referral_lines
from shop_app.reporting.referral import ReferralResults

STEP_NAMES = {
    "review": "Thank-you and review request",
    "social": "Social mention",
    "invite": "Invite friends (personal code and link)",
    "reward": "Advocate reward",
}


@dataclass(frozen=True)
class ReferralStepRow:
    step: str
    name: str
    enabled: bool
    channels: str
    timing: str


@dataclass(frozen=True)
class ReferralCard:
    enabled: bool
    steps: tuple[ReferralStepRow, ...]
    results: tuple[Line, ...]


def delay_text(delay: Delay) -> str:
    """3 days, 1 day, 12 hours."""
    unit = {"hours": "hour", "days": "day"}.get(delay.unit, delay.unit)
    return f"{delay.value} {unit}{'' if delay.value == 1 else 's'}"


def _channels(channels: tuple[Channel, ...]) -> str:
    return ", ".join(CHANNEL_NAMES[c][:1].upper() + CHANNEL_NAMES[c][1:] for c in channels)


def referral_card(settings: ReferralSettings, results: ReferralResults) -> ReferralCard:
    review, social, invite = settings.review, settings.social, settings.invite
    steps = (
        ReferralStepRow("review", STEP_NAMES["review"], review.enabled, _channels(review.channels),
                        f"{delay_text(review.delay)} after the order is fulfilled"),
        ReferralStepRow("social", STEP_NAMES["social"], social.enabled, _channels(social.channels),
                        f"{delay_text(social.delay)} after the review request"),
        ReferralStepRow("invite", STEP_NAMES["invite"], invite.enabled, _channels(invite.channels),
                        f"{delay_text(invite.delay)} after the social mention"),
        ReferralStepRow("reward", STEP_NAMES["reward"], settings.reward_enabled, "The invite's channel",
                        "When a friend's first order with the code is paid, inside delivery windows"),
    )  # fmt: skip
    return ReferralCard(settings.enabled, steps, tuple(referral_lines(results)))
