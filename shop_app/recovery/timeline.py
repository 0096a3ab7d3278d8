"""One journey's timeline for the admin: its checkout (a referral journey's triggering order, advocate
and rewards), and every message — planned, postponed or rescheduled, sent, skipped, cancelled, failed —
with its reason, then what the provider and the customer did with it (delivered, opened, bounced,
clicked), in time order. The profile's origin (captured or imported, issue 11) is shown with it.

The outbox keeps each message's current state, not a log of every move, so the timeline is read
from it: when the row was planned, the latest postponement (a pending row with a reason), when it
was sent, and its final state with the reason; the message events add the provider's and the
customer's side. Every query is scoped by the shop: another shop's journey is None.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from shop_app.domain.models import PENDING, Status
from shop_app.recovery.activity import FLOW_NAMES, origin_of
from shop_app.storage.referral_tables import ReferralAdvocate, ReferralReward
from shop_app.storage.tables import CheckoutRow, Discount, Journey, Message, MessageEvent, OrderRow, Profile

#: The steps as the merchant knows them.
STEP_NAMES = {
    "first": "First stimulus",
    "whatsapp": "WhatsApp",
    "prime": "Prime (second stimulus)",
    "review": "Review request",
    "social": "Social mention",
    "invite": "Invite friends",
    "reward": "Advocate reward",
}
CHANNEL_NAMES = {"email": "Email", "push": "Browser push", "sms": "SMS", "whatsapp": "WhatsApp"}
_PENDING = {s.value for s in PENDING}
_ENDED = {Status.SKIPPED.value, Status.CANCELLED.value, Status.FAILED.value, Status.UNKNOWN.value}


@dataclass(frozen=True)
class Entry:
    """One line of the timeline."""

    at: datetime
    what: str  # planned | postponed | sent | skipped | cancelled | failed | unknown | an event name
    message_id: int
    label: str  # "First stimulus · Email"
    detail: str | None = None
    due: datetime | None = None  # when a planned or postponed message is (now) due


@dataclass(frozen=True)
class MessageSummary:
    id: int
    label: str
    step: str
    channel: str
    status: str
    due_at: datetime
    sent_at: datetime | None
    reason: str | None
    delivery_status: str | None
    delivery_detail: str | None
    clicks: int


@dataclass(frozen=True)
class RewardLine:
    """One decision on a friend's order that used the advocate's code: issued, refused, cancelled."""

    friend_order: str
    status: str
    reason: str | None
    reward_code: str | None
    at: datetime


@dataclass(frozen=True)
class JourneyTimeline:
    journey: Journey
    checkout: CheckoutRow | None  # None for a referral journey
    flow_name: str
    messages: list[MessageSummary]
    entries: list[Entry]
    discounts: list[Discount] = field(default_factory=list)
    order: OrderRow | None = None  # a referral journey's triggering order
    profile: Profile | None = None  # the advocate, or the profile the checkout captured
    origin: str | None = None  # "captured (checkout)", "imported"
    referral_code: str | None = None  # the advocate's personal code, once Shopify made it
    rewards: list[RewardLine] = field(default_factory=list)


def label(step: str, channel: str) -> str:
    return f"{STEP_NAMES.get(step, step)} · {CHANNEL_NAMES.get(channel, channel)}"


def journey_timeline(session: Session, shop_id: int, journey_id: int) -> JourneyTimeline | None:
    """The journey of this shop with its timeline; None when it is not this shop's (or none)."""
    found = session.execute(
        select(Journey, CheckoutRow, OrderRow)
        .outerjoin(CheckoutRow, CheckoutRow.id == Journey.checkout_id)
        .outerjoin(OrderRow, OrderRow.id == Journey.trigger_order_id)
        .where(Journey.id == journey_id, Journey.shop_id == shop_id)
    ).first()
    if found is None:
        return None
    journey, checkout, order = found
    messages, events, discounts = _journey_rows(session, shop_id, journey.id)
    clicks = {e.message_id: _clicks(e) for e in events if e.event == "clicked"}
    entries = [entry for m in messages for entry in _message_entries(m)]
    by_id = {m.id: m for m in messages}
    entries += [_event_entry(e, by_id[e.message_id]) for e in events if e.message_id in by_id]
    entries.sort(key=lambda e: (e.at, e.message_id))
    profile_id = journey.profile_id or (checkout.profile_id if checkout is not None else None)
    profile = session.get(Profile, profile_id) if profile_id else None
    profile = profile if profile is not None and profile.shop_id == shop_id else None
    advocate = (  # one per shop and profile (its unique index): a referral journey's advocate
        session.scalar(
            select(ReferralAdvocate).where(
                ReferralAdvocate.shop_id == shop_id, ReferralAdvocate.profile_id == journey.profile_id
            )
        )
        if journey.profile_id is not None
        else None
    )
    return JourneyTimeline(
        journey=journey,
        checkout=checkout,
        flow_name=FLOW_NAMES.get(journey.flow, journey.flow),
        messages=[_summary(m, clicks.get(m.id, 0)) for m in messages],
        entries=entries,
        discounts=discounts,
        order=order,
        profile=profile,
        origin=origin_of(profile),
        referral_code=advocate.code if advocate is not None else None,
        rewards=_rewards(session, shop_id, advocate.id) if advocate is not None else [],
    )


def _journey_rows(
    session: Session, shop_id: int, journey_id: int
) -> tuple[list[Message], list[MessageEvent], list[Discount]]:
    """The journey's messages (in due order), their events (in time order) and its discounts.

    They are read through the journey, which is this shop's: filtering them by their own shop_id too
    lets SQLite (no statistics) walk the shop's whole (shop_id, …) index instead of the journey's few
    rows (90 ms with 100,000 messages, bench/admin_pages.py; tests/recovery/test_timeline_plans.py)."""
    mine = and_(Journey.id == journey_id, Journey.shop_id == shop_id)
    messages = session.scalars(
        select(Message).join(Journey, Journey.id == Message.journey_id).where(mine).order_by(Message.due_at, Message.id)
    )
    events = session.scalars(
        select(MessageEvent)
        .join(Message, Message.id == MessageEvent.message_id)
        .join(Journey, Journey.id == Message.journey_id)
        .where(mine)
        .order_by(MessageEvent.created_at, MessageEvent.id)
    )
    discounts = session.scalars(select(Discount).join(Journey, Journey.id == Discount.journey_id).where(mine))
    return list(messages), list(events), list(discounts)


def _rewards(session: Session, shop_id: int, advocate_id: int) -> list[RewardLine]:
    """The advocate's reward decisions, oldest first, each naming the friend's order."""
    rows = session.execute(
        select(ReferralReward, OrderRow.name, OrderRow.shopify_id)
        .join(OrderRow, OrderRow.id == ReferralReward.friend_order_id)
        .where(ReferralReward.advocate_id == advocate_id, ReferralReward.shop_id == shop_id)
        .order_by(ReferralReward.id)
    ).all()
    return [
        RewardLine(name or shopify_id, r.status, r.reason, r.reward_code, r.created_at) for r, name, shopify_id in rows
    ]


def _summary(m: Message, clicks: int) -> MessageSummary:
    return MessageSummary(
        id=m.id,
        label=label(m.step, m.channel),
        step=m.step,
        channel=m.channel,
        status=m.status,
        due_at=m.due_at,
        sent_at=m.sent_at,
        reason=m.reason,
        delivery_status=m.delivery_status,
        delivery_detail=m.delivery_detail,
        clicks=clicks,
    )


def _message_entries(m: Message) -> list[Entry]:
    name = label(m.step, m.channel)
    entries = [Entry(m.created_at, "planned", m.id, name, due=m.due_at)]
    if m.status in _PENDING and m.reason:  # moved by the checkout's update, or held back by a gate
        what = "rescheduled" if m.reason.startswith("rescheduled") else "postponed"
        entries.append(Entry(m.updated_at, what, m.id, name, m.reason, due=m.due_at))
    if m.sent_at is not None:
        entries.append(Entry(m.sent_at, "sent", m.id, name, m.reason))
    if m.status in _ENDED:
        entries.append(Entry(m.updated_at, m.status, m.id, name, m.reason))
    return entries


def _event_entry(event: MessageEvent, message: Message) -> Entry:
    return Entry(event.created_at, event.event, message.id, label(message.step, message.channel), event.detail)


def _clicks(event: MessageEvent) -> int:
    raw: Any = event.raw or {}
    try:
        return int(raw.get("clicks") or 1)
    except (TypeError, ValueError):
        return 1
