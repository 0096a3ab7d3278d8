"""What `/healthz` reports: whether the database and Redis answer, within a deadline, and when
the workers last showed life (RQ's worker heartbeats, the scheduler's last passes).

Each check runs in a thread of its own, started per request, so a hung dependency never
holds the request and one poll's stuck check never queues the next poll's behind it (a
stuck thread ends with its connection's own timeout). Both share one deadline.

Only the database and Redis decide the answer (503 when either fails): a load balancer polls
this to know whether this web process can serve, and it can while the workers are down
(webhooks are recorded, and their work is enqueued when a worker is back), so restarting the
web process would not help. Workers and passes found stale are listed under `stale` for the
operator's alerts instead (and in /metrics, shop_app/metrics.py). Reading them never decides
the answer either: a worker record RQ cannot parse (another RQ version's, in a rolling deploy)
is listed under `workers.unreadable`, and a failure to read them at all under `workers.error`
with `workers` stale, while Redis itself answered.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from redis import Redis
from redis.exceptions import RedisError
from rq import Worker
from rq.defaults import DEFAULT_WORKER_TTL
from rq.worker import BaseWorker
from sqlalchemy import text

from jobs.worker import last_passes
from shop_app.errors import describe
from shop_app.runtime import Runtime

#: /healthz answers within this, whatever hangs; a check still running is reported as such.
DEADLINE_SECONDS = 0.5
#: An idle RQ worker writes its heartbeat every DEFAULT_WORKER_TTL - 15 s (its wait for a job),
#: and RQ forgets a worker whose heartbeat is older than DEFAULT_WORKER_TTL + 60 s; the newest
#: heartbeat older than the TTL means no worker is beating.
WORKER_STALE_SECONDS = DEFAULT_WORKER_TTL
#: A pass that has not finished for this long is stale: the dispatcher passes every second and
#: the reconciler every 30 s (config.TICK_INTERVAL_SECONDS, RECONCILE_INTERVAL_SECONDS).
PASS_STALE_SECONDS = {"dispatch": 60, "reconcile": 300}


@dataclass(frozen=True)
class Liveness:
    """What Redis says of the workers, read at `clock` (the wall clock: heartbeats and passes
    are written on it)."""

    workers: int  # RQ's registered workers
    newest_heartbeat: datetime | None  # the most recent heartbeat of any of them
    passes: dict[str, datetime | None]  # when each periodic pass last finished (jobs.worker)
    clock: datetime
    unreadable: tuple[str, ...] = ()  # the names of worker records RQ could not parse (not counted)

    def heartbeat_age(self) -> float | None:
        return _age(self.clock, self.newest_heartbeat)

    def pass_ages(self) -> dict[str, float | None]:
        return {name: _age(self.clock, at) for name, at in self.passes.items()}

    def stale(self) -> list[str]:
        """`workers` (none registered, or none beating), then each pass not finished lately."""
        age = self.heartbeat_age()
        found = ["workers"] if age is None or age > WORKER_STALE_SECONDS else []
        for name, pass_age in self.pass_ages().items():
            if pass_age is None or pass_age > PASS_STALE_SECONDS.get(name, 60):
                found.append(name)
        return found

    def document(self) -> dict[str, Any]:
        return {
            "workers": {
                "registered": self.workers,
                "newest_heartbeat_age_seconds": self.heartbeat_age(),
                "unreadable": list(self.unreadable),
            },
            "passes": {name: {"age_seconds": age} for name, age in self.pass_ages().items()},
            "stale": self.stale(),
        }


def workers(connection: Redis) -> tuple[list[BaseWorker], list[str]]:
    """RQ's registered workers, each read on its own (Worker.all fails on the first record it
    cannot parse), and the names of those it could not read. A RedisError is raised."""
    found, unreadable = [], []
    for key in Worker.all_keys(connection=connection):
        try:
            worker = Worker.find_by_key(key, connection=connection)
        except RedisError:
            raise
        except Exception:  # e.g. a heartbeat that is not a date: another RQ version's record
            unreadable.append(key.removeprefix(Worker.redis_worker_namespace_prefix))
            continue
        if worker is not None:  # None: gone since the listing
            found.append(worker)
    return found, unreadable


def liveness(connection: Redis) -> Liveness:
    """RQ's registered workers (as `reclaim status` lists them) and the last passes, from Redis."""
    found, unreadable = workers(connection)
    beats = [worker.last_heartbeat for worker in found]
    newest = max((beat for beat in beats if beat is not None), default=None)
    return Liveness(len(beats), newest, last_passes(connection), datetime.now(UTC), tuple(unreadable))


def _age(clock: datetime, at: datetime | None) -> float | None:
    return round((clock - at).total_seconds(), 1) if at is not None else None


class _Check(threading.Thread):
    def __init__(self, name: str, probe: Callable[[], object]):
        super().__init__(name=f"reclaim-health-{name}", daemon=True)
        self.probe, self.problem = probe, f"no answer within {DEADLINE_SECONDS} s"
        self.found: object = None

    def run(self) -> None:
        try:
            self.found = self.probe()
            self.problem = ""
        except Exception as exc:  # reported, never raised: this is what operators poll
            self.problem = describe(exc)


def report(runtime: Runtime) -> tuple[dict[str, Any], bool]:
    """The /healthz document, and whether the database and Redis both answered in time.

    {"ok", "problems": {dependency: what is wrong}, "workers", "passes", "stale"}; the last
    three are null (and `stale` empty) when Redis did not answer."""

    def database() -> None:
        with runtime.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def redis() -> Liveness | str:
        runtime.queue.ping()  # this alone decides whether Redis is ok
        try:
            return liveness(runtime.redis)
        except RedisError:
            raise
        except Exception as exc:  # Redis answered; what it holds of the workers could not be read
            return describe(exc)

    checks = {"database": _Check("database", database), "redis": _Check("redis", redis)}
    for check in checks.values():
        check.start()
    deadline = time.monotonic() + DEADLINE_SECONDS
    for check in checks.values():
        check.join(max(0.0, deadline - time.monotonic()))
    problems = {name: check.problem for name, check in checks.items() if check.is_alive() or check.problem}
    found = checks["redis"].found if "redis" not in problems else None
    alive: dict[str, Any] = {"workers": None, "passes": None, "stale": []}
    if isinstance(found, Liveness):
        alive = found.document()
    elif isinstance(found, str):
        alive = {"workers": {"error": found}, "passes": None, "stale": ["workers"]}
    return {"ok": not problems, "problems": problems, **alive}, not problems
