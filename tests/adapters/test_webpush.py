"""Web Push against a real push-service peer on 127.0.0.1 (tests/push_peer.py): what the
browser would decrypt, what the push service would check, and how its answers map."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from dataclasses import replace

import pytest
import requests
from sqlalchemy import func, select

from shop_app.adapters.outgoing import OutgoingMessage, Rejection, SendStatus
from shop_app.adapters.webpush import (
    DEFAULT_TTL_SECONDS,
    MAX_PLAINTEXT_BYTES,
    PushTransport,
    generate_vapid_keys,
    retry_after_seconds,
    topic_header,
)
from shop_app.channels.push_subscriptions import vapid_keys
from shop_app.storage.channel_tables import AppKey
from shop_app.storage.database import transaction
from tests.push_peer import Browser, PushService, unb64url, verify_vapid

CONTACT = "mailto:push@reclaim.example"
TOPIC = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


@pytest.fixture
def push():
    with PushService() as service:
        yield service


@pytest.fixture(scope="module")
def keys():
    return generate_vapid_keys()


def message(browser: Browser, **changes) -> OutgoingMessage:
    base = OutgoingMessage(
        message_id=7,
        shop="demo-shop.myshopify.com",
        channel="push",
        to="push:tok-1",
        subject="Your cart is waiting",
        body="Ana, the blue scarf is still in your cart.",
        sender_name="Demo Shop",
        push_subscription=browser.subscription,
        topic="checkout-tok-1",
        link="https://demo-shop.myshopify.com/checkouts/tok-1/recover?key=abc",
    )
    return replace(base, **changes)


def transport(keys, **options) -> PushTransport:
    return PushTransport(keys[0], CONTACT, **options)


# --- what the browser and the push service see ---------------------------------------------------
def test_the_browser_decrypts_exactly_the_payload(push, keys):
    browser = Browser(push.endpoint())
    result = transport(keys).send(message(browser))

    assert result.status is SendStatus.SENT, result
    [received] = push.received
    assert received.path == "/push/sub-1"
    assert received.headers["content-encoding"] == "aes128gcm"
    assert browser.payload(received) == {
        "title": "Your cart is waiting",
        "body": "Ana, the blue scarf is still in your cart.",
        "url": "https://demo-shop.myshopify.com/checkouts/tok-1/recover?key=abc",
        "tag": topic_header("checkout-tok-1"),
    }


def test_the_title_falls_back_to_the_shop_name(push, keys):
    browser = Browser(push.endpoint())
    transport(keys).send(message(browser, subject=None))
    assert browser.payload(push.received[0])["title"] == "Demo Shop"


def test_vapid_jwt_is_signed_for_the_push_origin_by_our_key(push, keys):
    browser = Browser(push.endpoint())
    before = time.time()
    transport(keys).send(message(browser))

    [received] = push.received
    claims = verify_vapid(received.headers["authorization"])
    assert claims["aud"] == push.origin
    assert claims["sub"] == CONTACT
    assert before < claims["exp"] <= time.time() + 24 * 3600
    k = received.headers["authorization"].split("k=")[1]
    assert unb64url(k) == unb64url(keys[1])  # the application server key the browser subscribed with


def test_a_forged_vapid_signature_is_caught_by_the_peer(push, keys):
    """The peer's check can fail: a JWT signed by another key does not verify with our k."""
    browser = Browser(push.endpoint())
    transport(keys).send(message(browser))
    other = Browser(push.endpoint("other"))
    transport(generate_vapid_keys()).send(message(other))
    ours, theirs = (r.headers["authorization"] for r in push.received)
    forged = ours.split(",")[0] + ",k=" + theirs.split("k=")[1]
    with pytest.raises(AssertionError, match="does not verify"):
        verify_vapid(forged)


def test_ttl_and_urgency_headers(push, keys):
    browser = Browser(push.endpoint())
    transport(keys).send(message(browser))
    transport(keys, ttl=600, urgency="high").send(message(browser))

    default, configured = push.received
    assert int(default.headers["ttl"]) == DEFAULT_TTL_SECONDS > 0
    assert default.headers["urgency"] == "normal"
    assert configured.headers["ttl"] == "600"
    assert configured.headers["urgency"] == "high"


def test_transport_refuses_ttl_zero_and_unknown_urgency(keys):
    with pytest.raises(ValueError, match="ttl"):
        transport(keys, ttl=0)
    with pytest.raises(ValueError, match="urgency"):
        transport(keys, urgency="urgent")


def test_topic_is_valid_and_follows_the_checkout(push, keys):
    browser = Browser(push.endpoint())
    sender = transport(keys)
    sender.send(message(browser, message_id=1, topic="checkout-tok-1"))
    sender.send(message(browser, message_id=2, topic="checkout-tok-1"))
    sender.send(message(browser, message_id=3, topic="checkout-tok-2"))
    sender.send(message(browser, message_id=4, topic="a topic with spaces, ünïcode and far more than 32 characters"))
    sender.send(message(browser, message_id=5, topic=None))

    first, again, other, odd, none = (r.headers.get("topic") for r in push.received)
    assert all(TOPIC.match(t) for t in (first, again, other, odd))
    assert first == again != other
    assert none is None
    assert browser.payload(push.received[4])["tag"] == "reclaim-5"


def test_two_push_services_each_get_their_own_audience(keys):
    """pywebpush writes aud into the claims dict it is given; a shared dict would keep the first."""
    sender = transport(keys)
    with PushService() as first, PushService() as second:
        assert first.origin != second.origin
        sender.send(message(Browser(first.endpoint())))
        sender.send(message(Browser(second.endpoint())))
        sender.send(message(Browser(first.endpoint())))
        audiences = [verify_vapid(r.headers["authorization"])["aud"] for r in first.received + second.received]
    assert audiences == [first.origin, first.origin, second.origin]


def test_a_long_body_is_trimmed_to_one_record(push, keys):
    browser = Browser(push.endpoint())
    result = transport(keys).send(message(browser, body="Ä long story. " * 1000))

    assert result.status is SendStatus.SENT
    [received] = push.received
    plaintext = browser.decrypt(received.body)
    assert len(plaintext) <= MAX_PLAINTEXT_BYTES
    assert len(received.body) <= 4096
    payload = json.loads(plaintext)
    assert payload["body"].startswith("Ä long story.") and payload["body"].endswith("…")
    assert payload["url"].endswith("recover?key=abc")  # the link is never cut


def test_a_link_too_long_for_one_record_fails_without_sending(push, keys):
    browser = Browser(push.endpoint())
    result = transport(keys).send(message(browser, link="https://x.example/" + "a" * 5000))
    assert result.status is SendStatus.FAILED_PERMANENT
    assert push.received == []


# --- what the push service answered -------------------------------------------------------------------
def test_sent_carries_the_location_as_provider_id(push, keys):
    result = transport(keys).send(message(Browser(push.endpoint())))
    assert result.status is SendStatus.SENT
    assert result.provider_id == f"{push.origin}/message/1"
    assert result.raw["status"] == 201


@pytest.mark.parametrize("status", [404, 410])
def test_gone_subscription_is_permanent_and_says_so(push, keys, status):
    push.answer_with(status, body=b"push subscription has unsubscribed or expired.")
    result = transport(keys).send(message(Browser(push.endpoint())))
    assert result.status is SendStatus.FAILED_PERMANENT
    assert result.rejection is Rejection.SUBSCRIPTION_GONE
    assert result.raw["status"] == status
    assert "unsubscribed or expired" in result.raw["body"] and str(status) in result.detail


def test_throttled_is_transient_with_retry_after(push, keys):
    push.answer_with(429, {"Retry-After": "120"})
    result = transport(keys).send(message(Browser(push.endpoint())))
    assert result.status is SendStatus.FAILED_TRANSIENT
    assert result.retry_after == 120.0
    assert result.rejection is None
    assert result.raw["headers"]["Retry-After"] == "120"


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_transient(push, keys, status):
    push.answer_with(status)
    result = transport(keys).send(message(Browser(push.endpoint())))
    assert result.status is SendStatus.FAILED_TRANSIENT
    assert result.rejection is None


@pytest.mark.parametrize("status", [400, 401, 403, 413])
def test_refusals_are_permanent_with_detail(push, keys, status):
    push.answer_with(status, body=b"nope")
    result = transport(keys).send(message(Browser(push.endpoint())))
    assert result.status is SendStatus.FAILED_PERMANENT
    assert result.rejection is None
    assert str(status) in result.detail
    assert "nope" not in result.detail and result.raw["body"] == "nope"  # what a host said stays out of reasons


def test_unreachable_push_service_is_transient(keys):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = transport(keys).send(message(Browser(f"http://127.0.0.1:{port}/push/x")))
    assert result.status is SendStatus.FAILED_TRANSIENT
    assert "unreachable" in result.detail


def test_missing_or_broken_subscription_is_an_invalid_address(push, keys):
    browser = Browser(push.endpoint())
    broken = {"endpoint": push.endpoint(), "keys": {"p256dh": "AAAA", "auth": browser.subscription["keys"]["auth"]}}
    for subscription in (None, broken):
        result = transport(keys).send(message(browser, push_subscription=subscription))
        assert result.status is SendStatus.FAILED_PERMANENT
        assert result.rejection is Rejection.INVALID_ADDRESS
    assert push.received == []


def test_retry_after_reads_seconds_and_http_dates():
    assert retry_after_seconds("30") == 30.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None


# --- the app's VAPID keys -----------------------------------------------------------------------------
def test_vapid_keys_are_made_once_and_sealed_at_rest(rt, push):
    first = vapid_keys(rt.sessions, rt.box)
    second = vapid_keys(rt.sessions, rt.box)
    assert first == second
    with transaction(rt.sessions) as session:
        row = session.get(AppKey, "vapid")
        assert row.private != first.private and rt.box.open(row.private) == first.private
        assert row.public == first.public
    # The stored pair works: a push signed with it verifies with the public key browsers were given.
    PushTransport(first.private, CONTACT).send(message(Browser(push.endpoint())))
    k = push.received[0].headers["authorization"].split("k=")[1]
    assert unb64url(k) == unb64url(first.public)
    assert len(unb64url(first.public)) == 65


def test_concurrent_first_use_agrees_on_one_key(rt):
    barrier, results, errors = threading.Barrier(6), [], []

    def first_use():
        try:
            barrier.wait()
            results.append(vapid_keys(rt.sessions, rt.box))
        except Exception as exc:  # reported below, a thread cannot fail the test itself
            errors.append(exc)

    threads = [threading.Thread(target=first_use) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(results) == 6 and len(set(results)) == 1
    with transaction(rt.sessions) as session:
        assert session.scalar(select(func.count()).select_from(AppKey)) == 1


def test_a_redirect_is_not_followed(push, keys):
    """A host that redirects our POST elsewhere (an internal address, say) gets nothing more from us."""
    with PushService() as elsewhere:
        push.answer_with(307, {"Location": elsewhere.endpoint("inside")})
        result = transport(keys).send(message(Browser(push.endpoint())))
        assert result.status is SendStatus.FAILED_PERMANENT and "307" in result.detail
        assert elsewhere.received == []


def test_a_timeout_after_sending_is_raised_not_retried(keys, monkeypatch):
    """The push may have gone out: the send job records `unknown` instead of sending it twice."""
    import shop_app.adapters.webpush as webpush_module

    monkeypatch.setattr(webpush_module, "SEND_TIMEOUT_SECONDS", 0.5)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)  # accepts the connection, never answers
        endpoint = f"http://127.0.0.1:{silent.getsockname()[1]}/push/x"
        with pytest.raises(requests.ReadTimeout):
            transport(keys).send(message(Browser(endpoint)))
