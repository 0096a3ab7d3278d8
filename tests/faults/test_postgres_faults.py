"""PostgreSQL faults under the worker: its connections terminated (`pg_terminate_backend`) in the
middle of an ingest and of a send, and a table lock it has to wait for.

The worker here runs in the test process (the jobs as `reclaim worker` runs them, drained by RQ)
over a runtime whose connections carry an application_name, so the test finds and terminates
exactly those. A table lock parks the job at a known point inside its transaction; the provider
(a stalling SMTP server) parks a send inside its provider call. A broken run counts as a bounded
attempt and a later run completes: one delivery, one journey planned as for an undisturbed
checkout, each message sent once. The web tier's side of a locked table is tests/test_timeouts.py.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import pytest
from sqlalchemy import Connection, create_engine, func, make_url, select, text
from sqlalchemy.pool import NullPool

from jobs.dispatch import dispatch
from shop_app import create_app, runtime
from shop_app.storage import database
from shop_app.storage.database import transaction
from shop_app.storage.tables import Journey, Message, WebhookDelivery
from tests.faults.ledger import duplicates, figures, outbox_message_ids, smtp_message_ids
from tests.processes import wait_for
from tests.smtp_server import StallingHandler, smtp_server
from tests.support import ShopifyStore, postgres_only

T = TypeVar("T")
WORKER_NAME = "reclaim-faults-worker"
#: The worker's lock_timeout when the test outwaits it (10 s in production): one second.
SHORT_LOCK_TIMEOUT = database.Timeouts(lock_ms=1000, statement_ms=60_000, connect_s=5, pool_wait_s=10)


class Postgres:
    """The test's own sessions: one holds a table lock, one watches pg_stat_activity for the
    worker's connections and terminates them."""

    def __init__(self, url: str):
        self._locker = create_engine(url, poolclass=NullPool)
        self._watcher = create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")

    @contextmanager
    def locked(self, table: str) -> Iterator[None]:
        with self._locker.connect() as conn, conn.begin():
            conn.execute(text(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE"))
            yield

    @contextmanager
    def holding(self, statement: str) -> Iterator[Connection]:
        """A transaction of its own that ran `statement` (a lock), open while inside."""
        with self._locker.connect() as conn, conn.begin():
            conn.execute(text(statement))
            yield conn

    def worker_backends(self, *, waiting_for_a_lock: bool = False) -> list[int]:
        query = "SELECT pid FROM pg_stat_activity WHERE application_name = :name AND datname = current_database()"
        if waiting_for_a_lock:
            query += " AND wait_event_type = 'Lock'"
        with self._watcher.connect() as conn:
            return list(conn.scalars(text(query), {"name": WORKER_NAME}))

    def terminate(self, pids: list[int]) -> int:
        with self._watcher.connect() as conn:
            return sum(conn.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}) for pid in pids)

    def close(self) -> None:
        self._locker.dispose()
        self._watcher.dispose()


@pytest.fixture
def postgres(rt) -> Iterator[Postgres]:
    postgres_only(rt, "pg_terminate_backend and table locks are PostgreSQL's")
    watcher = Postgres(rt.settings.database_url)
    yield watcher
    watcher.close()


@contextmanager
def named_worker(rt, store: ShopifyStore, **overrides) -> Iterator[ShopifyStore]:
    """The shop seen through a worker runtime whose PostgreSQL connections are named WORKER_NAME."""
    url = make_url(rt.settings.database_url).update_query_dict({"application_name": WORKER_NAME})
    settings = rt.settings.with_overrides(database_url=url.render_as_string(hide_password=False), **overrides)
    worker = runtime.install(runtime.Runtime.build(settings))
    try:
        yield ShopifyStore(worker, create_app(runtime=worker).test_client(), store.domain, store.admin_api)
    finally:
        worker.close()
        runtime.install(rt)


def drain_during(worker: ShopifyStore, fault: Callable[[threading.Event], T]) -> T:
    """Run the worker's jobs while `fault` does something to the database in another thread, and
    return what it returned. The jobs run in this thread (RQ's worker installs signal handlers,
    which only the main thread may); `fault` sets its event once it is in place."""
    in_place = threading.Event()
    with ThreadPoolExecutor(1, thread_name_prefix="fault") as pool:
        happening = pool.submit(fault, in_place)
        happening.add_done_callback(lambda _: in_place.set())  # a fault that broke before it was in place
        in_place.wait(10)
        worker.drain()
        return happening.result(timeout=30)


def the_delivery(rt, webhook_id: str) -> WebhookDelivery:
    with transaction(rt.sessions) as session:
        delivery = session.scalars(select(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook_id)).one()
        session.expunge(delivery)
        return delivery


def plan_of(store: ShopifyStore, token: str) -> list[tuple[str, str]]:
    return sorted((m["step"], m["channel"]) for m in store.messages(checkout_token=token))


def first_step_status(rt) -> str | None:
    """The first step's status read from the messages table alone: store.message() joins the
    orders table, which a test here holds locked."""
    with transaction(rt.sessions) as session:
        return session.scalar(select(Message.status).where(Message.step == "first"))


def due_times(store: ShopifyStore, token: str) -> list[tuple[str, str, str]]:
    return sorted((m["step"], m["channel"], m["due_at"]) for m in store.messages(checkout_token=token))


def journeys(rt) -> int:
    with transaction(rt.sessions) as session:
        return session.execute(select(func.count()).select_from(Journey)).scalar_one()


def abandoned_an_hour_ago() -> tuple[datetime, str]:
    now = datetime.now(UTC)
    return now, (now - timedelta(minutes=61)).isoformat()


@pytest.mark.parametrize("fault", ["lock released in time", "lock_timeout", "pg_terminate_backend"])
def test_an_ingest_held_up_mid_transaction_completes_once(rt, store, postgres, monkeypatch, fault):
    """The ingest job waits inside its transaction (the delivery row locked) for the checkouts
    table. Released in time, it goes on; outwaited (lock_timeout) or terminated, the run is one
    failed attempt, and the reconciler's next run after the backoff completes it."""
    if fault == "lock_timeout":
        monkeypatch.setattr(database, "WORKER", SHORT_LOCK_TIMEOUT)
    now, abandoned = abandoned_an_hour_ago()
    store.deliver("checkouts/create", store.checkout("calm", abandoned, email="calm@example.com"))
    with named_worker(rt, store) as worker:
        worker.post("checkouts/create", worker.checkout("held", abandoned, email="held@example.com"), webhook_id="held")

        def hold_up(in_place: threading.Event) -> int:
            with postgres.locked("checkouts"):
                in_place.set()
                wait_for(lambda: postgres.worker_backends(waiting_for_a_lock=True), 10, "the ingest never waited")
                if fault == "lock released in time":
                    return 0
                terminated = postgres.terminate(postgres.worker_backends()) if fault == "pg_terminate_backend" else 0
                # The broken run is recorded while the table is still locked.
                wait_for(lambda: the_delivery(rt, "held").attempts, 10, "the broken run was not recorded")
                return terminated

        terminated = drain_during(worker, hold_up)
        first_run = the_delivery(rt, "held")
        passes = [worker.tick(now + timedelta(minutes=minutes)) for minutes in (2, 3)]  # after the 1-minute backoff
    final = the_delivery(rt, "held")
    received = outbox_message_ids(store.outbox())
    figures(
        f"ingest held up mid-transaction, {fault}",
        backends_terminated=terminated,
        after_the_first_run=f"{first_run.status} (attempts {first_run.attempts}: {first_run.reason})",
        passes=" | ".join(passes),
        final=f"{final.status} after {final.attempts} failed attempt(s)",
        journeys=journeys(rt),
        emails_sent=len(received),
        duplicates=len(duplicates(received)),
    )
    if fault == "lock released in time":
        assert (first_run.status, first_run.attempts) == ("processed", 0)
    else:
        assert (first_run.status, first_run.attempts, first_run.job_id) == ("received", 1, None)
        assert first_run.reason.startswith("attempt 1 of 5 failed (OperationalError")
        assert terminated == (1 if fault == "pg_terminate_backend" else 0)
    assert (final.status, final.attempts) == ("processed", first_run.attempts)
    assert journeys(rt) == 2 and plan_of(store, "held") == plan_of(store, "calm")
    assert [m["status"] for m in store.messages(checkout_token="held", step="first")] == ["sent"]
    assert duplicates(received) == {} and len(received) == 2  # both first emails, once each


def test_a_checkout_webhook_waiting_for_its_checkouts_lock_plans_from_what_the_holder_committed(rt, store, postgres):
    """Two webhooks of one checkout race (issue 13): the ingest's first read locks the checkout the
    delivery names, and everything its plan reads comes after that lock. Here the other holder of
    the lock stops the journey while the ingest waits: the update must see it stopped, not plan
    on the journey as it was when its first statement began."""
    _, abandoned = abandoned_an_hour_ago()
    later = (datetime.fromisoformat(abandoned) + timedelta(minutes=5)).isoformat()
    store.deliver("checkouts/create", store.checkout("raced", abandoned, email="raced@example.com"))
    planned = due_times(store, "raced")
    with named_worker(rt, store) as worker:
        worker.post("checkouts/update", worker.checkout("raced", later, email="raced@example.com"), webhook_id="raced")

        def hold_the_checkout(in_place: threading.Event) -> None:
            with postgres.holding("SELECT id FROM checkouts WHERE token = 'raced' FOR UPDATE") as conn:
                in_place.set()
                wait_for(lambda: postgres.worker_backends(waiting_for_a_lock=True), 10, "the ingest never waited")
                conn.execute(
                    text("UPDATE journeys SET status = 'stopped', stop_reason = 'held' WHERE flow = 'recovery'")
                )

        drain_during(worker, hold_the_checkout)
    raced = the_delivery(rt, "raced")
    assert (raced.status, raced.reason) == ("processed", "journey already stopped; not restarted")
    assert due_times(store, "raced") == planned  # nothing moved
    assert journeys(rt) == 1


def test_a_send_whose_connection_is_terminated_before_its_claim_is_retried_once(rt, store, postgres):
    """The send job waits inside its first transaction (the message row locked) for the orders
    table (is it paid?); its connection is terminated. Nothing was claimed: the row goes back to
    `scheduled` after the backoff, and the next run sends it once."""
    now, abandoned = abandoned_an_hour_ago()
    store.deliver("checkouts/create", store.checkout("pre-claim", abandoned, email="pre@example.com"))
    with named_worker(rt, store) as worker:
        dispatch(now)

        def terminate_while_waiting(in_place: threading.Event) -> int:
            with postgres.locked("orders"):
                in_place.set()
                wait_for(lambda: postgres.worker_backends(waiting_for_a_lock=True), 10, "the send never waited")
                terminated = postgres.terminate(postgres.worker_backends())
                # The broken run is recorded while the table is still locked.
                wait_for(lambda: first_step_status(rt) == "scheduled", 10, "the run was not recorded")
                return terminated

        terminated = drain_during(worker, terminate_while_waiting)
        first_run = worker.message(step="first")
        passes = [worker.tick(now + timedelta(minutes=2))]  # after the 1-minute backoff
    final = store.message(step="first")
    received = outbox_message_ids(store.outbox())
    figures(
        "send terminated before its claim",
        backends_terminated=terminated,
        after_the_first_run=f"{first_run['status']} ({first_run['reason']})",
        passes=" | ".join(passes),
        final=final["status"],
        emails_sent=len(received),
        duplicates=len(duplicates(received)),
    )
    assert terminated == 1
    assert first_run["status"] == "scheduled"
    assert first_run["reason"].startswith("attempt 1 of 5 failed (OperationalError")
    assert final["status"] == "sent" and received == [final["id"]]


def test_a_send_whose_connections_are_terminated_during_the_provider_call_is_recorded_once(rt, store, postgres):
    """The provider holds the email; meanwhile every connection of the worker is terminated.
    When the provider answers, the outcome is recorded over a new connection: `sent`, once."""
    now, abandoned = abandoned_an_hour_ago()
    store.deliver("checkouts/create", store.checkout("in-call", abandoned, email="call@example.com"))
    with smtp_server(StallingHandler()) as (controller, smtp):
        smtp_url = f"smtp://127.0.0.1:{controller.port}"
        with named_worker(rt, store, smtp_url=smtp_url, outbox_file=None) as worker:
            dispatch(now)

            def terminate_during_the_call(in_place: threading.Event) -> tuple[str, int]:
                in_place.set()
                wait_for(smtp.holding.is_set, 10, "the email never reached the provider")
                status = store.message(step="first")["status"]
                terminated = postgres.terminate(postgres.worker_backends())
                smtp.release.set()
                return status, terminated

            during_the_call, terminated = drain_during(worker, terminate_during_the_call)
        received = smtp_message_ids(smtp.messages())
    final = store.message(step="first")
    figures(
        "connections terminated during the provider call",
        status_during_the_call=during_the_call,
        backends_terminated=terminated,
        final=final["status"],
        emails_at_the_provider=len(received),
        duplicates=len(duplicates(received)),
    )
    assert during_the_call == "sending" and terminated >= 1
    assert final["status"] == "sent" and received == [final["id"]]
