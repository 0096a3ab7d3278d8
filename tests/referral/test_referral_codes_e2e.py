"""The advocate's personal code made by the invite's send (issue 11, point 3 and "idempotent code creation
under Admin API failures"), through the real webhooks, dispatcher, send job and the development Admin
API: THROTTLED, 5xx and answers lost on every try of a run leave the invite waiting with its reason,
and the next run sends it with the one code Shopify holds; an invite on two channels carries the same
code; the friend's discount is the settings' (15 %), once per customer, open to every buyer."""

from __future__ import annotations

import pytest

from shop_app.adapters.shopify_admin import RetryPolicy
from tests.jobs import test_twilio_channel
from tests.referral.e2e import ANA, PHONE, ana_pays

twilio_store = test_twilio_channel.twilio_store  # the demo shop with its Twilio account (a fixture)
CREATE = "DiscountCodeBasicCreate"
TRIES = RetryPolicy().max_attempts  # the Admin API client's tries within one run


@pytest.fixture
def shop(store):
    store.rt.admin_sleep = lambda seconds: None  # the Admin client's backoff between its own tries
    return store


def _up_to_the_invite(store) -> None:
    ana_pays(store, fulfilled="2026-03-03T10:00:00Z")
    store.tick("2026-03-06T10:01:00+00:00")
    store.tick("2026-03-08T10:01:00+00:00")
    assert store.message(flow="referral", step="social")["status"] == "sent"


def _invite_mail(store) -> dict:
    [mail] = [m for m in store.outbox() if m["to"] == ANA and "/discount/" in m["body"]]
    return mail


@pytest.mark.parametrize(
    "failure",
    ["throttled", "502 then answered", "answers lost on every try", "answer lost once"],
)
def test_the_invite_is_sent_with_the_one_code_shopify_holds(shop, admin_api, failure) -> None:
    _up_to_the_invite(shop)
    if failure == "throttled":
        admin_api.inject_throttled(2)
    elif failure == "502 then answered":
        admin_api.inject_status(502, count=2, operation=CREATE)
    elif failure == "answers lost on every try":
        admin_api.inject_status(500, count=TRIES, after_processing=True, operation=CREATE)  # every try of one run
    else:
        admin_api.inject_status(500, count=1, after_processing=True, operation=CREATE)
    shop.tick("2026-03-10T10:01:00+00:00")
    invite = shop.message(flow="referral", step="invite")
    if failure == "answers lost on every try":
        assert invite["status"] == "scheduled" and "waiting for the referral code" in invite["reason"], invite
        assert [m for m in shop.outbox() if "/discount/" in m["body"]] == []
        shop.tick("2026-03-10T10:31:00+00:00")  # the next run
        invite = shop.message(flow="referral", step="invite")
    assert invite["status"] == "sent", invite
    [code] = [d.input["code"] for d in admin_api.discounts(shop.domain)]
    assert code.startswith("ANA-") and f"https://{shop.domain}/discount/{code}" in _invite_mail(shop)["body"]


def test_an_invite_on_two_channels_carries_one_code_with_the_settings_discount(twilio_store, twilio_api) -> None:
    store = twilio_store
    store.set_settings({"referral": {"invite": {"channels": ["email", "sms"], "friend_percent": 15}}})
    ana_pays(store, fulfilled="2026-03-03T10:00:00Z")
    for day in ("2026-03-06", "2026-03-08", "2026-03-10"):
        store.tick(f"{day}T10:01:00+00:00")
    assert {m["status"] for m in store.messages(flow="referral", step="invite")} == {"sent"}
    [discount] = store.admin_api.discounts(store.domain)
    code, given = discount.input["code"], discount.input
    assert given["customerGets"]["value"] == {"percentage": 0.15}
    assert given["appliesOncePerCustomer"] is True and given["usageLimit"] is None and given["endsAt"] is None
    assert code in _invite_mail(store)["body"] and "15" in _invite_mail(store)["body"]
    [sms] = twilio_api.messages
    assert sms.resource["to"] == PHONE and f"https://{store.domain}/discount/{code}" in sms.resource["body"]
    assert len(store.admin_api.graphql_requests(CREATE, shop=store.domain)) == 1
