"""Browser push end to end: the storefront subscribes through the app proxy, the checkout is
abandoned, and the send job pushes to a real local push service that decrypts the payload with
the browser's keys and checks our VAPID JWT, TTL, Urgency and Topic. A 410 removes the subscription."""

from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import select

from shop_app.channels.push_subscriptions import vapid_keys
from shop_app.shopify.app_proxy import signed_query
from shop_app.storage.database import transaction
from shop_app.storage.tables import PushSubscription
from tests.push_peer import Browser, PushService, verify_vapid

ABANDONED = "2026-03-02T19:00:00+01:00"
FIRST_DUE = "2026-03-02T19:00:00+00:00"
WITH_PUSH = {
    "recovery": {"first": {"channels": ["email", "push"]}, "whatsapp": {"enabled": False}, "prime": {"enabled": False}}
}


@pytest.fixture
def push_service():
    with PushService() as service:
        yield service


def subscribe(store, browser: Browser, cart_token: str):
    query = signed_query(
        {
            "shop": store.domain,
            "path_prefix": "/apps/reclaim",
            "timestamp": str(int(time.time())),
            "logged_in_customer_id": "",
        },
        store.rt.settings.shopify_api_secret,
    )
    response = store.client.post(
        "/proxy/subscribe",
        query_string=query,
        content_type="application/json",
        data=json.dumps({"subscription": browser.subscription, "cart_token": cart_token}),
    )
    assert response.status_code == 201, response.get_json()


def subscriptions(store) -> list[PushSubscription]:
    with transaction(store.rt.sessions) as session:
        return list(session.scalars(select(PushSubscription)))


def test_a_subscribed_browser_gets_the_reminder_encrypted_and_signed(store, push_service):
    store.set_settings(WITH_PUSH)
    browser = Browser(push_service.endpoint())
    store.deliver("checkouts/create", store.checkout("c1", ABANDONED))
    assert {m["channel"] for m in store.messages()} == {"email"}  # no subscription yet: no push planned
    subscribe(store, browser, "cart-c1")  # the shopper said yes on the storefront afterwards
    assert {m["channel"] for m in store.messages()} == {"email", "push"}

    store.tick(FIRST_DUE)
    push = store.message(channel="push")
    assert push["status"] == "sent", push
    [received] = push_service.received
    payload = browser.payload(received)
    assert "Demo Shop" in payload["title"]
    assert "Linen shirt" in payload["body"]
    assert store.links(payload["url"]) == ["https://demo-shop.myshopify.com/71234/checkouts/ac/c1/recover?key=k1"]

    claims = verify_vapid(received.headers["authorization"])
    assert claims["aud"] == push_service.origin
    assert claims["sub"] == store.rt.settings.vapid_contact
    assert 0 < claims["exp"] - time.time() <= 24 * 3600
    keys = vapid_keys(store.rt.sessions, store.rt.box)
    assert received.headers["authorization"].endswith(f"k={keys.public}")  # the key the storefront subscribed with
    assert int(received.headers["ttl"]) > 0
    assert received.headers["urgency"] in ("normal", "high")
    assert received.headers["content-encoding"] == "aes128gcm"
    topic = received.headers["topic"]
    assert 0 < len(topic) <= 32 and topic.replace("-", "").replace("_", "").isalnum()


def test_a_gone_subscription_is_removed_and_the_message_fails_with_the_reason(store, push_service):
    store.set_settings(WITH_PUSH)
    browser = Browser(push_service.endpoint())
    subscribe(store, browser, "cart-c1")
    store.deliver("checkouts/create", store.checkout("c1", ABANDONED))
    push_service.answer_with(410)
    store.tick(FIRST_DUE)
    push = store.message(channel="push")
    assert push["status"] == "failed"
    assert "410" in push["reason"] and "subscription was removed" in push["reason"]
    assert subscriptions(store) == []
    assert store.message(channel="email")["status"] == "sent"  # the other channel is not affected


def test_a_throttled_push_is_retried_after_the_services_retry_after(store, push_service):
    store.set_settings(WITH_PUSH)
    browser = Browser(push_service.endpoint())
    subscribe(store, browser, "cart-c1")
    store.deliver("checkouts/create", store.checkout("c1", ABANDONED))
    push_service.answer_with(429, {"Retry-After": "600"})
    store.tick(FIRST_DUE)
    push = store.message(channel="push")
    assert push["status"] == "scheduled" and push["due_at"] == "2026-03-02T19:10:00+00:00"
    push_service.answer_with(201, {"Location": f"{push_service.origin}/m/1"})
    store.tick(push["due_at"])
    assert store.message(channel="push")["status"] == "sent"
    assert "Demo Shop" in browser.payload(push_service.received[-1])["title"]
