"""Two orders/paid deliveries for one captured profile ingested at the same moment (issue 11, point 2:
"never a second" referral journey), on PostgreSQL, by two worker threads on their own connections
running the ingest job as `reclaim worker` runs it.

- Two different first orders: both ingests are held just after each judged the trigger (no journey
  yet, no earlier paid order visible: neither sees the other's uncommitted order), then both try to
  start the journey. The (profile, flow) constraint decides: one journey, and the other delivery's
  reason says the customer already has one.
- One order delivered twice with different webhook ids (Shopify retried it): both start together;
  however their order upserts and trigger interleave, and after the reconciler's retry of a run that
  broke on the race, there is one journey and the other delivery says why.

SQLite serializes writers, so there is no race to see there: the test runs on PostgreSQL only (and
must under CI)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

import jobs.dispatch
from jobs.dispatch import reconcile
from jobs.ingest import ingest_delivery
from shop_app.referral import journeys
from shop_app.storage.database import transaction
from shop_app.storage.tables import Journey, WebhookDelivery
from tests.referral.e2e import ANA, PAID_AT
from tests.support import ShopifyStore, postgres_only

ALREADY = "no referral flow: this customer already has a referral journey"
WHY = "two ingests racing on one profile need two real database connections at once"


@pytest.fixture
def shop(rt, store, monkeypatch) -> ShopifyStore:
    postgres_only(rt, WHY)
    # The reconciler leaves a delivery alone for 30 s on the wall clock: here it may take it at once.
    monkeypatch.setattr(jobs.dispatch, "INGEST_GRACE_SECONDS", 0)
    after_install = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()
    ana = {"id": 7001, "email": ANA, "first_name": "Ana", "created_at": after_install}
    store.deliver("customers/create", ana)  # captured, with her customer id: nothing else to lock
    return store


def _posted(store: ShopifyStore, webhook_id: str, payload: dict) -> int:
    """Post orders/paid as Shopify does (recorded, its job enqueued) without running the job; its id."""
    assert store.post("orders/paid", payload, webhook_id=webhook_id).status_code == 200
    with transaction(store.rt.sessions) as session:
        return session.scalars(select(WebhookDelivery.id).where(WebhookDelivery.webhook_id == webhook_id)).one()


def _race(delivery_ids: list[int]) -> list[str]:
    """Run the ingest job for each delivery in its own thread, all released at once; their outcomes."""
    start = threading.Barrier(len(delivery_ids), timeout=20)
    outcomes: dict[int, str] = {}
    errors: list[BaseException] = []

    def worker(delivery_id: int) -> None:
        try:
            start.wait()
            outcomes[delivery_id] = ingest_delivery(delivery_id)
        except BaseException as error:  # noqa: BLE001 - reported by the test below
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(d,), name=f"ingest-{d}") for d in delivery_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors and all(not t.is_alive() for t in threads), errors
    return [outcomes[d] for d in delivery_ids]


def _hold_after_judging(monkeypatch, parties: int) -> threading.Barrier:
    """Each ingest waits, once it judged the trigger and found it may start a journey, until every
    one has: none of them has inserted the journey yet."""
    judged = threading.Barrier(parties, timeout=20)
    real: Callable = journeys.trigger_refusal

    def held(facts):
        refusal = real(facts)
        if refusal is None and threading.current_thread().name.startswith("ingest-"):
            judged.wait()
        return refusal

    monkeypatch.setattr(journeys, "trigger_refusal", held)
    return judged


def _reasons(store: ShopifyStore, ids: list[int]) -> list[str]:
    with transaction(store.rt.sessions) as session:
        found = {d.id: d for d in session.scalars(select(WebhookDelivery).where(WebhookDelivery.id.in_(ids)))}
        assert {d.status for d in found.values()} == {"processed"}, [(d.status, d.reason) for d in found.values()]
        return [found[i].reason or "" for i in ids]


def _referral_journeys(store: ShopifyStore) -> list[Journey]:
    with transaction(store.rt.sessions) as session:
        rows = list(session.scalars(select(Journey).where(Journey.flow == "referral")))
        session.expunge_all()
        return rows


def test_two_first_orders_of_one_profile_ingested_at_once_start_one_journey(shop, monkeypatch) -> None:
    first = shop.order(None, PAID_AT, id=9001, name="#1001")
    second = shop.order(None, "2026-03-02T19:05:00+01:00", id=9002, name="#1002")
    ids = [_posted(shop, "paid-9001", first), _posted(shop, "paid-9002", second)]
    judged = _hold_after_judging(monkeypatch, 2)

    outcomes = _race(ids)
    assert not judged.broken, "the two ingests never both reached the trigger: they did not race"
    started = [o for o in outcomes if "referral journey #" in o and " started" in o]
    assert len(started) == 1, outcomes
    reasons = _reasons(shop, ids)
    assert sorted(ALREADY in r for r in reasons) == [False, True], reasons
    [journey] = _referral_journeys(shop)
    assert reasons[[ALREADY in r for r in reasons].index(False)] == started[0]
    assert f"referral journey #{journey.id} started" in started[0]

    monkeypatch.undo()  # the drain and the tick below run unheld
    shop.drain()  # the jobs the posts enqueued find their deliveries processed; the order count is asked
    assert [len(_referral_journeys(shop))] == [1]
    shop.deliver("orders/fulfilled", {"id": 9001, "updated_at": "2026-03-03T10:00:00Z"})
    shop.deliver("orders/fulfilled", {"id": 9002, "updated_at": "2026-03-03T10:00:00Z"})
    shop.tick("2026-03-06T10:01:00+00:00")
    reviews = shop.messages(flow="referral", step="review")
    assert [r["status"] for r in reviews] == ["sent"] and [m["to"] for m in shop.outbox()] == [ANA]


def test_one_order_delivered_twice_at_once_starts_one_journey(shop) -> None:
    order = shop.order(None, PAID_AT, id=9001, name="#1001")
    ids = [_posted(shop, "paid-once", order), _posted(shop, "paid-retried", order)]
    outcomes = _race(ids)
    # A run that lost the race on the order's own row broke (one failed attempt); the reconciler
    # runs it again after its backoff.
    for minutes in (2, 10):
        reconcile(datetime.now(UTC) + timedelta(minutes=minutes))
        shop.drain()
    reasons = _reasons(shop, ids)
    assert sorted(ALREADY in r for r in reasons) == [False, True], (outcomes, reasons)
    assert not any("failed" in r for r in reasons), reasons  # a broken run was done again, not left
    assert sum(" started" in r for r in reasons) == 1, reasons
    [journey] = _referral_journeys(shop)
    assert journey.status == "active"
    [review] = shop.messages(flow="referral")
    assert (review["step"], review["status"]) == ("review", "scheduled")
