"""Rewards for a friend's first paid order with an advocate's code (issue 11), over the database:
each fraud rule refused with its reason, one decision per friend order, the reward message planned
by the invite's channel, cancelled when the friend's order is refunded before it is sent, and the
reward code made once by the send."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from shop_app.domain.models import Channel, PlannedMessage, Status, Step
from shop_app.domain.payloads import parse_order
from shop_app.recovery import outbox
from shop_app.recovery.orders import store_order
from shop_app.referral.rewards import RewardTerms, issue_reward, on_friend_order, on_friend_order_stopped
from shop_app.storage.database import transaction
from shop_app.storage.referral_tables import ReferralAdvocate, ReferralReward
from shop_app.storage.tables import Journey, Message, OrderRow, Profile, Shop
from tests.support import fixture

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
CODE = "ANA-7KQ2M9"


@pytest.fixture
def advocate(rt, store):
    """Ana (customer 7001) bought first (order 5550001), became an advocate, and was sent her invite by SMS."""
    with transaction(rt.sessions) as session:
        shop = session.scalars(select(Shop).where(Shop.domain == store.domain)).one()
        first = store_order(session, shop, parse_order(_order(5550001, "ana@example.com", 7001, "+34600111222")))
        profile = Profile(shop_id=shop.id, email="ana@example.com", phone="+34600111222", customer_id="7001",
                          first_name="Ana", origin="captured")  # fmt: skip
        session.add(profile)
        session.flush()
        journey = Journey(shop_id=shop.id, profile_id=profile.id, trigger_order_id=first.id, flow="referral",
                          abandoned_at=NOW - timedelta(days=10))  # fmt: skip
        session.add(journey)
        session.flush()
        outbox.add_planned(session, shop.id, journey.id, "referral", PlannedMessage(Step.INVITE, Channel.SMS, NOW))
        session.add(ReferralAdvocate(shop_id=shop.id, profile_id=profile.id, journey_id=journey.id, order_id=first.id,
                                     code=CODE, code_discount_id="gid://shopify/DiscountCodeNode/1"))  # fmt: skip
        return journey.id


def _order(order_id: int, email: str | None, customer: int | None, phone: str | None = None, **extra) -> dict:
    payload = copy.deepcopy(fixture("order.json"))
    payload.update(id=order_id, name=f"#{order_id}", email=email, phone=phone, checkout_token=f"c{order_id}")
    payload["customer"] = {"id": customer, "email": email} if customer else None
    payload["created_at"] = (NOW - timedelta(minutes=5)).isoformat()
    payload.update(extra)
    return payload


def friend_order(rt, store, payload: dict, terms: RewardTerms | None = None) -> str | None:
    with transaction(rt.sessions) as session:
        shop = session.scalars(select(Shop).where(Shop.domain == store.domain)).one()
        row = store_order(session, shop, parse_order(payload))
        return on_friend_order(session, shop, row, payload, NOW, terms or RewardTerms())


def rewards(rt) -> list[tuple[str, str | None, int | None]]:
    with transaction(rt.sessions) as session:
        rows = session.scalars(select(ReferralReward).order_by(ReferralReward.id)).all()
        return [(r.status, r.reason, r.message_id) for r in rows]


def reward_messages(rt) -> list[tuple[str, str, str]]:
    with transaction(rt.sessions) as session:
        rows = session.scalars(select(Message).where(Message.step == "reward")).all()
        return [(m.channel, m.status, m.flow) for m in rows]


BEA = {"discount_codes": [{"code": CODE.lower(), "amount": "8.49", "type": "percentage"}]}


def test_a_new_friend_earns_a_reward_planned_by_the_invites_channel(rt, store, advocate) -> None:
    outcome = friend_order(rt, store, _order(5550002, "bea@example.com", 7002, **BEA))
    assert outcome is not None and "reward planned by sms" in outcome
    [(status, reason, message_id)] = rewards(rt)
    assert status == "pending" and message_id is not None and "first paid order" in (reason or "")
    assert reward_messages(rt) == [("sms", "scheduled", "referral")]


def test_a_repeated_webhook_decides_once(rt, store, advocate) -> None:
    payload = _order(5550002, "bea@example.com", 7002, **BEA)
    friend_order(rt, store, payload)
    assert "already decided" in (friend_order(rt, store, payload) or "")
    assert len(rewards(rt)) == 1 and len(reward_messages(rt)) == 1


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        (_order(5550003, "ana@example.com", 7003, **BEA), "same email"),
        (_order(5550003, "other@example.com", 7001, **BEA), "same customer"),
        (_order(5550003, "other@example.com", 7003, "600 111 222", **BEA), "same phone"),
    ],
    ids=["email", "customer", "phone"],
)
def test_self_referrals_are_refused_with_the_reason(rt, store, advocate, payload, words) -> None:
    friend_order(rt, store, payload)
    [(status, reason, message_id)] = rewards(rt)
    assert status == "refused" and words in (reason or "") and message_id is None
    assert reward_messages(rt) == []


def test_a_friend_who_ordered_before_is_refused(rt, store, advocate) -> None:
    earlier = _order(5550004, "bea@example.com", 7002, created_at=(NOW - timedelta(days=40)).isoformat())
    friend_order(rt, store, earlier)  # no code: nothing decided
    assert rewards(rt) == []
    friend_order(rt, store, _order(5550005, "bea@example.com", 7002, **BEA))
    [(status, reason, _)] = rewards(rt)
    assert status == "refused" and "ordered before" in (reason or "")


def test_the_cap_refuses_the_reward_beyond_it(rt, store, advocate) -> None:
    friend_order(rt, store, _order(5550006, "bea@example.com", 7002, **BEA), RewardTerms(cap=1))
    friend_order(rt, store, _order(5550007, "cai@example.com", 7004, **BEA), RewardTerms(cap=1))
    assert [r[0] for r in rewards(rt)] == ["pending", "refused"]
    assert "reached 1 rewards in 30 days" in (rewards(rt)[1][1] or "")


def test_unpaid_test_and_codeless_orders_decide_nothing(rt, store, advocate) -> None:
    assert friend_order(rt, store, _order(5550008, "bea@example.com", 7002, financial_status="pending", **BEA)) is None
    assert friend_order(rt, store, _order(5550009, "bea@example.com", 7002)) is None
    assert "test order" in (friend_order(rt, store, _order(5550010, "cai@example.com", 7004, test=True, **BEA)) or "")
    assert rewards(rt) == []


def test_a_refund_before_the_reward_is_sent_cancels_it(rt, store, advocate) -> None:
    friend_order(rt, store, _order(5550002, "bea@example.com", 7002, **BEA))
    with transaction(rt.sessions) as session:
        shop = session.scalars(select(Shop).where(Shop.domain == store.domain)).one()
        outcome = on_friend_order_stopped(session, shop, "5550002", "refunded")
    assert outcome is not None and "cancelled" in outcome
    [(status, reason, _)] = rewards(rt)
    assert status == "cancelled" and "refunded before the reward was sent" in (reason or "")
    assert reward_messages(rt) == [("sms", "cancelled", "referral")]


def outbox_sources(to: Status) -> tuple[Status, ...]:
    return {Status.QUEUED: (Status.SCHEDULED,), Status.SENDING: (Status.QUEUED,), Status.SENT: (Status.SENDING,)}[to]


def test_a_refund_after_the_reward_was_sent_takes_nothing_back(rt, store, advocate) -> None:
    friend_order(rt, store, _order(5550002, "bea@example.com", 7002, **BEA))
    with transaction(rt.sessions) as session:
        message = session.scalars(select(Message).where(Message.step == "reward")).one()
        for to in (Status.QUEUED, Status.SENDING, Status.SENT):  # as the dispatcher and the send move it
            assert outbox.transition(session, message.id, outbox_sources(to), to)
        shop = session.get_one(Shop, message.shop_id)
    with transaction(rt.sessions) as session:
        outcome = on_friend_order_stopped(session, shop, "5550002", "refunded")
    assert "nothing taken back" in (outcome or "")
    assert rewards(rt)[0][0] == "pending"


def test_the_send_makes_the_reward_code_once(rt, store, admin_api, advocate) -> None:
    friend_order(rt, store, _order(5550002, "bea@example.com", 7002, **BEA))
    [(_, _, message_id)] = rewards(rt)
    assert message_id is not None
    admin_api.inject_status(503)
    first = issue_reward(rt, message_id, NOW, RewardTerms())
    again = issue_reward(rt, message_id, NOW, RewardTerms())
    assert first is not None and first == again
    code, expires = first
    assert expires == NOW + timedelta(days=60) and code.code.startswith("THANKS-")
    [stored] = admin_api.discounts(store.domain)
    assert stored.input["context"] == {"customers": {"add": ["gid://shopify/Customer/7001"]}}
    assert rewards(rt)[0][0] == "issued"
    with transaction(rt.sessions) as session:
        assert session.scalars(select(OrderRow.id)).all()  # the orders stay
        assert session.scalars(select(ReferralReward.reward_code)).one() == code.code


def test_through_the_webhook_a_friend_order_is_decided_once(rt, store, advocate) -> None:
    payload = _order(5550002, "bea@example.com", 7002, **BEA)
    store.deliver("orders/paid", payload)
    store.deliver("orders/paid", payload, webhook_id="another-delivery-of-the-same-order")
    store.deliver("orders/paid", _order(5550003, "ana@example.com", 7003, **BEA))  # Ana's own code
    assert [(r[0], r[2] is not None) for r in rewards(rt)] == [("pending", True), ("refused", False)]
    assert "same email" in (rewards(rt)[1][1] or "")
    assert reward_messages(rt) == [("sms", "scheduled", "referral")]


def test_each_reward_has_its_own_message_and_every_other_step_one_per_channel(rt, store, advocate) -> None:
    friend_order(rt, store, _order(5550002, "bea@example.com", 7002, **BEA))
    friend_order(rt, store, _order(5550003, "cai@example.com", 7003, **BEA))
    with transaction(rt.sessions) as session:
        rows = session.scalars(select(ReferralReward).order_by(ReferralReward.id)).all()
        messages = {m.id: m for m in session.scalars(select(Message).where(Message.step == "reward"))}
        assert [r.status for r in rows] == ["pending", "pending"] and len(messages) == 2
        assert [messages[r.message_id].occurrence for r in rows if r.message_id] == [r.id for r in rows]
        shop_id = session.scalars(select(Shop.id)).one()
    # Every other step still has one row, so one send, per journey and channel.
    again = PlannedMessage(Step.INVITE, Channel.SMS, NOW)
    with pytest.raises(IntegrityError), transaction(rt.sessions) as session:
        outbox.add_planned(session, shop_id, advocate, "referral", again)
    with pytest.raises(ValueError, match="sent once per channel"), transaction(rt.sessions) as session:
        outbox.add_planned(session, shop_id, advocate, "referral", again, occurrence=2)
    with pytest.raises(IntegrityError), transaction(rt.sessions) as session:  # the database says so too
        session.add(Message(shop_id=shop_id, journey_id=advocate, flow="referral", step="invite", channel="sms",
                            occurrence=2, status="scheduled", due_at=NOW))  # fmt: skip
