"""The "friend had ordered before" rule by Shopify's count (issue 11, point 4; audit BUG 2): our own
orders start at the install, so the reward's send asks Shopify's numberOfOrders for the friend's
customer (outside any transaction) before it makes the reward code. Through the real webhook
routes, worker, dispatcher and send job, against the development Admin API: Ana advocates, a
friend orders with her code, and the reward message's send decides."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shop_app.domain import referral_rules as rules
from tests.referral.e2e import ANA, ana_advocates, friend_order, rewards, send_due_rewards

COUNT = "CustomerOrderCount"
BEA = "7501"  # the friend's Shopify customer id
REFUSED = "refused: Shopify counts {} orders for the friend: not a first order"


@pytest.fixture
def shop(store):
    store.rt.admin_sleep = lambda seconds: None  # the Admin client's backoff between its own retries
    return store


def _asked(admin_api, store, since: int = 0) -> list:
    """The questions for the friend's count, from the `since`-th on (her own first order's trigger
    asks too, once its ingest committed: jobs/referral_check.py)."""
    friend = {"id": f"gid://shopify/Customer/{BEA}"}
    return [r for r in admin_api.graphql_requests(COUNT, shop=store.domain) if r.variables == friend][since:]


def _reward_codes(admin_api, store, invite_code: str) -> set[str]:
    return {d.input["code"] for d in admin_api.discounts(store.domain)} - {invite_code}


def _reward_mails(store, invite_code: str) -> list[dict]:
    return [m for m in store.outbox() if m["to"] == ANA and "THANKS-" in m["body"] and invite_code not in m["body"]]


def _bea_orders_with(store, code: str) -> int:
    """Bea pays order #9501 with Ana's code; how many times her count was asked meanwhile (by the
    trigger of her own referral journey, not by the reward)."""
    store.deliver("orders/paid", friend_order(store, 9501, "bea@example.com", int(BEA), code))
    assert store.admin_api is not None
    return len(_asked(store.admin_api, store))


def test_a_friend_shopify_counts_1_order_for_earns_the_reward(shop, admin_api) -> None:
    code = ana_advocates(shop)
    admin_api.set_order_count(shop.domain, BEA, 1)  # this order: her first
    before = _bea_orders_with(shop, code)
    assert rewards(shop) == [("pending", "a new friend's first paid order used the advocate's code")]
    send_due_rewards(shop)
    [asked] = _asked(admin_api, shop, before)  # by the reward's send
    assert asked.answer["data"] == {"customer": {"numberOfOrders": "1"}}
    assert [status for status, _ in rewards(shop)] == ["issued"]
    assert shop.message(flow="referral", step="reward")["status"] == "sent"
    [reward_code] = _reward_codes(admin_api, shop, code)
    [mail] = _reward_mails(shop, code)
    assert reward_code in mail["body"]


def test_throttled_then_answered_is_decided_once(shop, admin_api) -> None:
    code = ana_advocates(shop)
    admin_api.set_order_count(shop.domain, BEA, 3)
    before = _bea_orders_with(shop, code)
    admin_api.inject_throttled(1)  # the next request, the count's first try
    send_due_rewards(shop)
    answers = [r.answer for r in _asked(admin_api, shop, before)]
    assert len(answers) == 2 and answers[0]["errors"][0]["extensions"]["code"] == "THROTTLED"
    assert answers[1]["data"] == {"customer": {"numberOfOrders": "3"}}
    assert rewards(shop) == [("refused", REFUSED.format(3))]
    [reward] = shop.messages(flow="referral", step="reward")
    assert (reward["status"], reward["reason"]) == ("skipped", REFUSED.format(3))

    shop.tick(datetime.now(UTC) + timedelta(days=1))  # nothing left to ask or send
    assert len(_asked(admin_api, shop, before)) == 2
    assert rewards(shop) == [("refused", REFUSED.format(3))]
    assert _reward_codes(admin_api, shop, code) == set() and _reward_mails(shop, code) == []


def test_a_friend_without_a_customer_id_is_not_asked_and_our_count_stands(shop, admin_api) -> None:
    code = ana_advocates(shop)
    shop.deliver("orders/paid", friend_order(shop, 9501, "bea@example.com", None, code))  # a guest checkout
    before = len(admin_api.graphql_requests(COUNT, shop=shop.domain))
    send_due_rewards(shop)
    assert len(admin_api.graphql_requests(COUNT, shop=shop.domain)) == before
    assert [status for status, _ in rewards(shop)] == ["issued"]
    assert len(_reward_codes(admin_api, shop, code)) == 1 and len(_reward_mails(shop, code)) == 1


def test_a_customer_shopify_does_not_know_keeps_our_count(shop, admin_api) -> None:
    code = ana_advocates(shop)
    before = _bea_orders_with(shop, code)  # Bea is not a customer of the development shop
    send_due_rewards(shop)
    [asked] = _asked(admin_api, shop, before)
    assert asked.answer["data"] == {"customer": None}
    assert [status for status, _ in rewards(shop)] == ["issued"]
    assert len(_reward_mails(shop, code)) == 1


def test_shopify_not_answering_makes_the_reward_wait_then_it_is_decided(shop, admin_api) -> None:
    code = ana_advocates(shop)
    admin_api.set_order_count(shop.domain, BEA, 4)
    before = _bea_orders_with(shop, code)
    admin_api.inject_status(503, count=5, operation=COUNT)  # every try of the client's run
    send_due_rewards(shop)
    assert [r.status for r in _asked(admin_api, shop, before)] == [503] * 5
    reward = shop.message(flow="referral", step="reward")
    assert reward["status"] == "scheduled" and reward["reason"].startswith("waiting for the referral code:")
    assert COUNT in reward["reason"] and "bea" not in reward["reason"].lower()
    assert [status for status, _ in rewards(shop)] == ["pending"]
    assert _reward_codes(admin_api, shop, code) == set() and _reward_mails(shop, code) == []

    shop.tick(datetime.now(UTC) + timedelta(hours=1))  # after the send's wait
    assert [r.status for r in _asked(admin_api, shop, before)] == [503] * 5 + [200]
    assert rewards(shop) == [("refused", REFUSED.format(4))]
    assert shop.message(flow="referral", step="reward")["status"] == "skipped"
    assert _reward_codes(admin_api, shop, code) == set() and _reward_mails(shop, code) == []


def test_a_later_order_of_the_friend_before_the_send_is_not_an_earlier_one(shop, admin_api) -> None:
    """Shopify counts 2: this order and one she placed after it, before the reward went out."""
    code = ana_advocates(shop)
    admin_api.set_order_count(shop.domain, BEA, 2)
    _bea_orders_with(shop, code)
    later = friend_order(shop, 9502, "bea@example.com", int(BEA), None, at="2026-03-11T18:00:00+01:00")
    shop.deliver("orders/paid", later)
    before = len(_asked(admin_api, shop))
    send_due_rewards(shop)
    [asked] = _asked(admin_api, shop, before)
    assert asked.answer["data"] == {"customer": {"numberOfOrders": "2"}}
    assert [status for status, _ in rewards(shop)] == ["issued"]
    assert len(_reward_mails(shop, code)) == 1


@pytest.mark.parametrize(
    ("shopify_orders", "later_orders", "refused"),
    [(None, 0, False), (0, 0, False), (1, 0, False), (2, 0, True), (2, 1, False), (3, 1, True)],
)
def test_the_rule_counts_the_orders_before_this_one(shopify_orders, later_orders, refused) -> None:
    decision = rules.shopify_refusal(shopify_orders, later_orders)
    assert (decision is not None) is refused
    if decision is not None:
        assert (decision.reward, decision.rule) == (False, rules.ORDERED_BEFORE)
        assert decision.reason == REFUSED.format(shopify_orders)
