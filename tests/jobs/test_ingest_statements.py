"""What one checkout webhook costs the ingest job in SQL statements (issue 13, item 6).

Counted with the engine's own event on the real job (jobs/ingest.py, drained by a real RQ worker),
so a change that adds a read or a per-message write shows here. The ceilings are today's figures:
the delivery, its shop and settings row in one read; consent as one upsert per box; the planned
messages in one INSERT; the moved ones in one executemany UPDATE; the journey's anchor once.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event

from jobs.pickup import pick_up
from tests.support import DrainWorker

T0 = "2026-03-02T19:00:00+01:00"
T1 = "2026-03-02T19:05:00+01:00"

#: Statements per ingest, at most: a new checkout with both boxes ticked (4 messages planned),
#: and its update (the same 4 messages moved).
CREATE_CEILING = 15
UPDATE_CEILING = 16


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


def test_a_checkout_is_planned_and_moved_in_a_bounded_number_of_statements(store):
    ingested(store, "checkouts/create", store.checkout("warm", T0, email="warm@example.com"))  # caches warm
    fields = {"email": "ana@example.com", "accepts_marketing": True}
    created = ingested(store, "checkouts/create", store.checkout("c1", T0, **fields))
    planned = store.messages()
    updated = ingested(store, "checkouts/update", store.checkout("c1", T1, **fields))
    print(f"\ncheckouts/create: {len(created)} statements; checkouts/update: {len(updated)}")
    for line in created + ["--"] + updated:
        print("   ", line)

    mine = [m for m in store.messages() if m["id"] in {p["id"] for p in planned}]
    assert len(mine) >= 2 and all(m["status"] == "scheduled" for m in mine)
    assert {m["id"]: m["due_at"] for m in mine} != {p["id"]: p["due_at"] for p in planned}  # they moved
    assert sum(s.startswith("INSERT INTO messages") for s in created) == 1  # one INSERT for the plan
    assert sum(s.startswith("UPDATE messages SET due_at") for s in updated) == 1  # one executemany
    assert len(created) <= CREATE_CEILING
    assert len(updated) <= UPDATE_CEILING
