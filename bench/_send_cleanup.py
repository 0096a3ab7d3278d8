"""The send job benchmark's clean-up (bench/send_job.py): its shops, rows, jobs and Redis keys, also
after an interrupted run."""

from __future__ import annotations

import contextlib
import sys

from rq import SimpleWorker
from rq.group import Group
from sqlalchemy import delete

from jobs.worker import QUEUE_ORDER
from shop_app import runtime
from shop_app.storage.database import transaction
from shop_app.storage.tables import Shop

GROUP_CLEANING_KEY = Group.REDIS_GROUP_CLEANING_KEY


def remove_shops(rt: runtime.Runtime, domains: list[str]) -> None:
    """The bench shops and, through ON DELETE CASCADE, every row of theirs (also before the run)."""
    with transaction(rt.sessions) as session:
        session.execute(delete(Shop).where(Shop.domain.in_(domains)))


def remove_jobs(rt: runtime.Runtime, job_ids: list[str], workers: list[str]) -> None:
    """The jobs, their results and registry entries, and the workers' records this run left in Redis."""
    queues = [rt.queue.queues[name] for name in QUEUE_ORDER]
    registries = [
        key
        for q in queues
        for key in (
            q.finished_job_registry.key,
            q.failed_job_registry.key,
            q.started_job_registry.key,
            q.deferred_job_registry.key,
            q.scheduled_job_registry.key,
            q.canceled_job_registry.key,
        )
    ]
    with rt.redis.pipeline() as pipe:
        for job_id in job_ids:
            pipe.delete(f"rq:job:{job_id}", f"rq:results:{job_id}", f"rq:executions:{job_id}")
            for queue in queues:
                pipe.lrem(queue.key, 0, job_id)
        for key in registries:
            for start in range(0, len(job_ids), 1000):
                pipe.zrem(key, *job_ids[start : start + 1000])
        for worker_key in workers:
            pipe.delete(worker_key)
            pipe.srem(SimpleWorker.redis_workers_keys, worker_key)
            for queue in queues:
                pipe.srem(f"{SimpleWorker.redis_workers_keys}:{queue.name}", worker_key)
        pipe.execute()


def rq_keys(rt: runtime.Runtime) -> set[bytes]:
    return set(rt.redis.scan_iter(match="rq:*", count=1000))


def remove_maintenance_locks(rt: runtime.Runtime, before: set[bytes]) -> None:
    """The lock a worker takes to clean the group registries (it expires after ~10 minutes), if this run took it."""
    if GROUP_CLEANING_KEY.encode() not in before:
        rt.redis.delete(GROUP_CLEANING_KEY)


def report_leftovers(rt: runtime.Runtime, before: set[bytes]) -> None:
    left = sorted(rq_keys(rt) - before)
    if left:
        print(f"warning: the run left {len(left)} Redis keys, e.g. {left[:5]}", file=sys.stderr)


def register_cleanup(
    rt: runtime.Runtime, stack: contextlib.ExitStack, domains: list[str]
) -> tuple[list[str], list[str]]:
    """Remove what an interrupted run left, and have the run's shops, rows, jobs and keys removed at the end.

    Returns the lists the rounds record their job ids and worker keys in (removed at the end).
    """
    keys_before = rq_keys(rt)
    stack.callback(report_leftovers, rt, keys_before)
    stack.callback(remove_maintenance_locks, rt, keys_before)
    queues_known = set(rt.redis.smembers("rq:queues"))
    stack.callback(
        lambda: [
            rt.redis.srem("rq:queues", q.key)
            for q in rt.queue.queues.values()
            if q.key.encode() not in queues_known and not q.count
        ]
    )
    remove_shops(rt, domains)  # what an interrupted run may have left
    stack.callback(remove_shops, rt, domains)
    job_ids: list[str] = []
    workers: list[str] = []
    stack.callback(remove_jobs, rt, job_ids, workers)  # callbacks run last-in, first-out
    return job_ids, workers
