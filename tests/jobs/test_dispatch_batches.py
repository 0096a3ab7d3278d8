"""The dispatcher claims in batches (issue 13, item 4): one UPDATE … RETURNING per batch, looping
until nothing is due, each batch's send jobs enqueued in one round trip; two passes racing claim
disjoint rows and every due message is sent once. On PostgreSQL the claim is an index scan of
ix_messages_status_due (EXPLAIN of the statement the dispatcher really ran)."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime

from sqlalchemy import event, select, text

import jobs.dispatch
from jobs.dispatch import dispatch
from shop_app.adapters.queue import SEND
from shop_app.storage.database import transaction
from shop_app.storage.tables import Message
from tests.support import postgres_only

ABANDONED = "2026-03-02T19:00:00+01:00"  # first emails due at 19:00 UTC
DUE = datetime(2026, 3, 2, 19, 0, tzinfo=UTC)


def plan(store, count: int) -> None:
    for n in range(count):
        store.deliver("checkouts/create", store.checkout(f"c{n}", ABANDONED, email=f"c{n}@example.com"))


def statuses(store, step: str = "first") -> Counter:
    return Counter(m["status"] for m in store.messages(step=step))


def test_one_pass_claims_batch_after_batch_until_nothing_is_due(rt, store, monkeypatch):
    monkeypatch.setattr(jobs.dispatch, "DISPATCH_BATCH", 4)
    plan(store, 10)
    enqueues = []
    real = rt.queue.enqueue_sends
    monkeypatch.setattr(
        rt.queue,
        "enqueue_sends",
        lambda groups, now: (enqueues.append([len(ids) for _, ids in groups]), real(groups, now)),
    )
    assert dispatch(DUE).dispatched == 10
    assert enqueues == [[4], [4], [2]]  # three claims, three round trips, one batch job each (one shop)
    assert statuses(store) == {"queued": 10}
    assert statuses(store, "whatsapp") == {"scheduled": 10}  # not due yet: left alone
    assert rt.queue.queues[SEND].count == 3
    store.drain()
    assert sorted(m["to"] for m in store.outbox()) == sorted(f"c{n}@example.com" for n in range(10))
    assert statuses(store) == {"sent": 10}


def test_a_pass_is_bounded_and_the_next_one_goes_on(rt, store, monkeypatch):
    monkeypatch.setattr(jobs.dispatch, "DISPATCH_BATCH", 3)
    monkeypatch.setattr(jobs.dispatch, "MAX_BATCHES_PER_PASS", 2)
    plan(store, 10)
    assert dispatch(DUE).dispatched == 6
    assert statuses(store) == {"queued": 6, "scheduled": 4}
    assert dispatch(DUE).dispatched == 4
    assert dispatch(DUE).dispatched == 0
    with transaction(rt.sessions) as session:
        job_ids = session.scalars(select(Message.job_id).where(Message.status == "queued")).all()
    assert sorted(Counter(job_ids).values()) == [1, 3, 3, 3]  # each batch's rows held by its one job


def test_two_passes_racing_claim_disjoint_rows_and_send_each_once(rt, store, monkeypatch):
    """Two dispatcher passes in threads, small batches so each loops many times against the other.
    (On PostgreSQL they really overlap: SKIP LOCKED; SQLite runs one writer at a time.)"""
    monkeypatch.setattr(jobs.dispatch, "DISPATCH_BATCH", 5)
    plan(store, 60)
    claimed: dict[str, list[int]] = {}
    real = rt.queue.enqueue_sends
    barrier = threading.Barrier(2)

    def spy(groups, now):
        claimed.setdefault(threading.current_thread().name, []).extend(i for _, ids in groups for i in ids)
        real(groups, now)

    monkeypatch.setattr(rt.queue, "enqueue_sends", spy)

    def racer():
        barrier.wait()
        dispatch(DUE)

    threads = [threading.Thread(target=racer, name=f"pass-{n}") for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    first, second = (claimed.get(f"pass-{n}", []) for n in range(2))
    due_ids = {m["id"] for m in store.messages(step="first")}
    assert not set(first) & set(second)
    assert sorted(first + second) == sorted(due_ids)
    assert rt.queue.queues[SEND].count == 12  # a batch job per claim of 5 (one shop)
    store.drain()
    sent = Counter(m["message_id"] for m in store.outbox())
    assert set(sent) == due_ids and set(sent.values()) == {1}
    assert statuses(store) == {"sent": 60}


def test_the_claim_reads_the_status_due_index_on_postgresql(rt, store):
    """A realistic table: most rows long finished, many scheduled for later, a few due. The
    claim's EXPLAIN (the statement the dispatcher ran, with its parameters) finds the due rows
    through ix_messages_status_due, and no step reads the whole table or every scheduled row."""
    postgres_only(rt, "the claim's plan is PostgreSQL's")
    plan(store, 3)
    with transaction(rt.sessions) as session:
        session.execute(
            text(
                "INSERT INTO messages (shop_id, journey_id, flow, step, channel, occurrence, status, due_at,"
                " job_failures, attempts, created_at, updated_at)"
                " SELECT shop_id, journey_id, flow, 'reward', channel, n,"
                " CASE WHEN n % 4 = 0 THEN 'scheduled' ELSE 'sent' END,"
                " due_at + CASE WHEN n % 4 = 0 THEN interval '7 days' ELSE interval '-1 day' END,"
                " 0, 0, now(), now()"
                " FROM messages, generate_series(1, 20000) AS n WHERE step = 'first' AND journey_id ="
                " (SELECT min(journey_id) FROM messages)"
            )
        )
    with rt.engine.connect() as connection:
        connection.execute(text("ANALYZE messages"))
        connection.commit()
    seen: list[tuple[str, object]] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if "UPDATE messages SET status" in statement and "RETURNING" in statement:
            seen.append((statement, parameters))

    event.listen(rt.engine, "before_cursor_execute", record)
    try:
        assert dispatch(DUE).dispatched == 3
    finally:
        event.remove(rt.engine, "before_cursor_execute", record)
    assert len(seen) == 1  # one statement claimed the batch
    statement, parameters = seen[0]
    with rt.engine.connect() as connection:
        cursor = connection.connection.cursor()
        cursor.execute("EXPLAIN " + statement, parameters)
        plan_text = "\n".join(row[0] for row in cursor.fetchall())
        connection.rollback()
    print(plan_text)
    # The due rows in due order straight from the index (no sort), locked, then updated by key.
    assert "Index Scan using ix_messages_status_due" in plan_text, plan_text
    assert "LockRows" in plan_text and "Index Scan using messages_pkey" in plan_text, plan_text
    assert "Seq Scan" not in plan_text and "Sort" not in plan_text, plan_text
