"""Two checkouts of one shop ingested at the same moment when one journey is left this month: the
plan's limit holds (one planned, one refused), because the refusal locks the shop's row before it
counts. On PostgreSQL only (SQLite serializes writers: there is no race to see there)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from sqlalchemy import select

from jobs.ingest import ingest_delivery
from shop_app.billing import usage
from shop_app.devtools.admin_billing import billing_of
from shop_app.shopify.shops import get_shop
from shop_app.storage.database import transaction
from shop_app.storage.tables import WebhookDelivery
from tests.billing.test_billing import SHOP_A, recent, run_setup, used_up
from tests.support import postgres_only


def test_two_checkouts_racing_for_the_last_journey_of_the_month_get_one(rt, store, admin_api, monkeypatch):
    postgres_only(rt, "two ingests racing need two real database connections at once")
    billing_of(admin_api).set_development(SHOP_A, False)
    run_setup(rt)
    used_up(rt, 49)

    both_asking = threading.Barrier(2, timeout=20)
    original = usage.refusal

    def refusal_when_both_ask(session, shop, now):
        both_asking.wait()  # neither has counted yet
        return original(session, shop, now)

    monkeypatch.setattr(usage, "refusal", refusal_when_both_ask)
    ids = []
    for n, token in enumerate(("race-a", "race-b")):
        webhook_id = f"wh-{token}"
        # Two customers: nothing else of theirs (profile, consent) is shared to lock.
        customer = {"id": 8100 + n, "email": f"{token}@example.com", "phone": None, "first_name": "B"}
        payload = store.checkout(token, recent(), email=customer["email"], phone=None, sms_marketing_phone=None,
                                 customer=customer)  # fmt: skip
        assert store.post("checkouts/create", payload, webhook_id=webhook_id).status_code == 200
        with transaction(rt.sessions) as session:
            found = select(WebhookDelivery.id).where(WebhookDelivery.webhook_id == webhook_id)
            ids.append(session.scalars(found).one())

    outcomes: dict[int, str] = {}
    errors: list[BaseException] = []

    def worker(delivery_id: int) -> None:
        try:
            outcomes[delivery_id] = ingest_delivery(delivery_id)
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(d,)) for d in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors and all(not t.is_alive() for t in threads), errors

    assert sorted(o.startswith("plan limit") for o in outcomes.values()) == [False, True], outcomes
    with transaction(rt.sessions) as session:
        assert usage.journeys_used(session, get_shop(session, SHOP_A).id, datetime.now(UTC)) == 50
    statuses = {token: {m["status"] for m in store.messages(checkout_token=token)} for token in ("race-a", "race-b")}
    assert sorted(map(sorted, statuses.values())) == [["scheduled"], ["skipped"]]
