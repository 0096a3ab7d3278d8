"""Redis flushed and restarted with work in flight (product rule 5: nothing lost).

Redis holds only work in flight: deliveries waiting for their ingest job, messages queued for
their send job. Both faults run on a redis-server of the test's own (a FLUSHALL on a shared
server would reach beyond this test). After the reconciler's passes every delivery is processed
once and every due message sent once: the provider (the outbox file, an SMTP server) is the judge.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from jobs.dispatch import dispatch, reconcile
from jobs.pickup import pick_up
from shop_app import create_app, runtime
from shop_app.config import TICK_INTERVAL_SECONDS
from tests.faults.ledger import (
    NOT_FINAL,
    delivery_statuses,
    duplicates,
    figures,
    message_statuses,
    outbox_message_ids,
    smtp_message_ids,
)
from tests.processes import RedisServer, Worker, wait_for
from tests.smtp_server import StallingHandler, smtp_server
from tests.support import ShopifyStore

pytestmark = pytest.mark.slow


@pytest.fixture
def redis_server(tmp_path) -> Iterator[RedisServer]:
    with RedisServer(tmp_path) as server:
        yield server


def on_redis(rt, store, server: RedisServer, *, web: bool = False) -> ShopifyStore:
    """The test's shop, through a runtime whose Redis is `server` (the web tier's when `web`)."""
    moved = runtime.Runtime.build(rt.settings.with_overrides(redis_url=server.url), web=web)
    return ShopifyStore(moved, create_app(runtime=moved).test_client(), store.domain, store.admin_api)


def post_checkouts(store: ShopifyStore, tokens: list[str], abandoned: str, *, repeats: int = 1) -> list[str]:
    """Each checkout's webhook posted `repeats` times with one webhook id, as Shopify retries it."""
    answers = []
    for token in tokens:
        payload = store.checkout(token, abandoned, email=f"{token}@example.com")
        for _ in range(repeats):
            response = store.post("checkouts/create", payload, webhook_id=f"webhook-{token}")
            assert response.status_code == 200
            answers.append(response.get_json()["status"])
    return answers


def settled(rt) -> bool:
    """Every delivery ingested and no due message left with work ahead of it."""
    first = message_statuses(rt, step="first")
    return set(delivery_statuses(rt)) == {"processed"} and not any(first[s] for s in NOT_FINAL)


def test_flushall_with_deliveries_and_queued_messages_in_flight_loses_nothing(rt, store, redis_server):
    started = time.monotonic()
    now = datetime.now(UTC)
    abandoned = (now - timedelta(minutes=61)).isoformat()
    flushed = on_redis(rt, store, redis_server)
    private = runtime.install(flushed.rt)
    try:
        planned, arriving = [f"planned-{n}" for n in range(4)], [f"arriving-{n}" for n in range(4)]
        post_checkouts(flushed, planned, abandoned)
        flushed.drain()
        queued = dispatch(now).dispatched  # first emails queued, their send jobs in Redis
        answers = post_checkouts(flushed, arriving, abandoned, repeats=2)
        pick_up(private)  # the dispatcher's pass: their ingest jobs in Redis (jobs/pickup.py)
        jobs_in_redis = sum(len(queue) for queue in private.queue.queues.values())

        private.redis.flushall()
        flushed.drain()  # nothing left to run
        before = (delivery_statuses(private), message_statuses(private, step="first"))

        passes = [flushed.tick(now + timedelta(seconds=n)) for n in (1, 2)]  # reconciler, dispatcher, drain
        received = outbox_message_ids(flushed.outbox())
        first_rows = flushed.messages(step="first")
    finally:
        private.close()
        runtime.install(rt)

    figures(
        "Redis FLUSHALL",
        jobs_lost=jobs_in_redis,
        deliveries_waiting=before[0]["received"],
        messages_queued=before[1]["queued"],
        passes=" | ".join(passes),
        deliveries=dict(delivery_statuses(rt)),
        first_emails=dict(message_statuses(rt, step="first")),
        sent_at_the_provider=len(received),
        duplicates=len(duplicates(received)),
        lost=len({m["id"] for m in first_rows} - set(received)),
        seconds=f"{time.monotonic() - started:.1f}",
    )
    assert queued == len(planned) and answers.count("duplicate") == len(arriving)
    assert before == ({"processed": len(planned), "received": len(arriving)}, {"queued": len(planned)})
    assert delivery_statuses(rt) == {"processed": len(planned) + len(arriving)}
    assert message_statuses(rt, step="first") == {"sent": len(planned) + len(arriving)}
    assert duplicates(received) == {}
    assert sorted(received) == sorted(m["id"] for m in first_rows)


def test_a_redis_restart_under_a_running_worker_loses_nothing(rt, store, redis_server, tmp_path):
    """Killed in the middle of a send (the provider holds the worker's email) and started again on
    its port, empty. The web tier keeps recording deliveries while Redis is down (Shopify gets its
    200); the running worker and its scheduler carry on once it is back, and the reconciler gives
    the lost jobs back. Each email reaches the provider once."""
    started = time.monotonic()
    abandoned = (datetime.now(UTC) - timedelta(minutes=61)).isoformat()
    before, during, after = ([f"{when}-{n}" for n in range(3)] for when in ("before", "during", "after"))
    with smtp_server(StallingHandler()) as (controller, smtp):
        smtp_url = f"smtp://127.0.0.1:{controller.port}"
        web = on_redis(rt, store, redis_server, web=True)
        private = runtime.install(on_redis(rt, store, redis_server).rt)
        try:
            with Worker({"REDIS_URL": redis_server.url, "SMTP_URL": smtp_url, "RECLAIM_OUTBOX_FILE": ""},
                        tmp_path / "worker.log") as worker:  # fmt: skip
                post_checkouts(web, before, abandoned)
                wait_for(smtp.holding.is_set, 40, f"no email reached the provider:\n{worker.tail()}")
                at_the_kill = message_statuses(private, step="first")

                redis_server.kill()
                answers_while_down = post_checkouts(web, during, abandoned)
                smtp.release.set()  # the send finishes while Redis is down
                time.sleep(TICK_INTERVAL_SECONDS + 1)  # down long enough for the scheduler to meet it too
                redis_server.start()
                post_checkouts(web, after, abandoned)
                # The deliveries recorded while Redis was down (and any new one the scheduler's
                # pick-up, jobs/pickup.py, has not reached yet) get their jobs.
                report = reconcile()
                wait_for(lambda: settled(private), 60, f"not everything was processed and sent:\n{worker.tail()}")
                survived = worker.alive()
            received = smtp_message_ids(smtp.messages())
            first_rows = web.messages(step="first")
        finally:
            web.rt.close()
            private.close()
            runtime.install(rt)

    log = worker.log.read_text()
    checkouts = len(before + during + after)
    figures(
        "Redis restart",
        at_the_kill=dict(at_the_kill),
        answers_while_down=answers_while_down,
        reconciler=str(report),
        worker_survived=survived,
        rq_worker_restarts=log.count("the RQ worker stopped unasked"),
        scheduler_restarts=log.count("the cron scheduler exited"),
        deliveries=dict(delivery_statuses(rt)),
        first_emails=dict(message_statuses(rt, step="first")),
        emails_at_the_provider=len(received),
        duplicates=len(duplicates(received)),
        lost=len({m["id"] for m in first_rows} - set(received)),
        seconds=f"{time.monotonic() - started:.1f}",
    )
    assert at_the_kill["sending"] == 1
    assert answers_while_down == ["accepted"] * len(during)
    assert report.requeued_deliveries <= len(during + after)  # the request enqueues nothing; the pick-up may be first
    assert survived
    assert delivery_statuses(rt) == {"processed": checkouts}
    assert message_statuses(rt, step="first") == {"sent": checkouts}
    assert duplicates(received) == {}
    assert sorted(received) == sorted(m["id"] for m in first_rows)
