"""A cancellation or refund that comes before its order waits for it (jobs/order_wait.py): over
the real webhook route, the real worker and dispatcher, the credited order ends up taken out of
the report, as if Shopify had delivered the webhooks in order; one whose order never comes is
processed for good when its wait runs out."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from click.testing import CliRunner
from sqlalchemy import select

import jobs.dispatch
from jobs.order_wait import ORDER_WAIT
from shop_app.cli.commands import main
from shop_app.storage.database import transaction
from shop_app.storage.measurement_tables import Attribution
from shop_app.storage.tables import OrderRow, WebhookDelivery
from tests.recovery.test_holdout_flow import ABANDONED, abandon, pick, put_settings
from tests.reporting.test_measurement_e2e import FIRST_SEND, pay


@pytest.fixture(autouse=True)
def no_grace(monkeypatch):
    monkeypatch.setattr(jobs.dispatch, "INGEST_GRACE_SECONDS", 0)


def delivery(store, topic: str) -> WebhookDelivery:
    with transaction(store.rt.sessions) as session:
        row = session.scalars(
            select(WebhookDelivery).where(WebhookDelivery.topic == topic).order_by(WebhookDelivery.id.desc())
        ).first()
        session.expunge_all()
        assert row is not None
        return row


def refund(store, order_id: int, amount: str = "84.90") -> None:
    payload = {
        "id": order_id * 10, "order_id": order_id, "created_at": "2026-03-03T10:00:00Z",
        "transactions": [{"id": order_id * 100, "kind": "refund", "status": "success", "amount": amount,
                          "currency": "EUR"}],
    }  # fmt: skip
    store.deliver("refunds/create", payload)


def recovered(store) -> dict:
    args = ["report", "--shop", store.domain, "--from", "2026-03-02", "--to", "2026-03-02", "--json"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)["recovered"]


def test_a_cancellation_and_a_refund_before_the_order_take_its_credit_out(rt, client, store):
    put_settings(rt, store, client, {"holdout_percent": 0})
    checkout = abandon(store, pick(rt, control_at=50, control=False, prefix="w"), ABANDONED)
    store.tick(FIRST_SEND)
    store.deliver("orders/cancelled", {"id": 7301, "cancelled_at": "2026-03-03T09:00:00Z"})
    waiting = delivery(store, "orders/cancelled")
    assert (waiting.status, waiting.waiting_for, waiting.body is not None) == ("received", "7301", True)
    assert waiting.reason.startswith("waiting for order 7301: its cancellation came before the order")
    refund(store, 7301)
    assert delivery(store, "refunds/create").waiting_for == "7301"

    pay(store, 7301, checkout, "2026-03-02T22:00:00+01:00")
    assert "2 cancellation or refund(s) that came first released" in delivery(store, "orders/paid").reason
    assert recovered(store) == {"orders": 1, "revenue": "84.90"}  # credited; the two still to run
    store.tick("2026-03-03T10:00:00+00:00")  # the dispatcher hands the released deliveries over

    cancelled, refunded = delivery(store, "orders/cancelled"), delivery(store, "refunds/create")
    assert (cancelled.status, cancelled.body, refunded.status) == ("processed", None, "processed")
    assert "84.90 of 84.90 EUR refunded" in refunded.reason
    with transaction(store.rt.sessions) as session:
        assert session.scalars(select(Attribution.status)).all() == ["removed"]
        assert session.scalars(select(OrderRow.refunded_total)).one() == Decimal("84.90")
    assert recovered(store) == {"orders": 0, "revenue": "0.00"}


def test_a_refund_whose_order_never_comes_is_processed_when_its_wait_runs_out(rt, client, store):
    refund(store, 7399)
    waiting = delivery(store, "refunds/create")
    assert (waiting.status, waiting.waiting_for) == ("received", "7399")
    store.tick(datetime.now(UTC) + ORDER_WAIT - timedelta(hours=1))
    assert delivery(store, "refunds/create").status == "received"  # not before its wait is over

    store.tick(datetime.now(UTC) + ORDER_WAIT + timedelta(hours=1))
    given_up = delivery(store, "refunds/create")
    assert (given_up.status, given_up.body) == ("processed", None)
    assert given_up.reason == "refund of an order we do not know (waited 3 days for it)"
