"""The webhook endpoints: every bad input gets a clear 4xx, never a 500 or a lost delivery."""

from __future__ import annotations

import http.client
import json
import threading

import pytest
from sqlalchemy import func, select
from werkzeug.serving import make_server

from shop_app.config import MAX_WEBHOOK_BYTES
from shop_app.shopify.signatures import webhook_hmac
from shop_app.shopify.topics import TOPICS
from shop_app.storage.database import transaction
from shop_app.storage.tables import CheckoutRow, Journey, Message, WebhookDelivery

ABANDONED = "2026-03-02T19:00:00+01:00"


def deliveries(rt) -> list[WebhookDelivery]:
    with transaction(rt.sessions) as session:
        return list(session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))


def count(rt, table) -> int:
    with transaction(rt.sessions) as session:
        return session.scalar(select(func.count()).select_from(table))


def test_every_declared_topic_has_a_route_that_demands_a_valid_hmac(store):
    for topic in TOPICS:
        response = store.post(topic, {"id": 1}, secret="not-the-app-secret")
        assert response.status_code == 401, topic
        assert "HMAC" in response.get_json()["error"]
    assert deliveries(store.rt) == []


def test_missing_hmac_is_401(store):
    response = store.post("checkouts/create", store.checkout("c1", ABANDONED), headers={"X-Shopify-Hmac-Sha256": ""})
    assert response.status_code == 401


def test_forged_delivery_does_not_block_the_genuine_one_with_the_same_id(store):
    payload = store.checkout("c1", ABANDONED)
    assert store.post("checkouts/create", payload, webhook_id="w-1", secret="forged").status_code == 401
    assert store.post("checkouts/create", payload, webhook_id="w-1").status_code == 200
    store.drain()
    assert [d.status for d in deliveries(store.rt)] == ["processed"]


def test_body_signed_with_the_previous_secret_is_accepted_during_rotation(rt, client):
    from shop_app import create_app, runtime
    from tests.support import ShopifyStore

    rotated = runtime.Runtime.build(
        rt.settings.with_overrides(
            shopify_api_secret="new-secret", shopify_api_secret_previous=rt.settings.shopify_api_secret
        )
    )
    try:
        store = ShopifyStore.install(rotated, create_app(runtime=rotated).test_client(), "rotating.myshopify.com")
        new = store.post("checkouts/create", store.checkout("c1", ABANDONED), secret="new-secret")
        old = store.post("checkouts/create", store.checkout("c2", ABANDONED), secret=rt.settings.shopify_api_secret)
        older = store.post("checkouts/create", store.checkout("c3", ABANDONED), secret="older-still")
        assert (new.status_code, old.status_code, older.status_code) == (200, 200, 401)
    finally:
        rotated.close()
        runtime.install(rt)


def test_oversized_body_is_413_and_nothing_recorded(store):
    huge = json.dumps({"token": "c1", "note": "x" * (MAX_WEBHOOK_BYTES + 10)}).encode()
    response = store.post("checkouts/create", None, body=huge)
    assert response.status_code == 413
    assert deliveries(store.rt) == []


@pytest.mark.parametrize("body", [b"{not json", b"", b"\xff\xfe\x00", b"[1, 2, 3]", b'"a string"'])
def test_malformed_json_with_valid_hmac_is_400_and_recorded_with_a_reason(store, body):
    response = store.post("checkouts/update", None, body=body, webhook_id="w-bad")
    assert response.status_code == 400
    assert "malformed JSON" in response.get_json()["error"]
    [delivery] = deliveries(store.rt)
    assert delivery.status == "rejected" and delivery.reason.startswith("malformed JSON")
    # Shopify's retry of the same delivery is acknowledged, not reprocessed.
    assert store.post("checkouts/update", None, body=body, webhook_id="w-bad").status_code == 200
    assert len(deliveries(store.rt)) == 1


def test_json_that_is_not_a_checkout_is_recorded_as_rejected_by_the_ingest_job(store):
    store.deliver("checkouts/create", {"hello": "world"})
    store.deliver("checkouts/create", {"token": "t", "updated_at": "yesterday"})
    store.deliver("orders/paid", {"id": 1, "created_at": "2026-03-02T19:00:00Z", "total_price": "NaN"})
    reasons = [(d.status, d.reason) for d in deliveries(store.rt)]
    assert reasons == [
        ("rejected", "unusable payload: token is missing: not a checkout payload"),
        ("rejected", "unusable payload: updated_at is not an ISO 8601 time: 'yesterday'"),
        ("rejected", "unusable payload: total_price is not a finite amount"),
    ]


@pytest.mark.parametrize(
    "headers, message",
    [
        ({"X-Shopify-Topic": "orders/paid"}, "does not match"),
        ({"X-Shopify-Webhook-Id": ""}, "Webhook-Id"),
        ({"X-Shopify-Shop-Domain": "evil.example.com"}, "myshopify.com"),
    ],
)
def test_bad_headers_are_400(store, headers, message):
    response = store.post("checkouts/create", store.checkout("c1", ABANDONED), headers=headers)
    assert response.status_code == 400
    assert message in response.get_json()["error"]
    assert deliveries(store.rt) == []


def test_unknown_shop_is_acknowledged_and_dropped(store):
    response = store.post(
        "checkouts/create", store.checkout("c1", ABANDONED), headers={"X-Shopify-Shop-Domain": "stranger.myshopify.com"}
    )
    assert response.status_code == 200 and response.get_json()["status"] == "ignored"
    assert deliveries(store.rt) == [] and count(store.rt, CheckoutRow) == 0


def test_wrong_method_and_unknown_topic_are_clear_errors(store):
    assert store.client.get("/webhooks/checkouts/create").status_code == 405
    assert store.post("carts/update", {}).status_code == 404


def test_repeated_delivery_gives_one_journey_and_one_message_per_step_and_channel(store):
    payload = store.checkout("c1", ABANDONED)
    for _ in range(3):
        response = store.post("checkouts/create", payload, webhook_id="same-delivery")
        assert response.status_code == 200
    store.drain()
    assert len(deliveries(store.rt)) == 1
    assert count(store.rt, Journey) == 1
    assert count(store.rt, Message) == 4


def test_delivery_is_recorded_even_when_redis_is_down_and_the_reconciler_enqueues_it(store, monkeypatch):
    import jobs.dispatch

    def redis_down(*args, **kwargs):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(store.rt.queue, "enqueue_ingest", redis_down)
    assert store.post("checkouts/create", store.checkout("c1", ABANDONED)).status_code == 200
    assert [d.status for d in deliveries(store.rt)] == ["received"]
    monkeypatch.undo()

    monkeypatch.setattr(jobs.dispatch, "INGEST_GRACE_SECONDS", 0)
    store.tick("2026-03-02T18:10:00+00:00")
    assert [d.status for d in deliveries(store.rt)] == ["processed"]
    assert count(store.rt, Message) == 4


def test_compliance_samples_are_processed(store, shared_webhook):
    for topic, name in [
        ("customers/data_request", "customers_data_request.json"),
        ("customers/redact", "customers_redact.json"),
    ]:
        store.deliver(topic, shared_webhook(name))
    assert [(d.topic, d.status) for d in deliveries(store.rt)] == [
        ("customers/data_request", "processed"),
        ("customers/redact", "processed"),
    ]


def test_every_subscription_in_shopify_app_toml_has_a_route(client):
    import tomllib
    from pathlib import Path

    config = tomllib.loads((Path(__file__).resolve().parents[2] / "shopify.app.toml").read_text())
    declared = config["webhooks"]["subscriptions"]
    assert config["webhooks"]["api_version"] == "2026-07"
    for subscription in declared:
        topics = subscription.get("topics", []) + subscription.get("compliance_topics", [])
        assert subscription["uri"] == f"/webhooks/{topics[0]}"
        # An unsigned POST reaches the route (401), not a 404.
        assert client.post(subscription["uri"], data=b"{}").status_code == 401
    assert sorted(t for s in declared for t in s.get("topics", []) + s.get("compliance_topics", [])) == sorted(TOPICS)


def test_deeply_nested_json_is_400_and_recorded_not_a_server_error(store):
    body = b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    response = store.post("checkouts/update", None, body=body, webhook_id="w-deep")
    assert response.status_code == 400
    assert "nested" in response.get_json()["error"]
    [delivery] = deliveries(store.rt)
    assert delivery.status == "rejected" and "nested" in delivery.reason


def _post_chunked(app, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    """POST `body` with Transfer-Encoding: chunked to `app` served by a real Werkzeug server."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        connection = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=30)
        connection.putrequest("POST", path)
        for name, value in {**headers, "Transfer-Encoding": "chunked"}.items():
            connection.putheader(name, value)
        connection.endheaders()
        for start in range(0, len(body), 64 * 1024):
            part = body[start : start + 64 * 1024]
            connection.send(b"%x\r\n%s\r\n" % (len(part), part))
        connection.send(b"0\r\n\r\n")
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        server.shutdown()


def test_a_chunked_body_is_read_whole_and_an_over_limit_one_is_413_not_truncated(store):
    def headers(body: bytes, webhook_id: str) -> dict[str, str]:
        return {
            "X-Shopify-Topic": "checkouts/create",
            "X-Shopify-Hmac-Sha256": webhook_hmac(body, store.rt.settings.shopify_api_secret),
            "X-Shopify-Shop-Domain": store.domain,
            "X-Shopify-Webhook-Id": webhook_id,
        }

    app = store.client.application
    fits = json.dumps(store.checkout("c1", ABANDONED) | {"note": "x" * 200_000}).encode()
    assert _post_chunked(app, "/webhooks/checkouts/create", fits, headers(fits, "w-fits"))[0] == 200
    huge = json.dumps({"token": "c2", "note": "x" * (MAX_WEBHOOK_BYTES + 10)}).encode()
    status, answer = _post_chunked(app, "/webhooks/checkouts/create", huge, headers(huge, "w-huge"))
    assert status == 413, answer
    assert [d.webhook_id for d in deliveries(store.rt)] == ["w-fits"]
