"""Bounded attempts (issue 9, item 1): no row is retried forever.

A run that breaks, whatever the exception, counts as an attempt; the row waits for its
backoff and is given up after MAX_JOB_ATTEMPTS with a reason that quotes no personal data.
The faults here are injected where a real bug would sit (a handler, the composer) or made
real (a job lost from Redis); the inputs that used to break ingest go through the webhook.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from rq.job import Job
from sqlalchemy import func, select

import jobs.dispatch
import jobs.ingest
import jobs.send
from shop_app.config import MAX_JOB_ATTEMPTS
from shop_app.domain.models import Status, WebhookStatus
from shop_app.storage.database import transaction
from shop_app.storage.tables import Message, WebhookDelivery

T0 = datetime(2026, 3, 2, 18, 0, tzinfo=UTC)
SECRET_EMAIL = "ana.secret@example.com"


@pytest.fixture(autouse=True)
def no_grace(monkeypatch):
    monkeypatch.setattr(jobs.dispatch, "INGEST_GRACE_SECONDS", 0)


def deliveries(rt) -> list[WebhookDelivery]:
    with transaction(rt.sessions) as session:
        rows = session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)).all()
        session.expunge_all()
        return list(rows)


def every_job_text(rt) -> str:
    """Everything RQ keeps about the jobs it ran: results and stored exception info."""
    texts = []
    for key in rt.redis.scan_iter("rq:job:*"):
        job_id = key.decode().removeprefix("rq:job:")
        if ":" in job_id:
            continue
        result = Job.fetch(job_id, connection=rt.redis).latest_result()
        if result is not None:
            texts += [str(result.return_value), str(result.exc_string)]
    return "\n".join(texts)


def test_a_delivery_whose_ingest_keeps_breaking_is_rejected_after_bounded_attempts(rt, store, monkeypatch, caplog):
    def buggy(session, shop, payload, now):
        raise KeyError(f"no profile for {SECRET_EMAIL}")  # an exception quoting the customer

    monkeypatch.setitem(jobs.ingest.HANDLERS, "checkouts/create", buggy)
    store.deliver("checkouts/create", store.checkout("tok-1", T0.isoformat(), email=SECRET_EMAIL))
    [delivery] = deliveries(rt)
    assert (delivery.status, delivery.attempts, delivery.job_id) == ("received", 1, None)
    assert delivery.reason.startswith(f"attempt 1 of {MAX_JOB_ATTEMPTS} failed (KeyError)")

    # Before its backoff the reconciler leaves it alone; after, it runs again, and again…
    store.tick(datetime.now(UTC) + timedelta(seconds=10))
    assert deliveries(rt)[0].attempts == 1
    at = datetime.now(UTC)
    for _ in range(MAX_JOB_ATTEMPTS + 3):
        at += timedelta(hours=3)
        store.tick(at)
    [delivery] = deliveries(rt)
    assert (delivery.status, delivery.attempts) == (WebhookStatus.REJECTED, MAX_JOB_ATTEMPTS)
    assert delivery.reason == f"gave up after {MAX_JOB_ATTEMPTS} failed attempts; last: KeyError"
    assert delivery.processed_at is not None

    # …and never again.
    store.tick(at + timedelta(days=2))
    assert deliveries(rt)[0].attempts == MAX_JOB_ATTEMPTS
    # No personal data in the reason, the job results, RQ's exception info or the log.
    assert SECRET_EMAIL not in every_job_text(rt) + caplog.text + delivery.reason
    assert "Traceback" not in every_job_text(rt)  # the job returned its reason: RQ stored no traceback


def test_a_lost_ingest_job_counts_as_an_attempt(rt, store, monkeypatch):
    """A job that vanishes every time (a worker killed by it, say) is bounded too."""
    monkeypatch.setattr(rt.queue, "enqueue_ingest", lambda delivery_id, job_id: None)  # never reaches Redis
    response = store.post("checkouts/create", store.checkout("tok-2", T0.isoformat()))
    assert response.status_code == 200
    at = datetime.now(UTC)
    for _ in range(MAX_JOB_ATTEMPTS + 2):
        at += timedelta(minutes=1)
        store.tick(at)
    [delivery] = deliveries(rt)
    assert delivery.status == WebhookStatus.REJECTED
    lost = "the job was lost or its worker killed"
    assert delivery.reason == f"gave up after {MAX_JOB_ATTEMPTS} failed attempts; last: {lost}"


def test_a_message_whose_send_keeps_breaking_fails_after_bounded_attempts(rt, store, monkeypatch, caplog):
    store.deliver("checkouts/create", store.checkout("tok-3", T0.isoformat(), email=SECRET_EMAIL))

    def broken_compose(*args, **kwargs):
        raise ZeroDivisionError(f"template for {SECRET_EMAIL}")

    monkeypatch.setattr(jobs.send, "compose", broken_compose)
    at = T0 + timedelta(hours=1, minutes=1)
    store.tick(at)
    email = store.message(channel="email")
    assert email["status"] == "scheduled"
    assert email["reason"].startswith(f"attempt 1 of {MAX_JOB_ATTEMPTS} failed (ZeroDivisionError); next at")
    for _ in range(MAX_JOB_ATTEMPTS + 2):
        at += timedelta(hours=3)
        store.tick(at)
    email = store.message(channel="email")
    assert email["status"] == "failed"
    assert email["reason"] == f"gave up after {MAX_JOB_ATTEMPTS} failed attempts; last: ZeroDivisionError"
    with transaction(rt.sessions) as session:
        row = session.scalar(select(Message).where(Message.channel == "email"))
        assert (row.job_failures, row.attempts, row.job_id) == (MAX_JOB_ATTEMPTS, 0, None)
    assert SECRET_EMAIL not in every_job_text(rt) + caplog.text


def test_a_queued_message_whose_jobs_keep_vanishing_fails(rt, store, monkeypatch):
    store.deliver("checkouts/create", store.checkout("tok-4", T0.isoformat()))
    monkeypatch.setattr(rt.queue, "enqueue_send", lambda message_id, job_id, now: None)
    monkeypatch.setattr(rt.queue, "enqueue_sends", lambda claimed, now: None)  # the dispatcher's batch
    at = T0 + timedelta(hours=1, minutes=1)
    for _ in range(MAX_JOB_ATTEMPTS + 2):
        store.tick(at)
        at += timedelta(minutes=1)
    email = store.message(channel="email")
    assert email["status"] == "failed"
    assert "the job was lost" in email["reason"]


def test_a_later_success_needs_no_more_attempts(rt, store, monkeypatch):
    """One broken run, then the bug is gone: the delivery is processed on its second attempt."""
    real = jobs.ingest.HANDLERS["checkouts/create"]
    runs = []

    def flaky(session, shop, payload, now):
        runs.append(now)
        if len(runs) == 1:
            raise ConnectionResetError("lost the database for a moment")
        return real(session, shop, payload, now)

    monkeypatch.setitem(jobs.ingest.HANDLERS, "checkouts/create", flaky)
    store.deliver("checkouts/create", store.checkout("tok-5", T0.isoformat()))
    store.tick(datetime.now(UTC) + timedelta(minutes=2))
    [delivery] = deliveries(rt)
    assert (delivery.status, delivery.attempts, len(runs)) == ("processed", 1, 2)
    assert len(store.messages()) > 0


BOM = b"\xef\xbb\xbf"


@pytest.mark.parametrize(
    ("change", "outcome"),
    [
        ({"total_price": "1e12"}, "rejected"),
        ({"line_items": [{"title": "x", "quantity": 1, "price": 1e308}]}, "rejected"),
        ({"abandoned_checkout_url": "not a url"}, "processed"),
        ({"customer": {"first_name": "An\u0000a\ud800", "id": 1}}, "processed"),
        ({"line_items": [{"title": "Shirt\u0000", "quantity": 1, "price": "5"}]}, "processed"),
    ],
)
def test_inputs_that_used_to_stick_end_processed_or_rejected(rt, store, change, outcome):
    payload = store.checkout("tok-6", T0.isoformat())
    payload.update(change)
    store.deliver("checkouts/create", payload)
    store.tick(datetime.now(UTC) + timedelta(hours=3))
    [delivery] = deliveries(rt)
    assert delivery.status == outcome, delivery.reason
    assert delivery.attempts == 0  # refused or taken on the first run, not after retries


def test_a_body_with_a_byte_order_mark_is_ingested(rt, store):
    raw = BOM + json.dumps(store.checkout("tok-7", T0.isoformat())).encode()
    assert store.post("checkouts/create", None, body=raw).status_code == 200
    store.drain()
    [delivery] = deliveries(rt)
    assert delivery.status == "processed", delivery.reason
    assert len(store.messages()) > 0


def test_nothing_is_left_in_a_non_final_state(rt, store, monkeypatch):
    """Good, bad and broken deliveries together: after the reconciler has run its course,
    every delivery is processed or rejected and every due message is settled."""
    real = jobs.ingest.HANDLERS["checkouts/update"]

    def buggy(session, shop, payload, now):
        raise RuntimeError("bug")

    monkeypatch.setitem(jobs.ingest.HANDLERS, "checkouts/update", buggy)
    store.deliver("checkouts/create", store.checkout("good", T0.isoformat()))
    store.deliver("checkouts/update", store.checkout("bad", T0.isoformat()))
    store.deliver("checkouts/create", store.checkout("huge", T0.isoformat(), total_price="1e13"))
    at = datetime.now(UTC)
    for _ in range(MAX_JOB_ATTEMPTS + 1):
        at += timedelta(hours=3)
        store.tick(at)
    monkeypatch.setitem(jobs.ingest.HANDLERS, "checkouts/update", real)
    with transaction(rt.sessions) as session:
        stuck_deliveries = session.scalar(
            select(func.count()).select_from(WebhookDelivery).where(WebhookDelivery.status == "received")
        )
        stuck_messages = session.scalar(
            select(func.count())
            .select_from(Message)
            .where(Message.status.in_([Status.QUEUED.value, Status.SENDING.value]))
        )
    assert (stuck_deliveries, stuck_messages) == (0, 0)


def test_a_broken_periodic_pass_fails_in_rq_without_the_exceptions_text(rt, monkeypatch):
    from jobs.attempts import JobFailed

    def broken(*args):
        raise ValueError(f"constraint failed for {SECRET_EMAIL}")

    monkeypatch.setattr(jobs.dispatch, "reconcile", broken)
    with pytest.raises(JobFailed) as raised:
        jobs.dispatch.reconcile_job()
    assert str(raised.value) == "ValueError"
    assert raised.value.__suppress_context__  # RQ's stored traceback does not chain the original
