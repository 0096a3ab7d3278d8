"""After a fuzz run: let the workers and the reconciler finish everything, then count what did not.

A row is final when nothing will move it again: a delivery `processed` or `rejected`; a message
`sent`, `skipped`, `failed`, `unknown` or `cancelled`, or `scheduled` for later than the last tick.
A row that ends up final only because its job kept breaking (a reason saying "attempt" or
"gave up") is counted separately: that is the safety net catching a bug.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, or_, select

from shop_app.domain.models import Status, WebhookStatus
from shop_app.storage.database import transaction
from shop_app.storage.tables import Message, WebhookDelivery

#: Past every backoff (2 h at most) and every recovery step (Prime: 40 h) with its window wait.
TICK_STEP = timedelta(hours=6)
MAX_TICKS = 14


@dataclass
class Outcome:
    deliveries: Counter[str] = field(default_factory=Counter)
    messages: Counter[str] = field(default_factory=Counter)
    left_non_final: int = 0
    broken_runs: int = 0  # rows with a failed or given-up job run: a bug the safety net caught
    ticks: int = 0

    def summary(self) -> str:
        deliveries = ", ".join(f"{n} {status}" for status, n in sorted(self.deliveries.items())) or "none"
        messages = ", ".join(f"{n} {status}" for status, n in sorted(self.messages.items())) or "none"
        return (
            f"deliveries: {deliveries}; messages: {messages}; {self.left_non_final} left non-final, "
            f"{self.broken_runs} broken job run(s), settled after {self.ticks} tick(s)"
        )


def _broken(reason_column: ColumnElement[str | None]) -> ColumnElement[bool]:
    return or_(reason_column.like("attempt %"), reason_column.like("gave up%"))


def count(rt, last_tick: datetime) -> Outcome:
    """What the tables hold now, as of the reconciler's `last_tick`."""
    with transaction(rt.sessions) as session:
        deliveries = Counter(
            dict(session.execute(select(WebhookDelivery.status, func.count()).group_by(WebhookDelivery.status)).all())
        )
        messages = Counter(dict(session.execute(select(Message.status, func.count()).group_by(Message.status)).all()))
        overdue = session.scalar(
            select(func.count()).where(Message.status == Status.SCHEDULED.value, Message.due_at <= last_tick)
        )
        broken = session.scalar(select(func.count()).where(_broken(WebhookDelivery.reason))) + session.scalar(
            select(func.count()).where(_broken(Message.reason))
        )
    left = deliveries[WebhookStatus.RECEIVED.value] + messages[Status.QUEUED.value] + messages[Status.SENDING.value]
    return Outcome(deliveries, messages, left + (overdue or 0), broken or 0)


def settle(store, start: datetime) -> Outcome:
    """Tick the reconciler and dispatcher (each tick drains the workers) until no row is left
    non-final, at most MAX_TICKS times, TICK_STEP apart from `start`."""
    at = start
    for ticks in range(1, MAX_TICKS + 1):
        at += TICK_STEP
        store.tick(at)
        outcome = count(store.rt, at)
        outcome.ticks = ticks
        if outcome.left_non_final == 0 and ticks * TICK_STEP >= timedelta(hours=48):
            break
    return outcome
