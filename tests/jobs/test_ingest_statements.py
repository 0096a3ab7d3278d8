"""What one checkout webhook costs the ingest job in SQL statements (issue 13, item 6).

Counted with the engine's own event on the real job (jobs/ingest.py, drained by a real RQ worker),
so a change that adds a read or a per-message write shows here. The ceilings are today's figures:

- create (8): the delivery with its shop, settings and plan rows; the checkout with its customer's
  known profile (both locked); the checkout's INSERT, its profile id in it; both consent boxes in
  one upsert; the journey, its messages, the cart's push subscription, the paying order and the
  conversion's candidate orders in one read; the journey's INSERT with its reach, anchor and
  conversion; the messages' INSERT; the delivery's UPDATE.
- update (8): the same two reads, the checkout's UPDATE, the consent upsert, the plan read; the
  moved messages (and their copy of the abandonment time) in one executemany UPDATE; the journey's
  one UPDATE (abandonment, anchor, conversion); the delivery's UPDATE.

A journey's start also asks the shop's plan for its monthly limit (billing/usage.py, issue 14): nothing
more on an unlimited plan (Scale, a development store, a custom app); one SELECT when the plan was never
read (a missing row is not remembered by the session); the shop's row locked and the month's journeys
counted, two statements, on a limited one (Free, Growth). A new customer costs her profile's INSERT.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest
from sqlalchemy import event

from jobs.pickup import pick_up
from shop_app.shopify.shops import get_shop
from shop_app.storage.billing_tables import ShopPlan
from shop_app.storage.database import transaction
from tests.support import DrainWorker

T0 = "2026-03-02T19:00:00+01:00"
T1 = "2026-03-02T19:05:00+01:00"

#: Statements per ingest, at most: a new checkout with both boxes ticked (4 messages planned),
#: and its update (the same 4 messages moved), for a shop on an unlimited plan.
CREATE_CEILING = 8
UPDATE_CEILING = 8
#: The shop's plan as the app last read it: never (no row), or the Free plan (no subscription).
NEVER_READ, FREE = "never read", "free"


@contextmanager
def statements(rt) -> Iterator[list[str]]:
    sent: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        sent.append(" ".join(statement.split())[:60])

    event.listen(rt.engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(rt.engine, "before_cursor_execute", record)


def ingested(store, topic: str, payload: dict) -> list[str]:
    assert store.post(topic, payload).get_json()["status"] == "accepted"
    pick_up(store.rt)  # the dispatcher's pass gives the delivery its job (jobs/pickup.py): not the ingest's
    with statements(store.rt) as sql:  # the ingest job alone, run by a real RQ worker
        DrainWorker(list(store.rt.queue.queues.values()), connection=store.rt.redis).work(burst=True)
    return sql


def read_plan(store, handle: str | None) -> None:
    """The shop's plan as the setup job stores it after an install (jobs/shop.py): `handle`'s
    subscription active, or none (the Free plan)."""
    now = datetime.now(UTC)
    status = "ACTIVE" if handle else None
    with transaction(store.rt.sessions) as session:
        shop_id = get_shop(session, store.domain).id
        session.add(ShopPlan(shop_id=shop_id, handle=handle, status=status, checked_at=now, updated_at=now))


@pytest.mark.parametrize(
    ("plan", "create_ceiling"),
    [
        ("scale", CREATE_CEILING),  # unlimited: no usage to count
        (NEVER_READ, CREATE_CEILING + 1),  # plan_of asks for the missing row (the session keeps no absence)
        (FREE, CREATE_CEILING + 2),  # limited: the shop's row locked, then this month's journeys counted
    ],
)
def test_a_checkout_is_planned_and_moved_in_a_bounded_number_of_statements(store, plan, create_ceiling):
    if plan != NEVER_READ:
        read_plan(store, None if plan == FREE else plan)
    ingested(store, "checkouts/create", store.checkout("warm", T0, email="warm@example.com"))  # caches warm
    fields = {"email": "ana@example.com", "accepts_marketing": True}
    created = ingested(store, "checkouts/create", store.checkout("c1", T0, **fields))
    planned = store.messages()
    updated = ingested(store, "checkouts/update", store.checkout("c1", T1, **fields))
    print(f"\n{plan}: checkouts/create: {len(created)} statements; checkouts/update: {len(updated)}")
    for line in created + ["--"] + updated:
        print("   ", line)

    mine = [m for m in store.messages() if m["id"] in {p["id"] for p in planned}]
    assert len(mine) >= 2 and all(m["status"] == "scheduled" for m in mine)
    assert {m["id"]: m["due_at"] for m in mine} != {p["id"]: p["due_at"] for p in planned}  # they moved
    assert sum(s.startswith("INSERT INTO messages") for s in created) == 1  # one INSERT for the plan
    assert sum(s.startswith("UPDATE messages SET due_at") for s in updated) == 1  # one executemany
    assert sum(s.startswith("UPDATE journeys") for s in created + updated) == 1  # the update's one
    assert len(created) <= create_ceiling
    assert len(updated) <= UPDATE_CEILING
