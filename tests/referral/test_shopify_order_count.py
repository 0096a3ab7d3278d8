"""Shopify's numberOfOrders decides with our own count whether a referral journey's order is a
first purchase (issue 11, the trigger): asked once the ingest committed, through the real webhook
routes, the worker, the dispatcher's pass and the development Admin API. The journey row holds the
question's attempts (journeys.shopify_check*): a question lost with Redis is asked by the next pass,
a failed run waits for its backoff, and what the merchant should know of a journey that goes on is
its note, on the journey's page (stop_reason stays a stopped journey's)."""

from __future__ import annotations

import html
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from jobs.dispatch import tick
from jobs.pickup import pick_up
from shop_app.config import JOB_BACKOFF_SECONDS, MAX_JOB_ATTEMPTS
from shop_app.domain.referral import AWAITING_FULFILMENT
from shop_app.storage.database import transaction
from shop_app.storage.tables import Journey
from tests.support import DrainWorker
from tests.tokens import session_token

CUSTOMER = "7001"  # the order fixture's customer
COUNT = "CustomerOrderCount"
PAID = datetime.fromisoformat("2026-03-02T19:00:00+01:00")
GOES_ON = "; our own records count this order as the first purchase"


class WorkerKilled(BaseException):
    """What a run sees of its worker being killed: nothing it could catch and record."""


@pytest.fixture
def shop(store):
    store.rt.admin_sleep = lambda seconds: None  # the Admin client's backoff between its own retries
    return store


def _order(store, paid: datetime) -> dict:
    return store.order("c1", paid.isoformat(), id=9001, name="#1001")


def _post_paid(store, *, customer: str | None = CUSTOMER, paid: datetime = PAID) -> None:
    """Ana, captured by her checkout, pays order #1001 (with her Shopify customer id unless None):
    the checkout's ingest has run, the order's waits in the queue."""
    checkout = store.checkout("c1", (paid - timedelta(hours=1)).isoformat(), email="ana@example.com")
    order = _order(store, paid)
    if customer is None:  # a guest checkout
        checkout.pop("customer")
        order.pop("customer")
    else:
        checkout["customer"]["id"] = order["customer"]["id"] = int(customer)
    store.deliver("checkouts/create", checkout)
    assert store.post("orders/paid", order).status_code == 200


def _ingest_only(store) -> None:
    """The worker takes one job, the order's ingest, and stops (whatever the ingest enqueued waits)."""
    pick_up(store.rt)  # the dispatcher's pass gives the new delivery its ingest job
    DrainWorker(list(store.rt.queue.queues.values()), connection=store.rt.redis).work(burst=True, max_jobs=1)


def _pay(store, *, customer: str | None = CUSTOMER, paid: datetime = PAID) -> None:
    """As _post_paid, and the worker runs the order's ingest and what it enqueued."""
    _post_paid(store, customer=customer, paid=paid)
    store.drain()


def _fulfil(store, at: datetime) -> None:
    store.deliver("orders/fulfilled", {"id": 9001, "updated_at": at.isoformat()})


def _journey(store) -> Journey:
    with transaction(store.rt.sessions) as session:
        [journey] = session.scalars(select(Journey).where(Journey.flow == "referral")).all()
        session.expunge(journey)
        return journey


def _asked(admin_api, store) -> list:
    return admin_api.graphql_requests(COUNT, shop=store.domain)


def _page(store, client, journey_id: int) -> str:
    """The journey's page in the admin, as the merchant opens it."""
    rt = store.rt
    token = session_token(store.domain, api_key=rt.settings.shopify_api_key, secret=rt.settings.shopify_api_secret)
    response = client.get(
        f"/activity/{journey_id}?shop={store.domain}&id_token={token}", headers={"Accept": "text/html"}
    )
    assert response.status_code == 200
    return html.unescape(response.get_data(as_text=True))


def _next_10_utc(after: datetime) -> datetime:
    """The first 10:00 UTC after `after`: inside the shop's delivery windows (09:00-21:00 Madrid)."""
    at = after.replace(hour=10, minute=0, second=0, microsecond=0)
    return at if at > after else at + timedelta(days=1)


def test_a_customer_shopify_counts_3_orders_for_stops_the_journey_and_nothing_is_sent(shop, admin_api) -> None:
    admin_api.set_order_count(shop.domain, CUSTOMER, 3)
    _pay(shop)
    journey = _journey(shop)
    assert (journey.status, journey.shopify_check, journey.note) == ("stopped", "done", None)
    assert journey.stop_reason == "not a first purchase: Shopify counts 3 orders for this customer"
    [asked] = _asked(admin_api, shop)
    assert asked.variables == {"id": "gid://shopify/Customer/7001"}
    [review] = shop.messages(flow="referral")
    assert review["status"] == "cancelled" and review["reason"] == journey.stop_reason

    _fulfil(shop, datetime.fromisoformat("2026-03-03T10:00:00+00:00"))  # plans nothing now
    for day in ("2026-03-06T10:01:00+00:00", "2026-03-10T10:01:00+00:00", "2026-04-02T10:00:00+00:00"):
        shop.tick(day)
    assert {m["status"] for m in shop.messages(flow="referral")} == {"cancelled"}
    assert shop.outbox() == []
    assert len(_asked(admin_api, shop)) == 1


def test_a_customer_shopify_counts_1_order_for_goes_on(shop, admin_api) -> None:
    admin_api.set_order_count(shop.domain, CUSTOMER, 1)
    _pay(shop)
    journey = _journey(shop)
    assert (journey.status, journey.stop_reason, journey.note, journey.shopify_check) == ("active", None, None, "done")
    [review] = shop.messages(flow="referral")
    assert review["status"] == "scheduled" and review["reason"] == AWAITING_FULFILMENT
    _fulfil(shop, datetime.fromisoformat("2026-03-03T10:00:00+00:00"))
    shop.tick("2026-03-06T10:01:00+00:00")  # 3 days after the fulfilment
    assert shop.message(flow="referral", step="review")["status"] == "sent"
    assert [m["to"] for m in shop.outbox()] == ["ana@example.com"]
    shop.tick(datetime.now(UTC) + timedelta(days=1))  # the dispatcher's pass does not ask again
    assert len(_asked(admin_api, shop)) == 1


def test_throttled_then_answered_is_decided_once(shop, admin_api) -> None:
    admin_api.set_order_count(shop.domain, CUSTOMER, 3)
    admin_api.inject_throttled(1)
    _pay(shop)
    answers = [r.answer for r in _asked(admin_api, shop)]
    assert len(answers) == 2 and answers[0]["errors"][0]["extensions"]["code"] == "THROTTLED"
    assert answers[1]["data"] == {"customer": {"numberOfOrders": "3"}}
    journey = _journey(shop)
    assert journey.status == "stopped" and journey.stop_reason.endswith("Shopify counts 3 orders for this customer")
    # The same order paid again (Shopify retries with a new delivery id): no second journey, no second question.
    shop.deliver("orders/paid", _order(shop, PAID))
    assert len(_asked(admin_api, shop)) == 2
    assert _journey(shop).stop_reason == journey.stop_reason


def test_a_check_lost_with_redis_is_asked_by_the_dispatchers_next_pass(shop, admin_api) -> None:
    admin_api.set_order_count(shop.domain, CUSTOMER, 3)
    _post_paid(shop)
    _ingest_only(shop)
    journey = _journey(shop)  # the ingest committed the journey and enqueued its question…
    assert (journey.status, journey.shopify_check, journey.shopify_check_attempts) == ("active", "pending", 0)
    shop.rt.redis.flushdb()  # …which Redis loses before any worker takes it
    shop.drain()
    assert _asked(admin_api, shop) == []

    shop.tick(datetime.now(UTC))
    [asked] = _asked(admin_api, shop)
    assert asked.variables == {"id": "gid://shopify/Customer/7001"}
    journey = _journey(shop)
    assert (journey.status, journey.shopify_check) == ("stopped", "done")
    assert journey.stop_reason == "not a first purchase: Shopify counts 3 orders for this customer"
    assert shop.message(flow="referral", step="review")["status"] == "cancelled"
    shop.tick(datetime.now(UTC) + timedelta(hours=3))  # asked once
    assert len(_asked(admin_api, shop)) == 1


def test_a_check_waiting_in_the_queue_is_not_enqueued_again_and_runs_once(shop, admin_api) -> None:
    admin_api.set_order_count(shop.domain, CUSTOMER, 1)
    _post_paid(shop)
    _ingest_only(shop)
    journey_id = _journey(shop).id
    for _ in range(2):  # the dispatcher's passes while the ingest's check still waits for a worker
        tick(datetime.now(UTC).isoformat())
    assert shop.rt.queue.queues["ingest"].job_ids == [f"referral-check-{journey_id}-1"]
    shop.drain()
    assert len(_asked(admin_api, shop)) == 1
    assert _journey(shop).shopify_check == "done"


def test_a_failed_run_is_tried_again_after_its_backoff_not_before(shop, admin_api, client) -> None:
    admin_api.set_order_count(shop.domain, CUSTOMER, 2)
    admin_api.inject_status(503, count=5, operation=COUNT)  # the client's 5 tries of the first run
    before = datetime.now(UTC)
    _pay(shop, paid=before - timedelta(hours=1))
    after = datetime.now(UTC)
    assert [r.status for r in _asked(admin_api, shop)] == [503] * 5
    journey = _journey(shop)
    assert (journey.status, journey.stop_reason, journey.shopify_check_attempts) == ("active", None, 1)
    due = journey.shopify_check_due_at
    backoff = timedelta(seconds=JOB_BACKOFF_SECONDS[0])
    assert before + backoff <= due <= after + backoff  # the first run's end, plus the first backoff
    assert journey.note == (
        f"Shopify's order count: attempt 1 of {MAX_JOB_ATTEMPTS} failed (AdminApiUnavailable: {COUNT} on "
        f"{shop.domain}: gave up after 5 attempts: HTTP 503); next at {due:%Y-%m-%d %H:%M:%S} UTC"
    )
    assert journey.note in _page(shop, client, journey.id)

    shop.tick(due - timedelta(seconds=1))
    assert len(_asked(admin_api, shop)) == 5  # not before the backoff's end
    shop.tick(due)
    assert [r.status for r in _asked(admin_api, shop)] == [503] * 5 + [200]
    journey = _journey(shop)
    assert (journey.status, journey.shopify_check, journey.note) == ("stopped", "done", None)
    assert journey.stop_reason == "not a first purchase: Shopify counts 2 orders for this customer"


def test_a_lost_answer_is_asked_again_and_decided_once(shop, admin_api) -> None:
    admin_api.set_order_count(shop.domain, CUSTOMER, 1)
    admin_api.inject_status(502, count=1, after_processing=True, operation=COUNT)
    _pay(shop)
    assert [r.status for r in _asked(admin_api, shop)] == [502, 200]
    journey = _journey(shop)
    assert journey.status == "active" and journey.stop_reason is None
    assert shop.message(flow="referral", step="review")["status"] == "scheduled"


def test_when_shopify_cannot_be_asked_the_journey_goes_on_and_its_note_says_so(shop, admin_api, client) -> None:
    admin_api.set_order_count(shop.domain, CUSTOMER, 3)  # never heard: every try of every run fails
    admin_api.inject_status(500, count=5 * MAX_JOB_ATTEMPTS, operation=COUNT)
    _pay(shop, paid=datetime.now(UTC) - timedelta(hours=1))
    at = datetime.now(UTC)
    for seconds in JOB_BACKOFF_SECONDS:  # each run once the backoff after the one before is over
        at += timedelta(seconds=seconds + 1)
        shop.tick(at)
    assert len(_asked(admin_api, shop)) == 5 * MAX_JOB_ATTEMPTS  # the job's attempts of the client's 5 tries
    journey = _journey(shop)
    assert (journey.status, journey.stop_reason, journey.shopify_check) == ("active", None, "unasked")
    assert journey.note.startswith("Shopify could not be asked for the customer's orders (gave up after 5 ")
    assert journey.note.endswith(GOES_ON)
    assert "ana@example.com" not in journey.note and "7001" not in journey.note
    page = _page(shop, client, journey.id)
    assert journey.note in page and "not a first purchase" not in page
    assert shop.message(flow="referral", step="review")["reason"] == AWAITING_FULFILMENT

    shop.tick(at + timedelta(days=1))  # Shopify is back: nothing asks again
    assert len(_asked(admin_api, shop)) == 5 * MAX_JOB_ATTEMPTS
    fulfilled = _next_10_utc(at + timedelta(days=1))
    _fulfil(shop, fulfilled)
    shop.tick(fulfilled + timedelta(days=3, minutes=1))
    assert shop.message(flow="referral", step="review")["status"] == "sent"
    assert len(_asked(admin_api, shop)) == 5 * MAX_JOB_ATTEMPTS


def test_a_last_run_lost_with_its_worker_gives_the_check_up_after_its_backoff(shop, admin_api) -> None:
    admin_api.set_order_count(shop.domain, CUSTOMER, 3)
    admin_api.inject_status(500, count=100, operation=COUNT)
    _pay(shop, paid=datetime.now(UTC) - timedelta(hours=1))
    at = datetime.now(UTC)
    for seconds in JOB_BACKOFF_SECONDS[:-1]:  # runs 2 to 4 fail and are recorded
        at += timedelta(seconds=seconds + 1)
        shop.tick(at)

    def killed(seconds: float) -> None:
        raise WorkerKilled

    shop.rt.admin_sleep = killed  # the last run dies between the client's tries, recording nothing
    at += timedelta(seconds=JOB_BACKOFF_SECONDS[-1] + 1)
    shop.tick(at)
    assert len(_asked(admin_api, shop)) == 5 * (MAX_JOB_ATTEMPTS - 1) + 1
    journey = _journey(shop)
    assert (journey.shopify_check, journey.shopify_check_attempts) == ("pending", MAX_JOB_ATTEMPTS)
    shop.tick(journey.shopify_check_due_at - timedelta(seconds=1))  # maybe still running: not before its backoff
    assert _journey(shop).shopify_check == "pending"
    shop.tick(journey.shopify_check_due_at)
    journey = _journey(shop)
    assert (journey.status, journey.stop_reason, journey.shopify_check) == ("active", None, "unasked")
    lost = "the job was lost or its worker killed"
    assert journey.note == (
        f"Shopify could not be asked for the customer's orders (gave up after {MAX_JOB_ATTEMPTS} failed attempts; "
        f"last: {lost})" + GOES_ON
    )
    assert len(_asked(admin_api, shop)) == 5 * (MAX_JOB_ATTEMPTS - 1) + 1


def test_a_profile_without_a_customer_id_is_not_asked_about(shop, admin_api) -> None:
    admin_api.set_order_count(shop.domain, CUSTOMER, 3)
    _pay(shop, customer=None)
    shop.tick(datetime.now(UTC) + timedelta(minutes=1))
    assert _asked(admin_api, shop) == []
    journey = _journey(shop)
    assert (journey.status, journey.shopify_check, journey.note) == ("active", "none-needed", None)


def test_a_customer_shopify_does_not_know_goes_on_by_our_count(shop, admin_api, client) -> None:
    _pay(shop, customer="424242")
    assert [r.answer["data"] for r in _asked(admin_api, shop)] == [{"customer": None}]
    journey = _journey(shop)
    assert (journey.status, journey.stop_reason, journey.shopify_check) == ("active", None, "done")
    assert journey.note == "Shopify does not know the customer" + GOES_ON
    assert journey.note in _page(shop, client, journey.id)
