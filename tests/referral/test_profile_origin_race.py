"""The setup job's import and a first order of the same buyer at the same moment (audit bug 5), on
PostgreSQL, each in its own worker thread on its own connection: the order has judged its profile
captured (her guest checkout made it) and is about to start her journey when the import learns that
Shopify created her before the install. The import's correction waits for the order's lock on the
profile, then sees the journey and leaves her captured: never an imported profile with a referral
journey (product §7.4: nothing of the referral flow to an imported profile).

SQLite serializes writers, so there is no race to see there: PostgreSQL only (and must under CI)."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

from sqlalchemy import select, text

import jobs.shop
from jobs.ingest import ingest_delivery
from shop_app.referral import journeys
from shop_app.storage.database import transaction
from shop_app.storage.tables import Journey, Profile, Shop, WebhookDelivery
from tests.referral.e2e import ANA, PAID_AT
from tests.support import postgres_only

WHY = "an import racing an order needs two real database connections at once"


def _waiting_on_a_lock(store) -> bool:
    with transaction(store.rt.sessions) as session:
        waits = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
        return bool(session.execute(text(waits)).scalar_one())


def test_the_import_leaves_captured_a_buyer_whose_first_order_is_starting_her_journey(rt, store, monkeypatch) -> None:
    postgres_only(rt, WHY)
    customer = {"id": 7001, "email": ANA}  # neither her checkout nor her order says when Shopify created her
    store.deliver("checkouts/create", store.checkout("c1", "2026-03-02T18:00:00+01:00", email=ANA, customer=customer))
    assert store.admin_api is not None
    store.admin_api.add_customer(
        store.domain, email=ANA, created_at=datetime(2020, 1, 1, tzinfo=UTC), customer_id="7001"
    )
    order = store.order("c1", PAID_AT, id=9001, name="#1001", email=ANA)
    order["customer"] = customer
    assert store.post("orders/paid", order, webhook_id="paid").status_code == 200
    with transaction(store.rt.sessions) as session:
        delivery_id = session.scalars(select(WebhookDelivery.id).where(WebhookDelivery.webhook_id == "paid")).one()
        shop = session.scalars(select(Shop).where(Shop.domain == store.domain)).one()
        shop.setup_completed_at, shop_id = None, shop.id  # the setup job has not imported her yet

    paging, go_on, judged, release = (threading.Event() for _ in range(4))
    real_import, real_refusal = jobs.shop._import, journeys.trigger_refusal

    def import_held(*args, **kwargs):  # the import reached her page; it waits for the order to judge
        paging.set()
        go_on.wait(20)
        return real_import(*args, **kwargs)

    def refusal_held(facts):  # the order judged the trigger; its journey is not inserted yet
        refusal = real_refusal(facts)
        if threading.current_thread().name == "order":
            judged.set()
            release.wait(20)
        return refusal

    monkeypatch.setattr(jobs.shop, "_import", import_held)
    monkeypatch.setattr(journeys, "trigger_refusal", refusal_held)
    outcomes: dict[str, str] = {}
    errors: list[BaseException] = []

    def run(name: str, job) -> None:
        try:
            outcomes[name] = job()
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    importing = threading.Thread(target=run, args=("import", lambda: jobs.shop.after_install(shop_id)), name="import")
    ordering = threading.Thread(target=run, args=("order", lambda: ingest_delivery(delivery_id)), name="order")
    importing.start()
    assert paging.wait(20), errors
    ordering.start()
    assert judged.wait(20), errors
    go_on.set()
    deadline = time.monotonic() + 5
    while importing.is_alive() and not _waiting_on_a_lock(store) and time.monotonic() < deadline:
        time.sleep(0.05)
    blocked = importing.is_alive()
    release.set()
    for thread in (ordering, importing):
        thread.join(60)
    assert not errors and not ordering.is_alive() and not importing.is_alive(), errors

    assert blocked, outcomes  # the import's correction waited for the order's lock on her profile
    assert "referral journey #" in outcomes["order"], outcomes
    assert outcomes["import"].endswith(": 0 existing customer(s) imported"), outcomes
    with transaction(store.rt.sessions) as session:
        profile = session.scalars(select(Profile).where(Profile.email == ANA)).one()
        referral = session.scalars(select(Journey).where(Journey.flow == "referral")).all()
        assert (profile.origin, profile.captured_by, len(referral)) == ("captured", "checkout", 1)
