"""The outbox's backlog for `reclaim status`: what is due and not yet handed to a send job, how
late the oldest of it is, and how many rows wait in each unfinished or retryable status.

One statement over ix_messages_status_due: the scheduled rows due by `now`, and the queued,
sending, unknown and failed ones (counted with FILTER, which PostgreSQL and SQLite ≥ 3.30 know).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from shop_app.domain.models import Status
from shop_app.storage.tables import Message

#: A due message not claimed this long after its due time is overdue: the dispatcher passes
#: every second, so a minute means it is not keeping up (or not running).
OVERDUE_SECONDS = 60
_WAITING = (Status.QUEUED, Status.SENDING, Status.UNKNOWN, Status.FAILED)


@dataclass(frozen=True)
class Backlog:
    due: int  # scheduled, due by now
    overdue: int  # scheduled, due more than OVERDUE_SECONDS ago
    oldest_due_at: datetime | None  # the earliest due time of those due
    waiting: dict[str, int]  # queued, sending, unknown and failed rows, by status

    def lateness(self, now: datetime) -> timedelta | None:
        """How late the oldest due message is; None when nothing is due."""
        return now - self.oldest_due_at if self.oldest_due_at is not None else None


def backlog(session: Session, now: datetime, overdue_seconds: int = OVERDUE_SECONDS) -> Backlog:
    due = and_(Message.status == Status.SCHEDULED.value, Message.due_at <= now)
    overdue = and_(due, Message.due_at <= now - timedelta(seconds=overdue_seconds))
    columns: list[Any] = [
        func.count().filter(due),
        func.count().filter(overdue),
        func.min(Message.due_at).filter(due),
        *(func.count().filter(Message.status == status.value) for status in _WAITING),
    ]
    wanted = or_(due, Message.status.in_([status.value for status in _WAITING]))
    row = session.execute(select(*columns).where(wanted)).one()
    return Backlog(
        due=row[0],
        overdue=row[1],
        oldest_due_at=row[2],
        waiting={status.value: count for status, count in zip(_WAITING, row[3:], strict=True)},
    )
