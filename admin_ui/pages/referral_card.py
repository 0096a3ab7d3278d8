"""/flows' Referral Generation card: the flow on or off, each step's channels and timing (the settings'
`referral` section), the last days' results (shop_app/reporting/referral.py), and what the flow made
of the latest paid orders: the journey each started, or why it started none (orders.referral_note,
written by referral/journeys.start_on_paid; issue 11 point 2 wants those reasons where a merchant
reads them)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from shop_app.domain.models import Channel
from shop_app.domain.referral_settings import Delay, ReferralSettings
from shop_app.domain.settings import CHANNEL_NAMES
from shop_app.reporting.present import Line, referral_lines
from shop_app.reporting.referral import ReferralResults
from shop_app.storage.tables import Journey, OrderRow, Shop

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
class PaidOrderRow:
    """A paid order and what the referral flow made of it; `journey_id` is the journey it started."""

    order: str
    date: str
    note: str
    journey_id: int | None


@dataclass(frozen=True)
class ReferralCard:
    enabled: bool
    steps: tuple[ReferralStepRow, ...]
    results: tuple[Line, ...]
    paid_orders: tuple[PaidOrderRow, ...] = ()


#: How many of the latest paid orders the card lists.
PAID_ORDERS = 10


def latest_paid_orders(session: Session, shop: Shop, limit: int = PAID_ORDERS) -> tuple[PaidOrderRow, ...]:
    """This shop's newest orders the referral flow judged (paid since orders.referral_note exists),
    newest first, each with the journey it started if any (ix_orders_shop_created walked backwards;
    the journey by ix_journeys_shop_trigger_order)."""
    started = and_(Journey.shop_id == shop.id, Journey.trigger_order_id == OrderRow.id, Journey.flow == "referral")
    rows = session.execute(
        select(OrderRow.name, OrderRow.shopify_id, OrderRow.shopify_created_at, OrderRow.referral_note, Journey.id)
        .outerjoin(Journey, started)
        .where(OrderRow.shop_id == shop.id, OrderRow.referral_note.is_not(None))
        .order_by(OrderRow.shopify_created_at.desc(), OrderRow.id.desc())
        .limit(limit)
    )
    zone = _zone(shop.timezone)
    return tuple(
        PaidOrderRow(name or f"Order {shopify_id}", _date(at, zone), note or "", journey_id)
        for name, shopify_id, at, note, journey_id in rows
    )


def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _date(moment: datetime, zone: ZoneInfo) -> str:
    """The order's time in the shop's time zone, as /activity shows times."""
    local = moment.astimezone(zone)
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"


def delay_text(delay: Delay) -> str:
    """3 days, 1 day, 12 hours."""
    unit = {"hours": "hour", "days": "day"}.get(delay.unit, delay.unit)
    return f"{delay.value} {unit}{'' if delay.value == 1 else 's'}"


def _channels(channels: tuple[Channel, ...]) -> str:
    return ", ".join(CHANNEL_NAMES[c][:1].upper() + CHANNEL_NAMES[c][1:] for c in channels)


def referral_card(
    settings: ReferralSettings, results: ReferralResults, paid_orders: tuple[PaidOrderRow, ...] = ()
) -> ReferralCard:
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
    return ReferralCard(settings.enabled, steps, tuple(referral_lines(results)), paid_orders)
