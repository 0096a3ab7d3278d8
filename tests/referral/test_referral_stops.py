"""Cancelled and refunded orders in the referral flow (issue 11), through the real webhook routes,
worker and send job: partial refunds add up, and only a sum that reaches the order's total stops
the journey it triggered; a friend's order cancelled or fully refunded before the advocate's reward
was sent cancels the reward (with its reason), and after it was sent takes nothing back. One order
can be both: an advocate's first order and a friend's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select

from shop_app.storage.database import transaction
from shop_app.storage.referral_tables import ReferralReward
from shop_app.storage.tables import Journey, Message, OrderRow, Profile, WebhookDelivery
from tests.support import ShopifyStore

ANA, BEA = "ana@example.com", "bea@example.com"


def _ana_fulfilled(store: ShopifyStore) -> None:
    """Ana, captured by her checkout, pays her first order #1001 (84.90 EUR); it is fulfilled."""
    store.deliver("checkouts/create", store.checkout("c1", "2026-03-02T18:00:00+01:00", email=ANA))
    order = store.order("c1", "2026-03-02T19:00:00+01:00", id=9001, name="#1001", buyer_accepts_marketing=True)
    store.deliver("orders/paid", order)
    store.deliver("orders/fulfilled", {"id": 9001, "updated_at": "2026-03-03T10:00:00Z"})


def _advocate(store: ShopifyStore, admin_api) -> str:
    """Ana goes through review, social and invite; her personal code is returned."""
    _ana_fulfilled(store)
    for day in ("2026-03-06", "2026-03-08", "2026-03-10"):
        store.tick(f"{day}T10:01:00+00:00")
    assert store.message(flow="referral", step="invite")["status"] == "sent"
    [code] = [d.input["code"] for d in admin_api.discounts(store.domain)]
    return code


def _bea_buys_with(store: ShopifyStore, code: str) -> None:
    """Bea's first paid order #9501 (84.90 EUR) with Ana's code: Ana's reward is planned."""
    order = store.order(None, "2026-03-11T12:00:00+01:00", id=9501, name="#9501", email=BEA)
    order.update(customer={"id": 7501, "email": BEA}, discount_codes=[{"code": code}], buyer_accepts_marketing=True)
    store.deliver("orders/paid", order)
    assert _reward(store)[0] == "pending"
    assert _ana_reward_message(store)["status"] == "scheduled"


def _refund(store: ShopifyStore, refund_id: int, order_id: int, amount: str, currency: str = "EUR", **kwargs) -> str:
    """refunds/create for one refund of `amount`; the delivery's recorded reason."""
    payload = {
        "id": refund_id,
        "order_id": order_id,
        "created_at": "2026-03-12T10:00:00Z",
        "transactions": [{"id": refund_id * 10, "kind": "refund", "status": "success", "amount": amount,
                          "currency": currency}],
    }  # fmt: skip
    store.deliver("refunds/create", payload, **kwargs)
    return _last_reason(store)


def _last_reason(store: ShopifyStore) -> str:
    with transaction(store.rt.sessions) as session:
        return session.scalars(select(WebhookDelivery.reason).order_by(WebhookDelivery.id.desc())).first() or ""


def _refunded(store: ShopifyStore, shopify_id: str) -> Decimal:
    with transaction(store.rt.sessions) as session:
        return session.scalars(select(OrderRow.refunded_total).where(OrderRow.shopify_id == shopify_id)).one()


def _reward(store: ShopifyStore) -> tuple[str, str]:
    with transaction(store.rt.sessions) as session:
        reward = session.scalars(select(ReferralReward)).one()
        return reward.status, reward.reason or ""


def _journey_of(store: ShopifyStore, email: str) -> Journey:
    with transaction(store.rt.sessions) as session:
        journey = session.scalars(
            select(Journey).join(Profile, Profile.id == Journey.profile_id).where(Profile.email == email)
        ).one()
        session.expunge(journey)
        return journey


def _ana_reward_message(store: ShopifyStore) -> dict:
    return store.message(flow="referral", step="reward")


def _pending_steps(store: ShopifyStore, journey_id: int) -> dict[str, tuple[str, str]]:
    with transaction(store.rt.sessions) as session:
        rows = session.scalars(select(Message).where(Message.journey_id == journey_id)).all()
        return {m.step: (m.status, m.reason or "") for m in rows}


# --- partial refunds add up -----------------------------------------------------------------------


def test_two_partial_refunds_stop_the_journey_at_the_second(store) -> None:
    _ana_fulfilled(store)
    steps = {m["step"]: m for m in store.messages(flow="referral")}
    assert {m["status"] for m in steps.values()} == {"scheduled"} and set(steps) == {"review", "social", "invite"}

    reason = _refund(store, 801, 9001, "40.00", webhook_id="refund-801")
    assert "40.00 of 84.90 EUR refunded, partly: the referral flow goes on" in reason
    # Shopify retries a delivery with its webhook id: recorded once, so the refund counts once.
    retried = store.post("refunds/create", {"id": 801, "order_id": 9001}, webhook_id="refund-801")
    assert retried.status_code == 200
    store.drain()
    assert _refunded(store, "9001") == Decimal("40.00")
    assert {m["status"] for m in store.messages(flow="referral")} == {"scheduled"}
    assert _journey_of(store, ANA).status == "active"

    reason = _refund(store, 802, 9001, "44.90")
    assert _refunded(store, "9001") == Decimal("84.90")
    assert "84.90 of 84.90 EUR refunded" in reason and "3 pending message(s) cancelled" in reason
    rows = store.messages(flow="referral")
    assert {m["status"] for m in rows} == {"cancelled"}
    assert {m["reason"] for m in rows} == {"order #1001 fully refunded"}
    journey = _journey_of(store, ANA)
    assert (journey.status, journey.stop_reason) == ("stopped", "order #1001 fully refunded")
    store.tick("2026-03-10T10:01:00+00:00")
    assert store.outbox() == []


def test_a_refund_in_another_currency_without_shop_money_is_not_added(store) -> None:
    _ana_fulfilled(store)
    reason = _refund(store, 801, 9001, "200.00", currency="USD")  # no *_set fields to tell its EUR
    assert reason == (
        "order #1001: a refund of 200.00 USD is not added to the total in EUR: "
        "Shopify's refund gives no amount in the shop's currency (shop_money in its *_set fields)"
    )
    assert _refunded(store, "9001") == 0
    assert {m["status"] for m in store.messages(flow="referral")} == {"scheduled"}


def test_a_refund_after_a_cancellation_keeps_the_first_reason(store) -> None:
    _ana_fulfilled(store)
    store.deliver("orders/cancelled", {"id": 9001, "cancelled_at": "2026-03-04T10:00:00Z"})
    assert "referral journey" in _refund(store, 801, 9001, "84.90") and "already stopped" in _last_reason(store)
    assert _journey_of(store, ANA).stop_reason == "order #1001 cancelled"
    assert {m["reason"] for m in store.messages(flow="referral")} == {"order #1001 cancelled"}


# --- a friend's order -----------------------------------------------------------------------------

REWARD_CANCELLED = "reward cancelled: the friend's order was {} before the reward was sent"


def test_a_friends_order_cancelled_before_the_reward_is_sent_cancels_it_and_stops_her_own_flow(
    store, admin_api
) -> None:
    code = _advocate(store, admin_api)
    _bea_buys_with(store, code)
    bea = _journey_of(store, BEA)  # Bea's first order started her own referral journey too
    assert bea.status == "active" and {s for s, _ in _pending_steps(store, bea.id).values()} == {"scheduled"}

    store.deliver("orders/cancelled", {"id": 9501, "cancelled_at": "2026-03-11T13:00:00Z"})
    why = REWARD_CANCELLED.format("cancelled")
    assert _reward(store) == ("cancelled", why)
    message = _ana_reward_message(store)
    assert (message["status"], message["reason"]) == ("cancelled", why)
    assert _journey_of(store, BEA).stop_reason == "order #9501 cancelled"  # both roles of the one order
    assert {v for v in _pending_steps(store, bea.id).values()} == {("cancelled", "order #9501 cancelled")}
    assert why in _last_reason(store)

    sent_before = len(store.outbox())
    store.tick(datetime.now(UTC) + timedelta(minutes=1))
    assert len(store.outbox()) == sent_before  # no reward goes out
    assert _journey_of(store, ANA).status == "active"  # the advocate's own flow goes on


def test_a_friends_order_fully_refunded_before_the_reward_is_sent_cancels_it(store, admin_api) -> None:
    code = _advocate(store, admin_api)
    _bea_buys_with(store, code)
    _refund(store, 901, 9501, "20.00")  # partly: Bea keeps most of her order, Ana's reward stands
    assert _reward(store)[0] == "pending" and _ana_reward_message(store)["status"] == "scheduled"

    reason = _refund(store, 902, 9501, "64.90")
    why = REWARD_CANCELLED.format("fully refunded")
    assert _reward(store) == ("cancelled", why) and why in reason
    message = _ana_reward_message(store)
    assert (message["status"], message["reason"]) == ("cancelled", why)
    assert _journey_of(store, BEA).stop_reason == "order #9501 fully refunded"


def test_after_the_reward_was_sent_nothing_is_taken_back(store, admin_api) -> None:
    code = _advocate(store, admin_api)
    _bea_buys_with(store, code)
    store.tick(datetime.now(UTC) + timedelta(minutes=1))
    assert _ana_reward_message(store)["status"] == "sent" and _reward(store)[0] == "issued"
    rewards_mailed = [m for m in store.outbox() if m["to"] == ANA]

    store.deliver("orders/cancelled", {"id": 9501, "cancelled_at": "2026-03-12T13:00:00Z"})
    assert "after the reward was sent: nothing taken back" in _last_reason(store)
    _refund(store, 902, 9501, "84.90")
    assert "after the reward was sent: nothing taken back" in _last_reason(store)
    assert _reward(store)[0] == "issued" and _ana_reward_message(store)["status"] == "sent"
    assert [m for m in store.outbox() if m["to"] == ANA] == rewards_mailed
