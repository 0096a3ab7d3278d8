"""`reclaim status`: what an operator on call asks first. Is work piling up (RQ queue depths,
due and overdue messages, the oldest one's lateness), is anything running (RQ's registered
workers and their last heartbeats), and when did the dispatcher and reconciler last finish a
pass (jobs/worker.py records it in Redis). Read only; no personal data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from rq.defaults import DEFAULT_WORKER_TTL

from jobs.worker import last_passes
from shop_app.adapters.queue import QUEUE_NAMES
from shop_app.config import RECONCILE_INTERVAL_SECONDS
from shop_app.health import workers as read_workers
from shop_app.recovery.backlog import OVERDUE_SECONDS, backlog
from shop_app.runtime import Runtime
from shop_app.storage.database import transaction

#: The width of the labels in the text form.
_W = 16
#: A worker not heard from for longer is not counted as running (RQ's own worker TTL: its
#: registration expires then).
HEARTBEAT_STALE_SECONDS = DEFAULT_WORKER_TTL
#: The scheduler runs a dispatcher pass every second and a reconciler pass every 30 s; a last
#: pass older than these means no scheduler is running them.
STALE_PASS_SECONDS = {"dispatch": 60, "reconcile": 10 * RECONCILE_INTERVAL_SECONDS}


def gather(rt: Runtime, now: datetime) -> dict[str, Any]:
    """The status as a JSON document. `now` dates the messages' lateness; the heartbeats' and
    passes' ages are on the wall clock, as they were written."""
    with transaction(rt.sessions) as session:
        found = backlog(session, now)
    clock = datetime.now(UTC)
    queues = {}
    for name in QUEUE_NAMES:
        queue = rt.queue.queues[name]
        queues[name] = {
            "waiting": queue.count,
            "running": queue.started_job_registry.count,
            "failed": queue.failed_job_registry.count,
        }
    lateness = found.lateness(now)
    registered, unreadable = read_workers(rt.redis)  # a record RQ cannot parse is named, not a traceback
    workers = sorted(registered, key=lambda worker: worker.name)
    document: dict[str, Any] = {
        "now": now.isoformat(),
        "queues": queues,
        "messages": {
            "due": found.due,
            "overdue": found.overdue,
            "overdue_after_seconds": OVERDUE_SECONDS,
            "oldest_due_at": _iso(found.oldest_due_at),
            "oldest_lateness_seconds": lateness.total_seconds() if lateness is not None else None,
            **found.waiting,
        },
        "workers": [
            {
                "name": worker.name,
                "hostname": worker.hostname,
                "pid": worker.pid,
                "state": worker.get_state(),
                "queues": worker.queue_names(),
                "last_heartbeat": _iso(worker.last_heartbeat),
                "heartbeat_age_seconds": _age(clock, worker.last_heartbeat),
            }
            for worker in workers
        ],
        "unreadable_workers": sorted(unreadable),
        "passes": {
            name: {"finished_at": _iso(at), "age_seconds": _age(clock, at)}
            for name, at in last_passes(rt.redis).items()
        },
    }
    document["problems"] = problems(document)
    return document


def problems(status: dict[str, Any]) -> list[str]:
    """What is wrong, one sentence each (`reclaim status` exits 1 when there is any): no worker
    with a recent heartbeat, a worker record RQ cannot read, or a dispatcher or reconciler pass
    that is missing or stale."""
    found = []
    if unreadable := status.get("unreadable_workers"):
        found.append(f"worker records RQ could not read (another RQ version's?): {', '.join(unreadable)}")
    ages = [w["heartbeat_age_seconds"] for w in status["workers"] if w["heartbeat_age_seconds"] is not None]
    if not any(age <= HEARTBEAT_STALE_SECONDS for age in ages):
        found.append(f"no worker sent a heartbeat in the last {HEARTBEAT_STALE_SECONDS} s")
    for name, limit in STALE_PASS_SECONDS.items():
        age = (status["passes"].get(name) or {}).get("age_seconds")
        if age is None:
            found.append(f"no {name} pass recorded")
        elif age > limit:
            found.append(f"the last {name} pass finished {ago(age)} ago (more than {limit} s)")
    return found


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def _age(clock: datetime, at: datetime | None) -> float | None:
    return round((clock - at).total_seconds(), 1) if at is not None else None


def status_text(status: dict[str, Any]) -> str:
    """The document as a few aligned lines."""
    lines = [
        f"{'queue':<{_W}}"
        + "; ".join(
            f"{name} {q['waiting']} waiting, {q['running']} running, {q['failed']} failed"
            for name, q in status["queues"].items()
        ),
        *_messages_lines(status["messages"]),
        *_workers_lines(status["workers"]),
    ]
    for name, done in status["passes"].items():
        when = (f"{ago(done['age_seconds'])} ago ({done['finished_at'][:19]}Z)" if done["finished_at"]
                else "none recorded (a `reclaim worker` scheduler records each pass it runs)")  # fmt: skip
        lines.append(f"{'last ' + name:<{_W}}{when}")
    for place, problem in enumerate(status["problems"] or ["none"]):
        lines.append(f"{'problems' if place == 0 else '':<{_W}}{problem}")
    return "\n".join(lines)


def _messages_lines(m: dict[str, Any]) -> list[str]:
    due = f"{m['due']} due, {m['overdue']} overdue (due over {m['overdue_after_seconds']} s ago)"
    if m["oldest_due_at"] is not None:
        oldest = m["oldest_due_at"][:16].replace("T", " ")
        due += f"; the oldest due {oldest} UTC, {ago(m['oldest_lateness_seconds'])} late"
    waiting = f"{m['queued']} queued, {m['sending']} sending, {m['unknown']} unknown, {m['failed']} failed"
    return [f"{'messages':<{_W}}{due}", f"{'':<{_W}}{waiting}"]


def _workers_lines(workers: list[dict[str, Any]]) -> list[str]:
    if not workers:
        return [f"{'workers':<{_W}}none registered: nothing runs the queues (start `reclaim worker`)"]
    lines = []
    for place, w in enumerate(workers):
        beat = f"heartbeat {ago(w['heartbeat_age_seconds'])} ago" if w["last_heartbeat"] else "no heartbeat yet"
        label = f"workers ({len(workers)})" if place == 0 else ""
        lines.append(f"{label:<{_W}}{w['name']} (pid {w['pid']} on {w['hostname']}): {w['state']}, {beat}")
    return lines


def ago(seconds: float | None) -> str:
    """A duration as an operator reads it: 42 s, 5 min 3 s, 2 h 5 min, 3 d 4 h."""
    if seconds is None:
        return "–"
    left = timedelta(seconds=max(0, round(seconds)))
    days, rest = left.days, left.seconds
    hours, minutes, secs = rest // 3600, rest % 3600 // 60, rest % 60
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min {secs} s" if minutes else f"{secs} s"
