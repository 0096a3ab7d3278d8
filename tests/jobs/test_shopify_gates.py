"""The send job against the development Admin API: the live payment check and unique codes.

Shopify is played by the development server (tests/conftest.py), which validates every
document against the 2026-07 schema from ../shared when that folder is present."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from shop_app.storage.database import transaction
from shop_app.storage.tables import Discount, OrderRow

ABANDONED = "2026-03-02T10:00:00+01:00"  # first reminder due 10:00 UTC
FIRST_DUE = "2026-03-02T10:00:00+00:00"
PRIME_DUE = "2026-03-03T01:00:00+00:00"


@pytest.fixture
def waits(rt):
    recorded: list[float] = []
    rt.admin_sleep = recorded.append
    return recorded


UNIQUE_PRIME = {
    "recovery": {
        "first": {"enabled": False},
        "whatsapp": {"enabled": False},
        "prime": {"incentive": {"type": "percentage", "value": 20, "code_mode": "unique"}},
    },
    "delivery_windows": {"channels": []},
}


def test_a_customer_who_paid_without_a_webhook_is_skipped_as_paid(store):
    store.deliver("checkouts/create", store.checkout("c1", ABANDONED))
    store.admin_api.add_order(
        store.domain,
        checkout_token="c1",
        email="ana@example.com",
        created_at=datetime(2026, 3, 2, 9, 30, tzinfo=UTC),
        total="84.90",
    )
    store.tick(FIRST_DUE)
    first = store.message(step="first")
    assert first["status"] == "skipped"
    assert first["reason"].startswith("paid: order #") and first["reason"].endswith("(found through the Admin API)")
    assert {m["status"] for m in store.messages() if m["step"] != "first"} == {"cancelled"}
    assert store.outbox() == []
    with transaction(store.rt.sessions) as session:
        [order] = session.scalars(select(OrderRow)).all()  # recorded, as if the webhook had come
        assert order.checkout_token == "c1"
    [check] = store.admin_api.graphql_requests("OrdersForPaymentCheck")
    assert 'checkout_token:"c1"' in check.variables["query"]


def test_an_order_before_the_abandonment_does_not_count(store):
    store.deliver("checkouts/create", store.checkout("c1", ABANDONED))
    store.admin_api.add_order(store.domain, email="ana@example.com", created_at=datetime(2026, 2, 1, tzinfo=UTC))
    store.tick(FIRST_DUE)
    assert store.message(step="first")["status"] == "sent"


def test_when_shopify_cannot_answer_the_message_waits_with_a_reason(store, waits):
    store.deliver("checkouts/create", store.checkout("c1", ABANDONED))
    store.admin_api.inject_status(503, count=5)  # every attempt of the first call fails
    store.tick(FIRST_DUE)
    first = store.message(step="first")
    assert first["status"] == "scheduled"
    assert first["due_at"] == "2026-03-02T10:10:00+00:00"
    assert first["reason"].startswith("waiting: the payment check could not reach Shopify")
    assert store.outbox() == [] and len(waits) == 4  # backed off between the five attempts

    store.tick("2026-03-02T10:10:00+00:00")  # Shopify answers again
    assert store.message(step="first")["status"] == "sent"


def test_prime_gets_a_unique_single_use_code_for_that_customer_with_expiry(store):
    store.set_settings(UNIQUE_PRIME)
    store.deliver("checkouts/create", store.checkout("c1", ABANDONED))
    store.tick(PRIME_DUE)
    sent = store.outbox()
    assert sorted(m["channel"] for m in sent) == ["sms", "whatsapp"]
    [discount] = store.admin_api.discounts(store.domain)
    assert all(discount.code in m["body"] and "20% off" in m["body"] for m in sent)
    assert f"https://demo-shop.myshopify.com/discount/{discount.code}?redirect=" in sent[0]["body"]
    sent_input = discount.input
    assert sent_input["usageLimit"] == 1 and sent_input["appliesOncePerCustomer"] is True
    assert sent_input["context"] == {"customers": {"add": ["gid://shopify/Customer/7001"]}}
    assert sent_input["customerGets"]["value"] == {"percentage": 0.2}
    assert sent_input["startsAt"].startswith("2026-03-03T01:00:00")
    assert sent_input["endsAt"].startswith("2026-03-06T01:00:00")  # 72 hours
    with transaction(store.rt.sessions) as session:
        [row] = session.scalars(select(Discount)).all()
        assert (row.code, row.shopify_id, row.mode) == (discount.code, discount.id, "unique")


def test_a_retried_job_creates_one_code_not_two(store, waits):
    """Shopify creates the code but the answer is lost; the job is retried from scratch."""
    store.set_settings(UNIQUE_PRIME)
    store.deliver("checkouts/create", store.checkout("c1", ABANDONED))
    store.admin_api.inject_status(502, count=1, after_processing=False)  # first check fails, retried
    store.tick(PRIME_DUE)
    assert len(store.admin_api.discounts(store.domain)) == 1

    # Now lose the answer of a creation for a second checkout, and crash the job after it.
    store.deliver(
        "checkouts/create",
        store.checkout(
            "c2", ABANDONED, email="bo@example.com", phone="+34600999888", customer={"id": 8001, "first_name": "Bo"}
        ),
    )
    from jobs.dispatch import dispatch
    from jobs.send import send_message
    from shop_app.storage.tables import Message

    dispatch(datetime.fromisoformat(PRIME_DUE))
    with transaction(store.rt.sessions) as session:
        queued = session.execute(select(Message.id, Message.job_id).where(Message.status == "queued")).all()
    store.rt.redis.flushdb()
    message_id, job_id = queued[0]
    create = "DiscountCodeBasicCreate"
    store.admin_api.inject_status(503, count=1, after_processing=True, operation=create)  # created, answer lost
    store.admin_api.inject_status(503, count=4, operation=create)  # ...and down for every retry: the job gives up
    result = send_message(message_id, job_id, PRIME_DUE)
    assert result.startswith("scheduled: waiting for the discount code")
    assert len(store.admin_api.discounts(store.domain)) == 2  # Shopify did create c2's code
    for _ in range(3):
        store.tick("2026-03-03T01:30:00+00:00")
    codes = [d.code for d in store.admin_api.discounts(store.domain)]
    assert len(codes) == 2 == len(set(codes))  # one per checkout's Prime step, never a second
    assert {m["status"] for m in store.messages(checkout_token="c2", step="prime")} == {"sent"}


def test_throttling_and_rate_limits_are_survived(store, waits):
    store.set_settings(UNIQUE_PRIME)
    store.deliver("checkouts/create", store.checkout("c1", ABANDONED))
    store.admin_api.inject_throttled(1, currently_available=5)
    store.admin_api.inject_status(429, count=1, retry_after=2)
    store.tick(PRIME_DUE)
    assert len(store.admin_api.discounts(store.domain)) == 1
    assert {m["status"] for m in store.messages(step="prime")} == {"sent"}
    assert 2.0 in waits and any(w > 0 for w in waits if w != 2.0)


def test_a_refused_code_postpones_the_message_instead_of_sending_without_it(store, waits):
    store.set_settings(UNIQUE_PRIME)
    store.deliver("checkouts/create", store.checkout("c1", ABANDONED))
    # One code for the step, asked once in the batch for both its messages (SMS and WhatsApp): refused.
    store.admin_api.inject_user_error("MAX_APP_DISCOUNTS", "Too many discounts", count=1)
    store.tick(PRIME_DUE)
    prime = store.messages(step="prime")
    assert {m["status"] for m in prime} == {"scheduled"}
    assert all(m["reason"].startswith("waiting for the discount code") for m in prime)
    assert store.outbox() == []
    assert len(store.admin_api.graphql_requests("DiscountCodesCreate")) == 1 and len(prime) == 2
    store.tick("2026-03-03T01:30:00+00:00")
    assert {m["status"] for m in store.messages(step="prime")} == {"sent"}
    assert len(store.admin_api.discounts(store.domain)) == 1
