"""What one checkout webhook costs the ingest job in SQL statements (issue 13, item 6).

Counted with the engine's own event on the real job (jobs/ingest.py, drained by a real RQ worker),
so a change that adds a read or a per-message write shows here. The ceilings are today's figures:

- create (7): the delivery with its shop, settings and plan rows and the checkout its body names
  (the request kept the token: WebhookDelivery.subject), delivery and checkout locked; the journey,
  its messages, the cart's push subscription, the paying order and the conversion's candidate
  orders in one read, with the customer's known profile (locked); the checkout's INSERT, its
  profile id in it; both consent boxes in one upsert; the journey's INSERT with its reach, anchor
  and conversion; the messages' INSERT; the delivery's UPDATE.
- update (7): the same two reads (no profile lookup: the row has its profile), the checkout's
  UPDATE, the consent upsert; the moved messages (and their copy of the abandonment time) in one
  executemany UPDATE; the journey's one UPDATE (abandonment, anchor, conversion); the delivery's
  UPDATE.

With the request's one INSERT (tests/webhooks/test_request_cost.py), a checkout webhook costs
8 statements end to end. A delivery recorded without its subject (before migration 0030) has its
checkout and profile read on their own: one statement more.

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
from sqlalchemy import event, select, update

from jobs.pickup import pick_up
from shop_app.shopify.shops import get_shop
from shop_app.storage.billing_tables import ShopPlan
from shop_app.storage.database import transaction
from shop_app.storage.tables import WebhookDelivery
from tests.support import DrainWorker

T0 = "2026-03-02T19:00:00+01:00"
T1 = "2026-03-02T19:05:00+01:00"

#: Statements per ingest, at most: a new checkout with both boxes ticked (4 messages planned),
#: and its update (the same 4 messages moved), for a shop on an unlimited plan.
CREATE_CEILING = 7
UPDATE_CEILING = 7
#: The same two, request (its one INSERT) and ingest together.
END_TO_END_CEILING = 8
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


def ingested(store, topic: str, payload: dict, request: list[str] | None = None, subject: bool = True) -> list[str]:
    """The ingest job's statements; the request's go to `request` when given. `subject`: False
    records the delivery as before migration 0030, without its checkout's token."""
    with statements(store.rt) as posted:
        assert store.post(topic, payload).get_json()["status"] == "accepted"
    if request is not None:
        request += posted
    if not subject:
        with transaction(store.rt.sessions) as session:
            received = WebhookDelivery.status == "received"
            assert session.scalars(select(WebhookDelivery.subject).where(received)).all() == [payload["token"]]
            session.execute(update(WebhookDelivery).where(received).values(subject=None))
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
    requests: list[str] = []
    created = ingested(store, "checkouts/create", store.checkout("c1", T0, **fields), requests)
    planned = store.messages()
    updated = ingested(store, "checkouts/update", store.checkout("c1", T1, **fields), requests)
    print(f"\n{plan}: checkouts/create: {len(created)} statements; checkouts/update: {len(updated)}")
    print(f"    requests: {requests}")
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
    assert len(requests) == 2 and all(s.startswith("INSERT INTO webhook_deliveries") for s in requests)
    if create_ceiling == CREATE_CEILING:
        assert len(created) + 1 <= END_TO_END_CEILING and len(updated) + 1 <= END_TO_END_CEILING


def plan_of(store, token: str) -> list[tuple]:
    return sorted(
        (m["step"], m["channel"], m["status"], m["due_at"], m["reason"]) for m in store.messages(checkout_token=token)
    )


def test_a_delivery_recorded_without_its_checkout_token_is_planned_the_same_one_read_later(store):
    """A delivery recorded before migration 0030 has no subject: its checkout and customer's profile
    are read as before (one statement more), and the plan is the same."""
    read_plan(store, "scale")
    ingested(store, "checkouts/create", store.checkout("warm", T0, email="warm@example.com"))  # caches warm
    costs = {}
    for token, subject in (("named", True), ("unnamed", False)):
        fields = {"email": f"{token}@example.com", "accepts_marketing": True}
        created = ingested(store, "checkouts/create", store.checkout(token, T0, **fields), subject=subject)
        updated = ingested(store, "checkouts/update", store.checkout(token, T1, **fields), subject=subject)
        costs[token] = (len(created), len(updated))
        assert sum(s.startswith("SELECT mine.") for s in created + updated) == (0 if subject else 2)
    print(f"\nstatements (create, update): {costs}")
    assert costs == {"named": (CREATE_CEILING, UPDATE_CEILING), "unnamed": (CREATE_CEILING + 1, UPDATE_CEILING + 1)}
    assert plan_of(store, "named") == plan_of(store, "unnamed") != []
    with transaction(store.rt.sessions) as session:
        left = session.execute(select(WebhookDelivery.status, WebhookDelivery.subject, WebhookDelivery.body)).all()
    assert set(left) == {("processed", None, None)}  # the token goes with the body
