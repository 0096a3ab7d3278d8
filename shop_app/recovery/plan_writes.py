"""A replan's UPDATE of its journey's existing messages (issue 13, item 6): the ones moved (due
time and reason) and the journey's abandonment time copied, in one executemany UPDATE. No status
is written (that is the outbox's alone). The journey's own columns (reached, first_due_at,
conversion_days, abandoned_at) are set by recovery/journeys.py on the Journey object, written in
its one INSERT or UPDATE: so this leaves the journey row alone.

The messages were read locked (recovery/plan_facts.py), so each row is written from what was read;
the UPDATE still requires the status it was read in, so a row that moved on meanwhile (SQLite,
which has no row locks) is left as it is, and the caller told (`update_messages` returns False).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy import bindparam, update
from sqlalchemy.orm import Session

from shop_app.recovery.outbox import MAX_REASON
from shop_app.storage.tables import Message


def update_messages(
    session: Session, messages: Sequence[Message], moves: Mapping[int, datetime], abandoned_at: datetime, reason: str
) -> bool:
    """Each of `messages` (read locked) in `moves` gets its new due time and `reason`, and each
    one's copy of the journey's abandonment time becomes `abandoned_at`: one executemany UPDATE for
    the rows that change. False when a row was no longer in the status it was read in."""
    changed = [m for m in messages if m.id in moves or m.journey_abandoned_at != abandoned_at]
    if not changed:
        return True
    table = Message.metadata.tables[Message.__tablename__]
    statement = (
        update(table)
        .where(table.c.id == bindparam("message_id"), table.c.status == bindparam("was"))
        .values(due_at=bindparam("new_due_at"), reason=bindparam("new_reason"), journey_abandoned_at=abandoned_at)
    )
    rows = [
        {
            "message_id": m.id, "was": m.status, "new_due_at": moves.get(m.id, m.due_at),
            "new_reason": reason[:MAX_REASON] if m.id in moves else m.reason,
        }
        for m in changed
    ]  # fmt: skip
    with session.no_autoflush:
        result = session.connection().execute(statement, rows)
    for m in changed:  # written behind the ORM's back
        session.expire(m)
    return result.rowcount < 0 or result.rowcount == len(rows)
