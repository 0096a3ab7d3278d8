"""Advocate rewards (issue 11): a friend's first paid order with an advocate's code.

`on_friend_order` runs inside the ingest transaction of an order webhook: it finds the advocate
whose code the order used, decides with the fraud rules (domain/referral_rules.py), records one
referral_rewards row per friend order (`pending`, or `refused` with the reason; the unique
friend_order_id makes a repeated webhook decide once), and plans the advocate's `reward` message on
their journey by the invite's channel (delivery windows apply at send). An advocate earns a reward
per friend, so each reward has a message of its own (its occurrence is the reward's id; every
other step has one message per channel). The reward's code is made by the send (`issue_reward`,
never inside a transaction), once per reward, as in codes.py.

Our own orders only go back to the install, so before the code is made the send asks Shopify how
many orders the friend's customer has (numberOfOrders, outside any transaction, as
jobs/referral_check.py does for the trigger): an earlier order refuses the reward then, with the
reason, and the message is skipped (domain/referral_rules.shopify_refusal).

`on_friend_order_stopped`: a friend's order cancelled or refunded before the reward was sent
cancels the reward and its message with the reason; after it was sent, nothing is taken back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from shop_app.domain import referral_rules as rules
from shop_app.domain.models import PENDING as PENDING_MESSAGE
from shop_app.domain.models import Channel, PlannedMessage, Status, Step
from shop_app.domain.referral_settings import ReferralSettings
from shop_app.recovery import outbox
from shop_app.recovery.orders import equal_where_given
from shop_app.referral.codes import IssuedCode, reward_code_for
from shop_app.runtime import Runtime
from shop_app.shopify.offline_tokens import open_admin_client
from shop_app.storage.database import insert_new, transaction
from shop_app.storage.referral_tables import ReferralAdvocate, ReferralReward
from shop_app.storage.tables import Message, OrderRow, Profile, Shop

PENDING, ISSUED, REFUSED, CANCELLED = "pending", "issued", "refused", "cancelled"
#: Rewards that count towards the cap and make a friend "already counted".
COUNTED = (PENDING, ISSUED)
PAID = frozenset({"paid"})


@dataclass(frozen=True)
class RewardTerms:
    """The referral settings a reward needs (the settings document's `referral.reward`): whether
    rewards are on, the cap per advocate per 30 days, the reward's percentage and its life in days.
    Built by `of` from the shop's settings, for the decision and for the send alike."""

    cap: int = ReferralSettings.max_rewards_per_30_days
    percent: Decimal = ReferralSettings.reward_percent
    days: int = ReferralSettings.reward_days
    enabled: bool = ReferralSettings.reward_enabled

    @classmethod
    def of(cls, settings: ReferralSettings) -> RewardTerms:
        return cls(
            cap=settings.max_rewards_per_30_days,
            percent=settings.reward_percent,
            days=settings.reward_days,
            enabled=settings.reward_enabled,
        )


#: The merchant turned advocate rewards off: a friend's order is recorded, and earns nothing.
REWARDS_OFF = rules.Decision(False, "refused: advocate rewards are off in the referral settings", rules.REWARDS_OFF)


def on_friend_order(
    session: Session, shop: Shop, order: OrderRow, payload: Any, now: datetime, terms: RewardTerms
) -> str | None:
    """Decide a reward for a paid order that used an advocate's code; None when it used none.
    `terms`: RewardTerms.of(the shop's referral settings)."""
    codes = rules.codes_used(payload)
    if not codes or (order.financial_status or "").lower() not in PAID:
        return None
    advocate = session.scalars(  # locked: one advocate's decisions (cap, friend counted) take turns
        select(ReferralAdvocate)
        .where(ReferralAdvocate.shop_id == shop.id, func.upper(ReferralAdvocate.code).in_(codes))
        .with_for_update()
    ).first()
    if advocate is None:
        return None
    if session.scalar(select(ReferralReward.id).where(ReferralReward.friend_order_id == order.id)) is not None:
        return f"referral: order {order.name or order.shopify_id} was already decided"
    if isinstance(payload, dict) and payload.get("test") is True:
        return f"referral: order {order.name or order.shopify_id} is a test order: no reward"
    decision = (
        rules.decide(
            _advocate_facts(session, advocate, order),
            _friend_facts(session, advocate, order),
            _rewards_in_window(session, advocate, now),
            terms.cap,
        )
        if terms.enabled
        else REWARDS_OFF
    )
    status = PENDING if decision.reward else REFUSED
    inserted = insert_new(
        session,
        ReferralReward,
        shop_id=shop.id,
        advocate_id=advocate.id,
        friend_order_id=order.id,
        friend_profile_id=_profile_id(session, shop.id, order),
        status=status,
        reason=decision.reason,
        created_at=now,
    )
    if not inserted:  # a racing run of the same webhook decided first
        return f"referral: order {order.name or order.shopify_id} was already decided"
    if decision.reward:
        return _plan_reward(session, shop, advocate, order, now)
    return f"referral: order {order.name or order.shopify_id} with advocate #{advocate.id}'s code: {decision.reason}"


def on_friend_order_stopped(session: Session, shop: Shop, order_shopify_id: str, reason: str) -> str | None:
    """The friend's order was cancelled or refunded: a reward not yet sent is cancelled."""
    reward = session.scalars(
        select(ReferralReward)
        .join(OrderRow, OrderRow.id == ReferralReward.friend_order_id)
        .where(OrderRow.shop_id == shop.id, OrderRow.shopify_id == order_shopify_id)
        .with_for_update()
    ).first()
    if reward is None or reward.status not in COUNTED:
        return None
    why = f"reward cancelled: the friend's order was {reason} before the reward was sent"
    if reward.message_id is not None and not outbox.transition(
        session, reward.message_id, PENDING_MESSAGE, Status.CANCELLED, reason=why
    ):
        return f"referral: the friend's order was {reason} after the reward was sent: nothing taken back"
    reward.status, reward.reason = CANCELLED, why
    return f"referral: {why}"


@dataclass(frozen=True)
class RewardRefused:
    """Shopify's count of the friend's orders refused the reward at its send: the message is
    skipped with `reason`."""

    reason: str


@dataclass(frozen=True)
class _FriendToAsk:
    """The friend's Shopify customer, and how many of her orders we hold placed after this one."""

    customer_id: str
    later_orders: int


def issue_reward(
    rt: Runtime, message_id: int, now: datetime, terms: RewardTerms
) -> tuple[IssuedCode, datetime] | RewardRefused | None:
    """For the send of a `reward` message: its code (created once) and when it stops working;
    None when the message carries no live reward (cancelled, refused); RewardRefused when Shopify
    counts an order of the friend before this one (the reward is refused now). Raises when Shopify
    cannot answer or make the code now: the send waits, as for a recovery code.

    Shopify is asked once the reward is due and before its code is reserved, so a try after the
    code's creation failed does not ask again; a friend without a customer id is not asked (our
    own count stands, as when Shopify does not know the customer)."""
    with transaction(rt.sessions) as session:
        found = session.execute(
            select(
                ReferralReward.id,
                ReferralReward.shop_id,
                ReferralReward.status,
                ReferralReward.created_at,
                ReferralReward.reward_code,
                ReferralReward.friend_order_id,
                Profile.customer_id,
            )
            .join(ReferralAdvocate, ReferralAdvocate.id == ReferralReward.advocate_id)
            .join(Profile, Profile.id == ReferralAdvocate.profile_id)
            .where(ReferralReward.message_id == message_id)
        ).first()
        if found is None or found.status not in COUNTED:
            return None
        friend = _friend_to_ask(session, found.friend_order_id) if found.reward_code is None else None
    with open_admin_client(rt.sessions, rt.box, rt.settings, found.shop_id, now, rt.admin_sleep) as client:
        if friend is not None:
            refusal = rules.shopify_refusal(client.customer_order_count(friend.customer_id), friend.later_orders)
            if refusal is not None:
                return _refuse(rt, found.id, refusal)
        issued = reward_code_for(
            rt.sessions, client, found.id, found.customer_id, now, percent=terms.percent, days=terms.days
        )
    with transaction(rt.sessions) as session:
        reward = session.get_one(ReferralReward, found.id)
        if reward.status == PENDING:
            reward.status = ISSUED
    # The code ends `days` after it was made (between the decision and this send): the message
    # never promises more than that, whichever clock (the demo's is simulated) each one read.
    return issued, min(found.created_at, now) + timedelta(days=terms.days)


def _friend_to_ask(session: Session, friend_order_id: int) -> _FriendToAsk | None:
    """What Shopify is asked about the friend's order: None when it has no customer id."""
    order = session.get_one(OrderRow, friend_order_id)
    if not order.customer_id:
        return None
    later = session.scalar(
        select(func.count())
        .select_from(OrderRow)
        .where(
            OrderRow.shop_id == order.shop_id,
            OrderRow.customer_id == order.customer_id,
            OrderRow.shopify_created_at > order.shopify_created_at,
        )
    )
    return _FriendToAsk(order.customer_id, int(later or 0))


def _refuse(rt: Runtime, reward_id: int, decision: rules.Decision) -> RewardRefused | None:
    """Refuse a reward still pending with the decision's reason; None when it moved on meanwhile
    (the friend's order was cancelled or refunded while Shopify was asked)."""
    with transaction(rt.sessions) as session:
        reward = session.get_one(ReferralReward, reward_id, with_for_update=True)
        if reward.status != PENDING:
            return None
        reward.status, reward.reason = REFUSED, decision.reason
    return RewardRefused(decision.reason)


# --- facts ------------------------------------------------------------------------------------


def _advocate_facts(session: Session, advocate: ReferralAdvocate, deciding: OrderRow) -> rules.AdvocateFacts:
    """The advocate's profile and every order we hold of theirs (their triggering order, and any by
    their customer, email or phone): its emails, phones and shipping address keys.

    The friend's order being decided is left out: stored just before, it matches the advocate
    when it shares her phone, and would lend her its other contacts, so the refusal would name
    the wrong match ("same email" for a friend who gave her own email and the advocate's phone)."""
    profile = session.get_one(Profile, advocate.profile_id)
    same = _same_person(profile.customer_id, profile.email, profile.phone)
    orders = session.execute(
        select(OrderRow.email, OrderRow.phone, OrderRow.shipping_address_key).where(
            OrderRow.shop_id == advocate.shop_id,
            OrderRow.id != deciding.id,
            or_(OrderRow.id == advocate.order_id, *same),
        )
    ).all()
    return rules.facts(
        profile.customer_id,
        emails=[profile.email, *(o.email for o in orders)],
        phones=[profile.phone, *(o.phone for o in orders)],
        addresses=[o.shipping_address_key for o in orders],
    )


def _friend_facts(session: Session, advocate: ReferralAdvocate, order: OrderRow) -> rules.FriendFacts:
    same = _same_person(order.customer_id, order.email, order.phone)
    ordered_before = bool(same) and session.scalar(
        select(func.count())
        .select_from(OrderRow)
        .where(
            OrderRow.shop_id == order.shop_id,
            OrderRow.id != order.id,
            OrderRow.shopify_created_at < order.shopify_created_at,
            or_(*same),
        )
    )
    counted = bool(same) and session.scalar(
        select(func.count())
        .select_from(ReferralReward)
        .join(OrderRow, OrderRow.id == ReferralReward.friend_order_id)
        .where(ReferralReward.advocate_id == advocate.id, ReferralReward.status.in_(COUNTED), or_(*same))
    )
    return rules.friend_facts(
        order.customer_id,
        order.email,
        order.phone,
        order.shipping_address_key,
        ordered_before=bool(ordered_before),
        already_counted=bool(counted),
    )


def _same_person(customer_id: str | None, email: str | None, phone: str | None) -> list[Any]:
    return equal_where_given((OrderRow.customer_id, customer_id), (OrderRow.email, email), (OrderRow.phone, phone))


def _rewards_in_window(session: Session, advocate: ReferralAdvocate, now: datetime) -> int:
    since = now - timedelta(days=rules.CAP_WINDOW_DAYS)
    return int(
        session.scalar(
            select(func.count())
            .select_from(ReferralReward)
            .where(
                ReferralReward.advocate_id == advocate.id,
                ReferralReward.status.in_(COUNTED),
                ReferralReward.created_at >= since,
            )
        )
        or 0
    )


def _profile_id(session: Session, shop_id: int, order: OrderRow) -> int | None:
    keys = equal_where_given((Profile.customer_id, order.customer_id), (Profile.email, order.email))
    if not keys:
        return None
    return session.scalar(select(Profile.id).where(Profile.shop_id == shop_id, or_(*keys)).limit(1))


# --- the message ------------------------------------------------------------------------------


def _plan_reward(session: Session, shop: Shop, advocate: ReferralAdvocate, order: OrderRow, now: datetime) -> str:
    """The advocate's `reward` message for this friend's order, by the invite's channel, due now
    (windows apply at send). Each reward has its own row: its occurrence is the reward's id."""
    invites = session.execute(
        select(Message.channel, Message.status)
        .where(Message.journey_id == advocate.journey_id, Message.step == Step.INVITE.value)
        .order_by(Message.id)
    ).all()
    sent = [row.channel for row in invites if row.status == Status.SENT.value]
    channel = Channel((sent or [row.channel for row in invites] or [Channel.EMAIL.value])[0])
    reward = session.scalars(select(ReferralReward).where(ReferralReward.friend_order_id == order.id)).one()
    # Due when the friend's order was placed (as recovery steps count from the checkout's own time),
    # never after now: a late webhook's reward goes at once, and the demo's simulated clock sees it.
    planned = PlannedMessage(Step.REWARD, channel, min(now, order.shopify_created_at or now))
    message = outbox.add_planned(session, shop.id, advocate.journey_id, "referral", planned, occurrence=reward.id)
    session.flush()
    reward.message_id = message.id
    label = f"order {order.name or order.shopify_id}"
    return f"referral: {label} used advocate #{advocate.id}'s code: reward planned by {channel}"
