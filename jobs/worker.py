"""`reclaim worker`: an RQ worker, and beside it a scheduler for the periodic dispatcher and
reconciler passes. Of all running workers, only the one holding the scheduler lease in Redis
enqueues the passes. `--burst` drains the queues and exits, no ticks."""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from multiprocessing.process import BaseProcess
from types import FrameType

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue
from rq.exceptions import StopRequested

from jobs import pickup
from jobs.dispatch import dispatch_job, reconcile_job
from jobs.failures import DescribedFailures
from shop_app import log_format, runtime
from shop_app.adapters.queue import DISPATCH, DISPATCH_PASS, INGEST, RECONCILE_PASS, SEND, JobQueue, url_of
from shop_app.config import RECONCILE_INTERVAL_SECONDS, TICK_INTERVAL_SECONDS
from shop_app.errors import describe

log = logging.getLogger(__name__)
#: Ingest first (Shopify's facts), then dispatch, then sends.
QUEUE_ORDER = (INGEST, DISPATCH, SEND)
#: How often the worker checks that its scheduler process is still running, and how long it
#: waits before it starts an RQ worker again.
SCHEDULER_CHECK_SECONDS = RESTART_SECONDS = 2


def run(burst: bool = False) -> bool:
    rt = runtime.current()
    queues = [rt.queue.queues[name] for name in QUEUE_ORDER]
    # SimpleWorker runs jobs in this process, so the database pool and Redis
    # connection are built once and reused instead of once per forked job.
    if burst:
        pickup.pick_up(rt)  # new webhook deliveries get their ingest jobs, as a dispatcher pass would
        return DescribedFailures(queues, connection=rt.redis).work(burst=True, logging_level="WARNING")
    scheduler = Scheduler(url_of(rt.redis))
    scheduler.start()
    log.info("worker started on the %s queues, with the scheduler of the periodic passes", ", ".join(QUEUE_ORDER))
    try:
        _work_until_stopped(queues, rt.redis)
    finally:
        scheduler.stop()
    return True


def _work_until_stopped(queues: list[Queue], connection: Redis) -> None:
    """Run RQ workers until one is asked to stop (SIGTERM, SIGINT). RQ's worker quits on a Redis
    error outside its wait for jobs (a restart, a failover): another one starts a moment later."""
    for signum in (signal.SIGTERM, signal.SIGINT):  # until a worker installs RQ's handlers
        signal.signal(signum, _stop_requested)
    try:
        while True:
            worker = None
            try:
                worker = StoppableWorker(queues, connection=connection)
                worker.work(with_scheduler=False)
            except RedisError as error:  # a new worker's first words to Redis
                log.warning("the RQ worker could not start (%s)", describe(error))
            if worker is not None and worker.stop_asked:
                return
            log.warning("the RQ worker stopped unasked; a new one starts in %s s", RESTART_SECONDS)
            time.sleep(RESTART_SECONDS)
    except StopRequested:  # a signal outside RQ's worker loop
        return


def _stop_requested(signum: int, frame: FrameType | None) -> None:
    raise StopRequested()


class StoppableWorker(DescribedFailures):
    """RQ's SimpleWorker (a failed job told without its message, jobs/failures.py), remembering
    whether it was asked to stop (if not, it quit on an error), and finishing quietly when Redis
    is gone."""

    stop_asked = False

    def request_stop(self, signum, frame):
        self.stop_asked = True
        super().request_stop(signum, frame)

    def teardown(self):
        try:
            super().teardown()  # registers its death and closes its command channel, in Redis
        except RedisError:
            if self.pubsub_thread:  # the channel's thread would keep retrying for a dead worker
                self.pubsub_thread.stop()


class Scheduler:
    """The scheduler in a process of its own, started again whenever it exits. It exits when
    it loses Redis (a restart, a failover), and a worker left without it would go on running jobs
    but never dispatch a due message again."""

    def __init__(self, redis_url: str):
        self._redis_url = redis_url
        self._process: BaseProcess | None = None
        self._stopping = threading.Event()
        self._watch = threading.Thread(target=self._keep_running, name="reclaim-cron-watch", daemon=True)

    def start(self) -> None:
        self._spawn()
        self._watch.start()

    def stop(self) -> None:
        self._stopping.set()
        self._watch.join()
        if self._process is not None:
            self._process.terminate()
            self._process.join(5)

    def _keep_running(self) -> None:
        while not self._stopping.wait(SCHEDULER_CHECK_SECONDS):
            if self._process is None or not self._process.is_alive():
                if self._process is not None:
                    log.warning("the cron scheduler exited (code %s); starting it again", self._process.exitcode)
                self._spawn()

    def _spawn(self) -> None:
        """Start the scheduler's process. Ctrl-C reaches the whole process group, and the worker
        stops this process itself: the process ignores SIGINT. The first one, started from the main
        thread, inherits SIGINT ignored, so an early Ctrl-C meets no half-imported process either."""
        self._process = multiprocessing.get_context("spawn").Process(
            target=_run_scheduler, args=(self._redis_url,), name="reclaim-cron", daemon=True
        )
        if threading.current_thread() is not threading.main_thread():
            self._process.start()
            return
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            self._process.start()
        finally:
            signal.signal(signal.SIGINT, previous)


#: The Redis key of the scheduler lease: one process across all `reclaim worker`s runs the
#: periodic passes; the others keep trying to take the lease when it lapses.
LEASE_KEY = "reclaim:scheduler-lease"
#: A holder renews its lease every pass (TICK_INTERVAL_SECONDS); one that stops renewing (killed,
#: cut off from Redis) leaves it to another process within this time.
LEASE_MS = 5000
#: Take the lease when free, or keep it when ours, in one step: never two holders.
_HOLD = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
if redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
return 0
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""
#: The periodic passes: (name, job, interval in seconds).
PASSES = (
    ("dispatch", DISPATCH_PASS, TICK_INTERVAL_SECONDS),
    ("reconcile", RECONCILE_PASS, RECONCILE_INTERVAL_SECONDS),
)
#: When each periodic pass last finished (ISO 8601, UTC), written by the pass for `reclaim
#: status`. Not work in flight: a flushed Redis only makes it say "no pass recorded" until the next.
LAST_PASS_KEY = "reclaim:last-pass:"


def dispatch_pass() -> str:
    """The scheduler's dispatcher pass (jobs.dispatch.dispatch_job), its end then recorded."""
    return _recorded("dispatch", dispatch_job)


def reconcile_pass() -> str:
    """The scheduler's reconciler pass (jobs.dispatch.reconcile_job), its end then recorded."""
    return _recorded("reconcile", reconcile_job)


def _recorded(name: str, run_pass: Callable[[], str]) -> str:
    """Run a pass, beating while it runs when it is an RQ job (`JobQueue.beating`: a worker killed
    mid-pass leaves a job RQ says is `started`; without a beat the scheduler soon knows it dead)."""
    rt = runtime.current()
    job_id = rt.queue.current_job_id()
    with rt.queue.beating(job_id) if job_id else contextlib.nullcontext():
        report = run_pass()  # a failed pass is not recorded: the time stays the last one that finished
    rt.redis.set(LAST_PASS_KEY + name, datetime.now(UTC).isoformat())
    return report


def last_passes(connection: Redis) -> dict[str, datetime | None]:
    """{pass name: when it last finished}, None for a pass not recorded (never run, or Redis emptied)."""
    names = [name for name, _, _ in PASSES]
    values = connection.mget([LAST_PASS_KEY + name for name in names])
    return {name: datetime.fromisoformat(v.decode() if isinstance(v, bytes) else v) if v else None
            for name, v in zip(names, values, strict=True)}  # fmt: skip


class SchedulerLease:
    """A lease in Redis (SET NX PX, renewed while held, released on stop) naming the one process
    whose scheduler runs the periodic passes."""

    def __init__(self, connection: Redis, *, holder: str | None = None, ttl_ms: int = LEASE_MS):
        self._connection = connection
        self.holder = holder or uuid.uuid4().hex
        self._ttl_ms = ttl_ms

    def hold(self) -> bool:
        """Take the lease if it is free (or lapsed), renew it if ours; True while it is ours."""
        return bool(self._connection.eval(_HOLD, 1, LEASE_KEY, self.holder, self._ttl_ms))

    def release(self) -> None:
        """Give the lease up if still ours, so another process takes it at its next pass."""
        self._connection.eval(_RELEASE, 1, LEASE_KEY, self.holder)


class PeriodicPasses:
    """Enqueues each periodic pass on the dispatch queue once per its interval, only while this
    process holds the lease, and never while the pass's previous job is still waiting or running
    (a slow pass is not stacked up behind itself). A pass whose worker was killed under it is not
    running: its beat stops, and the next step enqueues the pass again (`JobQueue.states`)."""

    def __init__(self, connection: Redis, lease: SchedulerLease):
        self._lease = lease
        self._jobs = JobQueue(connection)
        self._next: dict[str, float] = {}
        self._last_job: dict[str, str] = {}

    def step(self, clock: float) -> list[str]:
        """One scheduler pass at monotonic time `clock`: the names of the passes enqueued."""
        if not self._lease.hold():
            self._next.clear()  # another process runs them; start afresh if the lease comes back
            return []
        enqueued = []
        for name, func, interval in PASSES:
            if clock < self._next.get(name, clock) or self._jobs.job_alive(self._last_job.get(name)):
                continue
            job_id = self._jobs.new_job_id(name)
            self._jobs.queues[DISPATCH].enqueue(func, job_id=job_id, result_ttl=60, failure_ttl=86400)
            self._last_job[name], self._next[name] = job_id, clock + interval
            enqueued.append(name)
        return enqueued


def _run_scheduler(redis_url: str) -> None:
    """The scheduler process: a pass every TICK_INTERVAL_SECONDS, the lease given up when asked to
    stop. A Redis error ends it, and the worker starts it again. A spawned process starts with
    logging unset: it logs as its worker does. SIGINT is ignored (see Scheduler._spawn)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _exit)
    log_format.configure(os.environ)
    lease = SchedulerLease(Redis.from_url(redis_url))
    passes = PeriodicPasses(Redis.from_url(redis_url), lease)
    try:
        while True:
            started = time.monotonic()
            passes.step(started)
            time.sleep(max(0.0, TICK_INTERVAL_SECONDS - (time.monotonic() - started)))
    finally:
        with contextlib.suppress(RedisError):  # else it lapses on its own
            lease.release()


def _exit(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)
