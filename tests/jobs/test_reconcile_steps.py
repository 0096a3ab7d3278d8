"""Rule 5 (nothing lost) through a reconciler pass that breaks half-way (found by review).

The reconciler hands the rows whose jobs were lost (Redis flushed) over to new job ids and enqueues
those jobs right after that commit: a later step that fails (the plan refresh, the retention purge,
say a statement timeout) no longer leaves the rows holding jobs Redis never got, each pass adding a
job failure until they were given up as lost, never sent. A lost run is counted only once its
replacement is in Redis, so an enqueue Redis refuses costs no attempt either. Each step runs even
when one before it failed, and the pass then fails naming the steps, without the exceptions' text.
Real Redis, database and RQ worker (`store.drain`); the failures are raised where they would sit.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy import select

import jobs.dispatch
from jobs.dispatch import dispatch, reconcile
from jobs.pickup import pick_up
from shop_app.config import MAX_JOB_ATTEMPTS
from shop_app.errors import describe
from shop_app.storage.database import transaction
from shop_app.storage.tables import Message, WebhookDelivery
from tests.jobs.test_retention import counts, send_first_email_now
from tests.jobs.test_send_batches import ABANDONED, DUE, first_steps, plan

SECRET_EMAIL = "ana.secret@example.com"
PASSES = MAX_JOB_ATTEMPTS + 2  # more broken passes than a row has attempts


@pytest.fixture(autouse=True)
def no_ingest_grace(monkeypatch):
    monkeypatch.setattr(jobs.dispatch, "INGEST_GRACE_SECONDS", 0)


def statement_timeout(*args, **kwargs):
    raise RuntimeError(f"canceling statement due to statement timeout (deleting {SECRET_EMAIL})")


def broken_passes(start: datetime) -> list[str]:
    """PASSES reconciler passes 30 s apart from `start`, each expected to fail: how each failed."""
    failures = []
    for n in range(PASSES):
        with pytest.raises(Exception) as raised:
            reconcile(start + timedelta(seconds=30 * n))
        failures.append(describe(raised.value))
    return failures


def job_failures(rt) -> list[int]:
    with transaction(rt.sessions) as session:
        return list(session.scalars(select(Message.job_failures).where(Message.status == "sent")))


def lost_delivery(store) -> None:
    """A webhook delivery whose ingest job was enqueued, then lost with Redis."""
    response = store.post("checkouts/create", store.checkout("d1", ABANDONED))
    assert response.status_code == 200
    assert pick_up(store.rt) == 1
    store.rt.redis.flushdb()  # FLUSHDB: FLUSHALL would empty the other xdist workers' databases too


def delivery(rt) -> tuple[str, int]:
    """The last delivery's status and attempts (`lost_delivery`'s)."""
    with transaction(rt.sessions) as session:
        last = select(WebhookDelivery.status, WebhookDelivery.attempts).order_by(WebhookDelivery.id.desc())
        status, attempts = session.execute(last.limit(1)).one()
        return status, attempts


def test_a_step_failing_after_the_hand_over_still_enqueues_the_lost_sends(rt, store, monkeypatch, caplog):
    plan(store, ["r1", "r2"])
    assert dispatch(DUE).dispatched == 2
    rt.redis.flushdb()  # the batch job is gone, the rows stay `queued`

    with monkeypatch.context() as broken:
        broken.setattr(jobs.dispatch.retention, "purge", statement_timeout)
        failures = broken_passes(DUE + timedelta(minutes=1))
    assert len(rt.queue.queues["send"].get_jobs()) == 2  # enqueued by the first pass, alive in the next
    store.drain()

    assert {m["status"] for m in first_steps(store).values()} == {"sent"}, "planned messages lost"
    assert job_failures(rt) == [1, 1]  # the one loss, the flush, and no more
    assert failures[0] == (
        "PassIncomplete: retention purge failed (RuntimeError); the other steps ran "
        "(dispatched 0, re-enqueued 2 message(s) and 0 delivery(ies), marked 0 unknown)"
    )
    assert "retention purge failed (RuntimeError)" in caplog.text  # the operator's log names the step
    assert SECRET_EMAIL not in caplog.text + "".join(failures)


def test_a_step_failing_after_the_hand_over_still_enqueues_the_lost_deliveries(rt, store, monkeypatch):
    lost_delivery(store)
    with monkeypatch.context() as broken:
        broken.setattr(jobs.dispatch.plan_refresh, "refresh_due", statement_timeout)
        failures = broken_passes(datetime.now(UTC))
    store.drain()

    assert delivery(rt) == ("processed", 1), "the webhook delivery was lost"
    assert failures[0].startswith("PassIncomplete: plan refresh failed (RuntimeError); the other steps ran")


def test_an_enqueue_redis_refuses_costs_no_attempt(rt, store, monkeypatch):
    plan(store, ["r1"])
    assert dispatch(DUE).dispatched == 1
    lost_delivery(store)  # the flush loses the send job too

    def refused(*args):
        raise RedisConnectionError(f"Error 111 connecting ({SECRET_EMAIL})")

    with monkeypatch.context() as broken:
        broken.setattr(rt.queue, "enqueue_send", refused)
        broken.setattr(rt.queue, "enqueue_ingest", refused)
        failures = broken_passes(DUE + timedelta(minutes=1))
    reconcile(DUE + timedelta(minutes=30))
    store.drain()

    assert first_steps(store)["r1"]["status"] == "sent"
    assert job_failures(rt) == [1]
    assert delivery(rt) == ("processed", 1)
    assert failures[0].startswith(
        "PassIncomplete: re-enqueue of lost sends failed (ConnectionError); "
        "re-enqueue of lost deliveries failed (ConnectionError); the other steps ran"
    )


def test_the_steps_after_a_failed_one_still_run(rt, store, monkeypatch):
    send_first_email_now(store)
    assert counts(rt)["deliveries"] == 1
    monkeypatch.setattr(jobs.dispatch.plan_refresh, "refresh_due", statement_timeout)
    with pytest.raises(Exception) as raised:
        reconcile(datetime.now(UTC) + timedelta(days=91))
    assert counts(rt)["deliveries"] == 0  # the retention purge, after the plan refresh, ran
    assert describe(raised.value).startswith("PassIncomplete: plan refresh failed (RuntimeError)")
