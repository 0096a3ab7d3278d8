"""Shopify's official 2026-07 sample payloads (../shared) go through the real routes and
the ingest job without error. Skipped outside CI only when ../shared is absent."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from shop_app.storage.database import transaction
from shop_app.storage.tables import CheckoutRow, OrderRow, WebhookDelivery

SAMPLES = [
    ("checkouts/create", "checkouts_create.json"),
    ("checkouts/update", "checkouts_create.json"),  # the page shows one body for both
    ("orders/create", "orders_create.json"),
    ("orders/paid", "orders_create.json"),
    ("checkouts/delete", "checkouts_delete.json"),
    ("app/uninstalled", "app_uninstalled.json"),
]


@pytest.mark.contract
def test_every_sample_payload_is_ingested_without_error(store, shared_webhook):
    for topic, name in SAMPLES:
        store.deliver(topic, shared_webhook(name))
    with transaction(store.rt.sessions) as session:
        outcomes = [
            (d.topic, d.status, d.reason) for d in session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id))
        ]
        checkout = session.scalar(select(CheckoutRow))
        order = session.scalar(select(OrderRow))
        assert (checkout.token, checkout.shopify_id, checkout.email) == (
            "123123123",
            "981820079255243537",
            "example@email.com",
        )
        assert str(checkout.total_price) == "421.88" and len(checkout.line_items) == 2
        assert checkout.deleted_at is not None  # matched by the delete sample's id
        assert (order.shopify_id, order.name, str(order.total_price)) == ("820982911946154508", "#9999", "404.95")
    assert [status for _, status, _ in outcomes] == ["processed"] * len(SAMPLES), outcomes
