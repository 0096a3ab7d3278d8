"""The dispatcher tick and the reconciler.

`dispatch` claims due rows (`scheduled → queued`, conditional per row, with
FOR UPDATE SKIP LOCKED on PostgreSQL) and enqueues one send job per claimed row.
`reconcile` repairs what Redis or a crash lost: deliveries and queued rows whose
job vanished are enqueued again; rows stuck in `sending` past the lease become
`unknown` and are never resent.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import select, update

from shop_app import runtime
from shop_app.config import DISPATCH_BATCH, INGEST_GRACE_SECONDS, SENDING_LEASE_SECONDS
from shop_app.domain.models import Status
from shop_app.shopify.post_install import enqueue_setup, setup_job_id
from shop_app.storage.database import transaction
from shop_app.storage.tables import Message, Shop, WebhookDelivery

log = logging.getLogger(__name__)


@dataclass
class TickReport:
    dispatched: int = 0
    requeued_messages: int = 0
    requeued_deliveries: int = 0
    marked_unknown: int = 0

    def __str__(self) -> str:
        return (
            f"dispatched {self.dispatched}, re-enqueued {self.requeued_messages} message(s) and "
            f"{self.requeued_deliveries} delivery(ies), marked {self.marked_unknown} unknown"
        )


def tick(now_iso: str | None = None) -> str:
    """One reconciler pass, then one dispatcher pass, as of `now` (default: the clock)."""
    now = datetime.fromisoformat(now_iso) if now_iso else None
    report = TickReport()
    reconcile(now, report)
    dispatch(now, report)
    return str(report)


def dispatch(now: datetime | None = None, report: TickReport | None = None) -> TickReport:
    rt = runtime.current()
    report = report or TickReport()
    at = now or datetime.now(timezone.utc)
    claimed: list[tuple[int, str]] = []
    with transaction(rt.sessions) as session:
        due = session.scalars(
            select(Message.id)
            .where(Message.status == Status.SCHEDULED.value, Message.due_at <= at)
            .order_by(Message.due_at)
            .limit(DISPATCH_BATCH)
            .with_for_update(skip_locked=True)
        ).all()
        for message_id in due:
            job_id = rt.queue.new_job_id("send")
            won = session.execute(
                update(Message)
                .where(Message.id == message_id, Message.status == Status.SCHEDULED.value)
                .values(status=Status.QUEUED.value, queued_at=at, job_id=job_id)
            ).rowcount
            if won == 1:
                claimed.append((message_id, job_id))
    # Enqueue after commit, so a job never runs before its row says `queued`.
    for message_id, job_id in claimed:
        try:
            rt.queue.enqueue_send(message_id, job_id, now)
        except Exception:
            log.exception("enqueue of message %s failed; the reconciler will retry", message_id)
    report.dispatched += len(claimed)
    return report


def reconcile(now: datetime | None = None, report: TickReport | None = None) -> TickReport:
    rt = runtime.current()
    report = report or TickReport()
    at = now or datetime.now(timezone.utc)
    wall = datetime.now(timezone.utc)
    requeue_messages: list[tuple[int, str]] = []
    requeue_deliveries: list[tuple[int, str]] = []
    with transaction(rt.sessions) as session:
        lease_end = at - timedelta(seconds=SENDING_LEASE_SECONDS)
        report.marked_unknown = session.execute(
            update(Message)
            .where(Message.status == Status.SENDING.value, Message.sending_at < lease_end)
            .values(
                status=Status.UNKNOWN.value,
                reason=f"unknown: no provider answer within {SENDING_LEASE_SECONDS} s; not resent",
            )
        ).rowcount

        for message_id, job_id in session.execute(
            select(Message.id, Message.job_id).where(Message.status == Status.QUEUED.value)
        ).all():
            if not rt.queue.job_alive(job_id):
                new_id = rt.queue.new_job_id("send")
                moved = session.execute(
                    update(Message)
                    .where(Message.id == message_id, Message.status == Status.QUEUED.value, Message.job_id == job_id)
                    .values(job_id=new_id)
                ).rowcount
                if moved:
                    requeue_messages.append((message_id, new_id))

        # Grace on the wall clock: this guards the web request between commit and enqueue.
        settled = wall - timedelta(seconds=INGEST_GRACE_SECONDS)
        for delivery_id, job_id in session.execute(
            select(WebhookDelivery.id, WebhookDelivery.job_id).where(
                WebhookDelivery.status == "received", WebhookDelivery.received_at < settled
            )
        ).all():
            if not rt.queue.job_alive(job_id):
                new_id = rt.queue.new_job_id("ingest")
                session.execute(update(WebhookDelivery).where(WebhookDelivery.id == delivery_id).values(job_id=new_id))
                requeue_deliveries.append((delivery_id, new_id))

    # Shops whose post-install setup never finished (job lost or failed) get it again.
    with transaction(rt.sessions) as session:
        unfinished = session.scalars(
            select(Shop.id).where(
                Shop.status == "installed", Shop.setup_completed_at.is_(None), Shop.installed_at < settled
            )
        ).all()
    for shop_id in unfinished:
        if not rt.queue.job_alive(setup_job_id(rt, shop_id)):
            enqueue_setup(rt, shop_id)

    for message_id, job_id in requeue_messages:
        rt.queue.enqueue_send(message_id, job_id, now)
    for delivery_id, job_id in requeue_deliveries:
        rt.queue.enqueue_ingest(delivery_id, job_id)
    report.requeued_messages += len(requeue_messages)
    report.requeued_deliveries += len(requeue_deliveries)
    if report.marked_unknown or requeue_messages or requeue_deliveries:
        log.warning("reconciler: %s", report)
    return report


def dispatch_job() -> str:
    """Entry for the worker's periodic scheduler (real time)."""
    return str(dispatch())


def reconcile_job() -> str:
    """Entry for the worker's periodic scheduler (real time)."""
    return str(reconcile())
