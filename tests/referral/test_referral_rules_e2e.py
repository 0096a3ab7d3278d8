"""Each referral fraud rule on its own (issue 11, point 4), through the real webhook routes, worker,
dispatcher and send job: Ana becomes an advocate (review, social, invite with her personal code),
then orders with her code are decided. No reward when the friend is Ana (her customer id, her email
spelled otherwise, her phone spelled nationally), when the friend had ordered before, when the same
friend already counted, or beyond the cap of rewards per 30 days (10 by default, lower through the
admin's settings). Each refusal is recorded with its reason on the reward and on the webhook
delivery, and no reward message is planned or sent for it. The same-address rule is in
test_reward_flow.py."""

from __future__ import annotations

import pytest

from tests.referral.e2e import (
    ANA,
    ana_advocates,
    friend_order,
    reason_of,
    rewards,
    send_due_rewards,
)
from tests.tokens import session_token

SELF = "refused: the friend is the advocate ({})"


def _reward_mails(store, code: str) -> list[dict]:
    """Mails to Ana after her invite (which carried `code`): her rewards."""
    return [m for m in store.outbox() if m["to"] == ANA and "THANKS-" in m["body"] and code not in m["body"]]


@pytest.mark.parametrize(
    ("email", "customer", "phone", "same"),
    [
        ("other@example.com", 7001, None, "same customer"),  # another email, Ana's customer account
        ("Ana+friends@EXAMPLE.com", 7502, None, "same email"),  # another account, her address spelled otherwise
        # another account and email, her number spelled nationally: the friend's own order (stored just
        # before) lends the advocate no email, so the reason names the phone
        ("other@example.com", 7503, "600 111 222", "same phone"),
    ],
    ids=["customer-id", "email", "phone"],
)
def test_the_friend_is_the_advocate(store, admin_api, email, customer, phone, same) -> None:
    code = ana_advocates(store)
    billing = {"first_name": "Someone", "city": "Madrid", "country_code": "ES"}  # a national number is read in ES
    payload = friend_order(store, 9501, email, customer, code.lower(), phone=phone, billing_address=billing)
    store.deliver("orders/paid", payload, webhook_id="self")
    send_due_rewards(store)
    assert rewards(store) == [("refused", SELF.format(same))]
    assert SELF.format(same) in reason_of(store, "self")
    assert store.messages(flow="referral", step="reward") == []
    assert _reward_mails(store, code) == [] and len(admin_api.discounts(store.domain)) == 1  # no reward code made


def test_a_friend_with_the_advocates_phone_earns_nothing(store, admin_api) -> None:
    """The advocate's own number is refused, whatever else the friend's order says."""
    code = ana_advocates(store)
    billing = {"first_name": "Someone", "city": "Madrid", "country_code": "ES"}
    payload = friend_order(store, 9501, "other@example.com", 7503, code, phone="600 111 222", billing_address=billing)
    store.deliver("orders/paid", payload, webhook_id="self")
    send_due_rewards(store)
    [(status, reason)] = rewards(store)
    assert status == "refused" and reason.startswith("refused: the friend is the advocate")
    assert store.messages(flow="referral", step="reward") == [] and _reward_mails(store, code) == []


def test_a_friend_who_had_ordered_before_earns_nothing(store, admin_api) -> None:
    code = ana_advocates(store)
    earlier = friend_order(store, 9501, "bea@example.com", 7501, None, at="2026-03-05T12:00:00+01:00")
    store.deliver("orders/paid", earlier, webhook_id="bea-first")  # without the code: nothing to decide
    assert rewards(store) == [] and "referral journey #" in reason_of(store, "bea-first")
    store.deliver("orders/paid", friend_order(store, 9502, "bea@example.com", 7501, code), webhook_id="bea-second")
    send_due_rewards(store)
    reason = "refused: the friend had ordered before (not a new customer)"
    assert rewards(store) == [("refused", reason)] and reason in reason_of(store, "bea-second")
    assert store.messages(flow="referral", step="reward") == [] and _reward_mails(store, code) == []


def test_a_friend_shopify_counts_earlier_orders_for_earns_nothing(store, admin_api) -> None:
    """Our own orders start at the install; Shopify's count, asked at the reward's send, goes further back."""
    code = ana_advocates(store)
    admin_api.set_order_count(store.domain, "7501", 4)  # Bea bought here before the app was installed
    store.deliver("orders/paid", friend_order(store, 9501, "bea@example.com", 7501, code))
    send_due_rewards(store)
    reason = "refused: Shopify counts 4 orders for the friend: not a first order"
    assert rewards(store) == [("refused", reason)]
    [reward] = store.messages(flow="referral", step="reward")
    assert (reward["status"], reward["reason"]) == ("skipped", reason)
    assert _reward_mails(store, code) == [] and len(admin_api.discounts(store.domain)) == 1  # no reward code made


def test_the_same_friend_counts_once_even_when_her_orders_arrive_out_of_order(store, admin_api) -> None:
    code = ana_advocates(store)
    later = friend_order(store, 9503, "bea@example.com", 7501, code, at="2026-03-12T12:00:00+01:00")
    first = friend_order(store, 9502, "bea@example.com", 7501, code, at="2026-03-11T12:00:00+01:00")
    store.deliver("orders/paid", later, webhook_id="bea-later")  # Shopify delivered the later order first
    store.deliver("orders/paid", first, webhook_id="bea-first")
    send_due_rewards(store)
    [(rewarded, _), (refused, reason)] = rewards(store)
    assert (rewarded, refused) == ("issued", "refused")
    assert reason == "refused: this friend already counted for the advocate"
    assert reason in reason_of(store, "bea-first")
    assert [m["status"] for m in store.messages(flow="referral", step="reward")] == ["sent"]
    assert len(_reward_mails(store, code)) == 1


def test_ten_rewards_per_30_days_by_default_the_eleventh_friend_is_refused(store, admin_api) -> None:
    code = ana_advocates(store)
    for n in range(11):
        friend = friend_order(store, 9600 + n, f"friend{n}@example.com", 7600 + n, code)
        store.deliver("orders/paid", friend, webhook_id=f"friend-{n}")
    send_due_rewards(store)
    decided = rewards(store)
    assert [status for status, _ in decided] == ["issued"] * 10 + ["refused"]
    assert decided[-1][1] == "refused: the advocate reached 10 rewards in 30 days"
    assert "reached 10 rewards in 30 days" in reason_of(store, "friend-10")
    reward_rows = store.messages(flow="referral", step="reward")
    assert len(reward_rows) == 10 and {m["status"] for m in reward_rows} == {"sent"}
    codes = {d.input["code"] for d in admin_api.discounts(store.domain)} - {code}
    assert len(codes) == 10 and len(_reward_mails(store, code)) == 10


def test_a_lower_cap_saved_through_the_admin_settings_api_applies(rt, store, admin_api, client) -> None:
    code = ana_advocates(store)
    token = session_token(store.domain, api_key=rt.settings.shopify_api_key, secret=rt.settings.shopify_api_secret)
    bearer = {"Authorization": f"Bearer {token}"}
    document = client.get("/api/settings", headers=bearer).get_json()["settings"]
    assert document["referral"]["reward"]["max_per_30_days"] == 10
    document["referral"]["reward"]["max_per_30_days"] = 2
    assert client.put("/api/settings", json=document, headers=bearer).status_code == 200
    for n in range(3):
        store.deliver("orders/paid", friend_order(store, 9600 + n, f"friend{n}@example.com", 7600 + n, code))
    assert [status for status, _ in rewards(store)] == ["pending", "pending", "refused"]
    assert rewards(store)[-1][1] == "refused: the advocate reached 2 rewards in 30 days"


def test_a_friends_test_order_or_unpaid_order_decides_nothing(store, admin_api) -> None:
    code = ana_advocates(store)
    test_order = friend_order(store, 9501, "bea@example.com", 7501, code, test=True)
    store.deliver("orders/paid", test_order, webhook_id="test-order")
    assert "is a test order: no reward" in reason_of(store, "test-order")
    pending = friend_order(store, 9502, "cai@example.com", 7502, code, financial_status="pending")
    store.deliver("orders/create", pending, webhook_id="unpaid")  # placed, not paid yet
    assert rewards(store) == []
    store.deliver("orders/paid", {**pending, "financial_status": "paid"}, webhook_id="paid")
    store.deliver("orders/paid", {**pending, "financial_status": "paid"}, webhook_id="paid-again")
    assert [status for status, _ in rewards(store)] == ["pending"]
    assert "reward planned" in reason_of(store, "paid") and "already decided" in reason_of(store, "paid-again")
