"""Two real `reclaim worker` processes on one Redis: only the lease holder's scheduler enqueues the
dispatcher's pass (about one a second between them, not one per worker), and when the holder is
killed (no handler runs, nothing released) the other takes the lease over once it lapses and
goes on dispatching."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from rq import Worker as RQWorker

from jobs.worker import LEASE_KEY, LEASE_MS
from shop_app.adapters.queue import DISPATCH
from shop_app.config import TICK_INTERVAL_SECONDS
from tests.processes import Worker, wait_for

pytestmark = pytest.mark.slow


def dispatch_passes(rt) -> set[str]:
    finished = rt.queue.queues[DISPATCH].finished_job_registry.get_job_ids()
    return {job_id for job_id in finished if job_id.startswith("dispatch-")}


def test_two_workers_run_one_scheduler_and_the_survivor_takes_the_lease_over(rt, store, tmp_path):
    rt.redis.delete(LEASE_KEY)
    with Worker({}, tmp_path / "first.log") as first:
        wait_for(lambda: rt.redis.get(LEASE_KEY), 30, f"no scheduler took the lease:\n{first.tail()}")
        first_holder = rt.redis.get(LEASE_KEY)
        with Worker({}, tmp_path / "second.log") as second:
            # Both registered with RQ (the second's scheduler starts with it): a sleep here left the count
            # below vacuous whenever the second was still importing, as on a busy machine.
            wait_for(lambda: len(RQWorker.all(connection=rt.redis)) >= 2, 30, f"no second worker:\n{second.tail()}")
            time.sleep(1)
            before, started = dispatch_passes(rt), time.monotonic()
            time.sleep(4)
            passes = len(dispatch_passes(rt) - before)
            seconds = time.monotonic() - started
            assert rt.redis.get(LEASE_KEY) == first_holder
            assert 1 <= passes <= seconds / TICK_INTERVAL_SECONDS + 1, passes  # one scheduler's worth

            first.kill()
            wait_for(
                lambda: rt.redis.get(LEASE_KEY) not in (None, first_holder),
                LEASE_MS / 1000 + 10,
                f"the surviving worker did not take the lease over:\n{second.tail()}",
            )
            abandoned = (datetime.now(UTC) - timedelta(minutes=61)).isoformat()
            assert store.post("checkouts/create", store.checkout("after", abandoned)).status_code == 200
            wait_for(store.outbox, 40, f"nothing was sent after the takeover:\n{second.tail()}", every=0.5)
    assert store.message(step="first")["status"] == "sent"
