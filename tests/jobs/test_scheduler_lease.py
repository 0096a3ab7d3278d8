"""One scheduler across all `reclaim worker` processes (issue 13, item 4): the periodic passes are
enqueued only by the process holding the lease in Redis (SET NX PX, renewed every pass, released
on stop). A lease another process holds means no pass here; a lapsed one is taken over.

Each process's lease has its own holder id, as `_run_scheduler` makes one per process; the
Redis server is the tests' real one."""

from __future__ import annotations

import time

import pytest

from jobs.worker import LEASE_KEY, LEASE_MS, PeriodicPasses, SchedulerLease
from shop_app.adapters.queue import DISPATCH
from shop_app.config import RECONCILE_INTERVAL_SECONDS, TICK_INTERVAL_SECONDS


@pytest.fixture
def redis(rt):
    rt.redis.delete(LEASE_KEY)
    yield rt.redis
    rt.redis.delete(LEASE_KEY)


def queued_passes(rt) -> list[str]:
    return [job.func_name.rsplit(".", 1)[1] for job in rt.queue.queues[DISPATCH].jobs]


def test_a_lease_held_by_another_process_means_no_pass_here(rt, redis):
    other = SchedulerLease(redis, holder="other-process")
    assert other.hold()
    here = PeriodicPasses(redis, SchedulerLease(redis))
    assert here.step(time.monotonic()) == []
    assert here.step(time.monotonic() + 60) == []
    assert queued_passes(rt) == []
    assert other.hold()  # still the other's, renewed
    assert redis.get(LEASE_KEY) == b"other-process"


def test_the_holder_enqueues_each_pass_once_per_interval_and_never_stacks_them(rt, redis):
    here = PeriodicPasses(redis, SchedulerLease(redis))
    start = time.monotonic()
    assert here.step(start) == ["dispatch", "reconcile"]
    assert here.step(start + TICK_INTERVAL_SECONDS) == []  # the last dispatch job still waits
    rt.queue.queues[DISPATCH].empty()  # as if a worker had run them
    assert here.step(start + TICK_INTERVAL_SECONDS / 2) == []  # not yet due
    assert here.step(start + TICK_INTERVAL_SECONDS) == ["dispatch"]
    rt.queue.queues[DISPATCH].empty()
    assert here.step(start + RECONCILE_INTERVAL_SECONDS) == ["dispatch", "reconcile"]
    assert queued_passes(rt) == ["dispatch_pass", "reconcile_pass"]


def test_a_lapsed_lease_is_taken_over_and_the_old_holder_stops(rt, redis):
    old = SchedulerLease(redis, holder="crashed-process", ttl_ms=200)
    assert old.hold()
    here = PeriodicPasses(redis, SchedulerLease(redis, holder="this-process"))
    assert here.step(time.monotonic()) == []
    time.sleep(0.3)  # the old holder stopped renewing: its lease lapses
    assert here.step(time.monotonic()) == ["dispatch", "reconcile"]
    assert redis.get(LEASE_KEY) == b"this-process"
    assert not old.hold()  # back from its pause, it finds the lease taken and runs nothing


def test_a_released_lease_is_taken_at_the_next_pass_and_a_stranger_cannot_release_it(rt, redis):
    first, second = SchedulerLease(redis, holder="first"), SchedulerLease(redis, holder="second")
    assert first.hold() and not second.hold()
    second.release()  # not its lease: nothing happens
    assert redis.get(LEASE_KEY) == b"first"
    first.release()  # a worker stopping
    assert second.hold() and not first.hold()
    assert 0 < redis.pttl(LEASE_KEY) <= LEASE_MS
