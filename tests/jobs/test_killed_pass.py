"""A periodic pass whose worker is killed (SIGKILL, the OOM killer) under it stalls nothing (found
by review): RQ goes on saying the job is `started` until a worker's cleanup fails it, minutes later,
and the scheduler, which enqueues a pass again only once its last job stopped, dispatched nothing
meanwhile. A running pass now renews a beat as a batch send job does (JobQueue.beating), and a
`started` pass without one is dead: the scheduler's next step enqueues the pass again.

The scheduler here is the test's own (PeriodicPasses holding the lease); the worker killed is a
real RQ worker process in the pass's real entry, its work made to hang (tests/jobs/hanging_pass.py).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from rq.job import Job

from jobs.worker import LEASE_KEY, PeriodicPasses, SchedulerLease
from shop_app.adapters.queue import BEAT_TTL, DISPATCH, beat_key
from tests.processes import Worker, wait_for


@pytest.fixture
def passes(rt):
    rt.redis.delete(LEASE_KEY)
    yield PeriodicPasses(rt.redis, SchedulerLease(rt.redis))
    rt.redis.delete(LEASE_KEY)


def waiting_pass(rt, name: str) -> str:
    """The id of the `name` pass's job waiting on the dispatch queue."""
    [job_id] = [job_id for job_id in rt.queue.queues[DISPATCH].job_ids if job_id.startswith(f"{name}-")]
    return job_id


def test_a_started_pass_is_running_while_it_beats_and_dead_once_it_stops(rt, passes):
    clock = time.monotonic()
    assert passes.step(clock) == ["dispatch", "reconcile"]
    job_id = waiting_pass(rt, "dispatch")
    rt.redis.lpop(rt.queue.queues[DISPATCH].key)  # a worker took it…
    # …and was killed a while after it started: RQ still says `started`, the beat is still there.
    started = (datetime.now(UTC) - timedelta(seconds=BEAT_TTL + 1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    rt.redis.hset(Job.key_for(job_id), mapping={"status": "started", "started_at": started})
    rt.redis.set(beat_key(job_id), 1)
    assert passes.step(clock + 60) == []  # running: not stacked up behind itself
    rt.redis.delete(beat_key(job_id))  # the beat lapsed
    assert passes.step(clock + 61) == ["dispatch"]


@pytest.mark.slow
def test_a_pass_whose_worker_is_killed_is_enqueued_again_within_seconds(rt, store, passes, environment, tmp_path):
    abandoned = (datetime.now(UTC) - timedelta(minutes=61)).isoformat()
    store.deliver("checkouts/create", store.checkout("killed-pass", abandoned))  # its first email is due
    assert passes.step(time.monotonic()) == ["dispatch", "reconcile"]
    job_id = waiting_pass(rt, "dispatch")
    with Worker(environment, tmp_path / "hanging.log", command=("-m", "tests.jobs.hanging_pass")) as hanging:
        wait_for(
            lambda: Job.fetch(job_id, connection=rt.redis).get_status() == "started",
            30,
            f"the worker did not start the pass:\n{hanging.tail()}",
        )
        hanging.kill()
    assert Job.fetch(job_id, connection=rt.redis).get_status() == "started"  # as RQ has it for minutes

    wait_for(
        lambda: "dispatch" in passes.step(time.monotonic()),
        BEAT_TTL + 5,
        "the scheduler did not enqueue the dispatcher's pass again",
    )
    store.drain()  # the new pass, then the send job it enqueued
    assert store.message(step="first", channel="email")["status"] == "sent"
