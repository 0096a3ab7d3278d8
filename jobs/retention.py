"""Old rows leave (issue 13, point 7): what the app no longer needs is purged in batches by the
reconciler, so the database does not grow with every webhook and send forever.

After `retention_days` (RECLAIM_RETENTION_DAYS, 90 by default; 0 keeps everything):

- processed and rejected webhook deliveries (their bodies already went when they were ingested; a
  delivery still waiting for its order stays);
- providers' message events and tracked-link click rows (the message's delivery status keeps their
  outcome; the clicks an old credit recorded are no longer listed);
- the content of finished messages: recipient, subject, body and the provider's detail
  (recovery/outbox.forget_content); the row stays, with its status, step, channel, times and
  reason, which the results report counts and which keeps one send per step.

Journeys, checkouts, orders, attributions, suppressions and consent records are kept: they are
small, and the report, the attribution and the law need them. Each batch is one statement in its
own transaction, at most BATCH rows, at most MAX_BATCHES per table per pass.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, delete, select
from sqlalchemy.orm import Session, sessionmaker

from shop_app.domain.models import WebhookStatus
from shop_app.recovery import outbox
from shop_app.storage.database import rows_changed, transaction
from shop_app.storage.tables import MessageEvent, WebhookDelivery

log = logging.getLogger(__name__)
BATCH = 5000
MAX_BATCHES = 4


@dataclass(frozen=True)
class Purged:
    deliveries: int = 0
    events: int = 0
    messages: int = 0

    def __str__(self) -> str:
        return (
            f"purged {self.deliveries} webhook delivery(ies), {self.events} message event(s) and the "
            f"content of {self.messages} finished message(s)"
        )


def purge(sessions: sessionmaker[Session], retention_days: int, now: datetime) -> Purged:
    """One pass: every kind of old row, a few batches each. Nothing when `retention_days` is 0."""
    if retention_days <= 0:
        return Purged()
    before = now - timedelta(days=retention_days)
    finished = (WebhookStatus.PROCESSED.value, WebhookStatus.REJECTED.value)
    purged = Purged(
        deliveries=_batches(
            sessions,
            lambda s: _delete(
                s, WebhookDelivery, WebhookDelivery.status.in_(finished), WebhookDelivery.received_at < before
            ),
        ),  # fmt: skip
        events=_batches(sessions, lambda s: _delete(s, MessageEvent, MessageEvent.created_at < before)),
        messages=_batches(sessions, lambda s: outbox.forget_content(s, before, BATCH)),
    )
    if purged != Purged():
        log.info("retention (%s days): %s", retention_days, purged)
    return purged


def _batches(sessions: sessionmaker[Session], one: Any) -> int:
    """Run `one` batch after another, each committed, until one comes back short."""
    total = 0
    for _ in range(MAX_BATCHES):
        with transaction(sessions) as session:
            done = one(session)
        total += done
        if done < BATCH:
            break
    return total


def _delete(session: Session, model: Any, *old: ColumnElement[bool]) -> int:
    """Up to BATCH rows of `model` matching `old` deleted; how many."""
    ids = select(model.id).where(*old).limit(BATCH)
    return rows_changed(session, delete(model).where(model.id.in_(ids)).execution_options(synchronize_session=False))
