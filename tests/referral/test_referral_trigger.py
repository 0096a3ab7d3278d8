"""The referral trigger through the real webhook routes and worker (issue 11)."""

from __future__ import annotations

from sqlalchemy import select

from shop_app.storage.database import transaction
from shop_app.storage.tables import Journey, WebhookDelivery


def _reasons(store) -> list[str]:
    with transaction(store.rt.sessions) as session:
        return [d.reason or "" for d in session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id))]


def _referral_journeys(store) -> list[Journey]:
    with transaction(store.rt.sessions) as session:
        return list(session.scalars(select(Journey).where(Journey.flow == "referral")))


def test_a_captured_first_order_starts_one_journey_and_a_repeat_none(store) -> None:
    store.deliver("checkouts/create", store.checkout("c1", "2026-03-02T18:00:00+01:00", email="ana@example.com"))
    store.deliver("orders/paid", store.order("c1", "2026-03-02T19:00:00+01:00", id=9001, name="#1001"))
    assert "referral journey" in _reasons(store)[-1] and "started" in _reasons(store)[-1]
    store.deliver("orders/paid", store.order("c1", "2026-03-02T19:00:00+01:00", id=9001, name="#1001"))
    store.deliver("orders/paid", store.order(None, "2026-03-05T19:00:00+01:00", id=9002, name="#1002"))
    assert "repeat order" in _reasons(store)[-1] or "already" in _reasons(store)[-1]
    assert len(_referral_journeys(store)) == 1


def test_test_orders_start_nothing_with_a_reason(store) -> None:
    store.deliver("orders/paid", store.order(None, "2026-03-02T19:00:00+01:00", id=9101, test=True))
    assert "test order" in _reasons(store)[-1]
    assert _referral_journeys(store) == []


def test_an_imported_customer_starts_nothing(store) -> None:
    old = {"id": 7001, "email": "ana@example.com", "created_at": "2020-01-01T00:00:00Z", "first_name": "Ana"}
    store.deliver("customers/create", old)
    store.deliver("orders/paid", store.order(None, "2026-03-02T19:00:00+01:00", id=9201))
    assert "imported" in _reasons(store)[-1]
    assert _referral_journeys(store) == []


def test_a_cancelled_triggering_order_cancels_the_pending_review(store) -> None:
    store.deliver("orders/paid", store.order(None, "2026-03-02T19:00:00+01:00", id=9301, name="#1301"))
    store.deliver("orders/fulfilled", {"id": 9301, "updated_at": "2026-03-03T10:00:00Z"})
    assert {m["step"] for m in store.messages(flow="referral")} == {"review", "social", "invite"}
    store.deliver("orders/cancelled", {"id": 9301, "cancelled_at": "2026-03-04T10:00:00Z"})
    assert {m["status"] for m in store.messages(flow="referral")} == {"cancelled"}
    assert all("cancelled" in (m["reason"] or "") for m in store.messages(flow="referral"))
