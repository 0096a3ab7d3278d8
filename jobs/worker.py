"""`reclaim worker`: an RQ worker, and beside it RQ's cron scheduler for the periodic
dispatcher and reconciler passes. `--burst` drains the queues and exits, no ticks."""

from __future__ import annotations

import logging
import multiprocessing
import signal
import threading
import time
from multiprocessing.process import BaseProcess
from types import FrameType

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, SimpleWorker
from rq.cron import CronScheduler
from rq.exceptions import StopRequested

from shop_app import runtime
from shop_app.adapters.queue import DISPATCH, INGEST, SEND, url_of
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
        return SimpleWorker(queues, connection=rt.redis).work(burst=True, logging_level="WARNING")
    scheduler = Scheduler(url_of(rt.redis))
    scheduler.start()
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


class StoppableWorker(SimpleWorker):
    """RQ's SimpleWorker, remembering whether it was asked to stop (if not, it quit on an error),
    and finishing quietly when Redis is gone."""

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
    """RQ's cron scheduler in a process of its own, started again whenever it exits. It exits when
    it loses Redis (a restart, a failover), and a worker left without it would go on running jobs
    but never dispatch a due message again."""

    def __init__(self, redis_url: str):
        self._redis_url = redis_url
        self._process: BaseProcess | None = None
        self._stopping = threading.Event()
        self._watch = threading.Thread(target=self._keep_running, name="reclaim-cron-watch", daemon=True)

    def start(self) -> None:
        self._watch.start()

    def stop(self) -> None:
        self._stopping.set()
        self._watch.join()
        if self._process is not None:
            self._process.terminate()
            self._process.join(5)

    def _keep_running(self) -> None:
        while not self._stopping.is_set():
            if self._process is None or not self._process.is_alive():
                if self._process is not None:
                    log.warning("the cron scheduler exited (code %s); starting it again", self._process.exitcode)
                self._process = multiprocessing.get_context("spawn").Process(
                    target=_run_scheduler, args=(self._redis_url,), name="reclaim-cron", daemon=True
                )
                self._process.start()
            self._stopping.wait(SCHEDULER_CHECK_SECONDS)


def _run_scheduler(redis_url: str) -> None:
    from jobs.dispatch import dispatch_job, reconcile_job

    cron = CronScheduler(connection=Redis.from_url(redis_url))
    cron.register(dispatch_job, queue_name=DISPATCH, interval=TICK_INTERVAL_SECONDS, result_ttl=60)
    cron.register(reconcile_job, queue_name=DISPATCH, interval=RECONCILE_INTERVAL_SECONDS, result_ttl=60)
    cron.start()
