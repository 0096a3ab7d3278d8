"""`reclaim worker`: an RQ worker, and beside it RQ's cron scheduler for the periodic
dispatcher and reconciler passes. `--burst` drains the queues and exits, no ticks."""

from __future__ import annotations

import logging
import multiprocessing

from redis import Redis
from rq import SimpleWorker
from rq.cron import CronScheduler

from shop_app import runtime
from shop_app.adapters.queue import DISPATCH, INGEST, SEND, url_of
from shop_app.config import RECONCILE_INTERVAL_SECONDS, TICK_INTERVAL_SECONDS

log = logging.getLogger(__name__)
#: Ingest first (Shopify's facts), then dispatch, then sends.
QUEUE_ORDER = (INGEST, DISPATCH, SEND)


def run(burst: bool = False) -> bool:
    rt = runtime.current()
    queues = [rt.queue.queues[name] for name in QUEUE_ORDER]
    # SimpleWorker runs jobs in this process, so the database pool and Redis
    # connection are built once and reused instead of once per forked job.
    worker = SimpleWorker(queues, connection=rt.redis)
    if burst:
        return worker.work(burst=True, logging_level="WARNING")
    scheduler = multiprocessing.get_context("spawn").Process(
        target=_run_scheduler, args=(url_of(rt.redis),), name="reclaim-cron", daemon=True
    )
    scheduler.start()
    try:
        return worker.work(with_scheduler=False)
    finally:
        scheduler.terminate()
        scheduler.join(5)


def _run_scheduler(redis_url: str) -> None:
    from jobs.dispatch import dispatch_job, reconcile_job

    cron = CronScheduler(connection=Redis.from_url(redis_url))
    cron.register(dispatch_job, queue_name=DISPATCH, interval=TICK_INTERVAL_SECONDS, result_ttl=60)
    cron.register(reconcile_job, queue_name=DISPATCH, interval=RECONCILE_INTERVAL_SECONDS, result_ttl=60)
    cron.start()
