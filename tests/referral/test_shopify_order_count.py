"""Shopify's numberOfOrders decides with our own count whether a referral journey's order is a
first purchase (issue 11, the trigger): asked after the ingest commits, through the real webhook
routes, the worker and the development Admin API."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from shop_app.domain.referral import AWAITING_FULFILMENT
from shop_app.storage.database import transaction
from shop_app.storage.tables import Journey

CUSTOMER = "7001"  # the order fixture's customer
COUNT = "CustomerOrderCount"


@pytest.fixture
def shop(store):
    store.rt.admin_sleep = lambda seconds: None  # the Admin client's backoff between its own retries
    return store


def _pay(store, *, customer: str | None = CUSTOMER, fulfilled: str | None = "2026-03-03T10:00:00Z") -> None:
    """Ana, captured by her checkout, pays order #1001 (with her Shopify customer id unless None)."""
    checkout = store.checkout("c1", "2026-03-02T18:00:00+01:00", email="ana@example.com")
    order = store.order("c1", "2026-03-02T19:00:00+01:00", id=9001, name="#1001")
    if customer is None:  # a guest checkout
        checkout.pop("customer")
        order.pop("customer")
    else:
        checkout["customer"]["id"] = order["customer"]["id"] = int(customer)
    store.deliver("checkouts/create", checkout)
    store.deliver("orders/paid", order)
    if fulfilled:
        store.deliver("orders/fulfilled", {"id": 9001, "updated_at": fulfilled})


def _journey(store) -> Journey:
    with transaction(store.rt.sessions) as session:
        [journey] = session.scalars(select(Journey).where(Journey.flow == "referral")).all()
        session.expunge(journey)
        return journey


def _asked(admin_api, store) -> list:
    return admin_api.graphql_requests(COUNT, shop=store.domain)


def test_a_customer_shopify_counts_3_orders_for_stops_the_journey_and_nothing_is_sent(shop, admin_api) -> None:
    admin_api.set_order_count(shop.domain, CUSTOMER, 3)
    _pay(shop, fulfilled=None)
    journey = _journey(shop)
    assert journey.status == "stopped"
    assert journey.stop_reason == "not a first purchase: Shopify counts 3 orders for this customer"
    [asked] = _asked(admin_api, shop)
    assert asked.variables == {"id": "gid://shopify/Customer/7001"}
    [review] = shop.messages(flow="referral")
    assert review["status"] == "cancelled" and review["reason"] == journey.stop_reason

    shop.deliver("orders/fulfilled", {"id": 9001, "updated_at": "2026-03-03T10:00:00Z"})  # plans nothing now
    for day in ("2026-03-06T10:01:00+00:00", "2026-03-10T10:01:00+00:00", "2026-04-02T10:00:00+00:00"):
        shop.tick(day)
    assert {m["status"] for m in shop.messages(flow="referral")} == {"cancelled"}
    assert shop.outbox() == []


def test_a_customer_shopify_counts_1_order_for_goes_on(shop, admin_api) -> None:
    admin_api.set_order_count(shop.domain, CUSTOMER, 1)
    _pay(shop, fulfilled=None)
    journey = _journey(shop)
    assert journey.status == "active" and journey.stop_reason is None
    [review] = shop.messages(flow="referral")
    assert review["status"] == "scheduled" and review["reason"] == AWAITING_FULFILMENT
    shop.deliver("orders/fulfilled", {"id": 9001, "updated_at": "2026-03-03T10:00:00Z"})
    shop.tick("2026-03-06T10:01:00+00:00")  # 3 days after the fulfilment
    assert shop.message(flow="referral", step="review")["status"] == "sent"
    assert [m["to"] for m in shop.outbox()] == ["ana@example.com"]
    assert len(_asked(admin_api, shop)) == 1


def test_throttled_then_answered_is_decided_once(shop, admin_api) -> None:
    admin_api.set_order_count(shop.domain, CUSTOMER, 3)
    admin_api.inject_throttled(1)
    _pay(shop, fulfilled=None)
    answers = [r.answer for r in _asked(admin_api, shop)]
    assert len(answers) == 2 and answers[0]["errors"][0]["extensions"]["code"] == "THROTTLED"
    assert answers[1]["data"] == {"customer": {"numberOfOrders": "3"}}
    journey = _journey(shop)
    assert journey.status == "stopped" and journey.stop_reason.endswith("Shopify counts 3 orders for this customer")
    # The same order paid again (Shopify retries with a new delivery id): no second journey, no second question.
    shop.deliver("orders/paid", shop.order("c1", "2026-03-02T19:00:00+01:00", id=9001, name="#1001"))
    assert len(_asked(admin_api, shop)) == 2
    assert _journey(shop).stop_reason == journey.stop_reason


def test_a_run_the_client_gives_up_on_is_tried_again_by_the_job(shop, admin_api) -> None:
    admin_api.set_order_count(shop.domain, CUSTOMER, 2)
    admin_api.inject_status(503, count=5, operation=COUNT)  # the client's 5 tries of the first run
    _pay(shop, fulfilled=None)
    assert [r.status for r in _asked(admin_api, shop)] == [503] * 5 + [200]
    assert _journey(shop).stop_reason == "not a first purchase: Shopify counts 2 orders for this customer"


def test_a_lost_answer_is_asked_again_and_decided_once(shop, admin_api) -> None:
    admin_api.set_order_count(shop.domain, CUSTOMER, 1)
    admin_api.inject_status(502, count=1, after_processing=True, operation=COUNT)
    _pay(shop, fulfilled=None)
    assert [r.status for r in _asked(admin_api, shop)] == [502, 200]
    journey = _journey(shop)
    assert journey.status == "active" and journey.stop_reason is None
    assert shop.message(flow="referral", step="review")["status"] == "scheduled"


def test_when_shopify_cannot_be_asked_the_journey_goes_on_and_says_so(shop, admin_api) -> None:
    admin_api.set_order_count(shop.domain, CUSTOMER, 3)  # never heard: every try fails
    admin_api.inject_status(500, count=100, operation=COUNT)
    _pay(shop, fulfilled=None)
    assert len(_asked(admin_api, shop)) == 25  # 5 job attempts of the client's 5 tries
    journey = _journey(shop)
    assert journey.status == "active"
    assert journey.stop_reason.startswith("Shopify could not be asked for the customer's orders (gave up after 5 ")
    assert journey.stop_reason.endswith("; our own records count this order as the first purchase")
    assert "ana@example.com" not in journey.stop_reason and "7001" not in journey.stop_reason
    assert shop.message(flow="referral", step="review")["reason"] == AWAITING_FULFILMENT
    admin_api.reset()  # Shopify is back: nothing asks again
    shop.deliver("orders/fulfilled", {"id": 9001, "updated_at": "2026-03-03T10:00:00Z"})
    shop.tick("2026-03-06T10:01:00+00:00")
    assert shop.message(flow="referral", step="review")["status"] == "sent"


def test_a_profile_without_a_customer_id_is_not_asked_about(shop, admin_api) -> None:
    admin_api.set_order_count(shop.domain, CUSTOMER, 3)
    _pay(shop, customer=None, fulfilled=None)
    assert _asked(admin_api, shop) == []
    assert _journey(shop).status == "active"


def test_a_customer_shopify_does_not_know_goes_on_by_our_count(shop, admin_api) -> None:
    _pay(shop, customer="424242", fulfilled=None)
    assert [r.answer["data"] for r in _asked(admin_api, shop)] == [{"customer": None}]
    journey = _journey(shop)
    assert journey.status == "active"
    assert (
        journey.stop_reason
        == "Shopify does not know the customer; our own records count this order as the first purchase"
    )
