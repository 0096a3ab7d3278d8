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
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from shop_app import runtime
from shop_app.config import DISPATCH_BATCH, INGEST_GRACE_SECONDS, SENDING_LEASE_SECONDS
from shop_app.domain.models import WebhookStatus
from shop_app.recovery import outbox
from shop_app.runtime import Runtime
from shop_app.shopify.post_install import enqueue_setup, setup_job_id
from shop_app.storage.database import transaction
from shop_app.storage.tables import Shop, WebhookDelivery

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
    """Claim due rows (`scheduled → queued`) and enqueue one send job each, after commit,
    so a job never runs before its row says `queued`."""
    rt = runtime.current()
    report = report or TickReport()
    at = now or datetime.now(UTC)
    claimed: list[tuple[int, str]] = []
    with transaction(rt.sessions) as session:
        for message_id in outbox.due_ids(session, at, DISPATCH_BATCH):
            job_id = rt.queue.new_job_id("send")
            if outbox.queue(session, message_id, job_id, at):
                claimed.append((message_id, job_id))
    for message_id, job_id in claimed:
        try:
            rt.queue.enqueue_send(message_id, job_id, now)
        except Exception:
            log.exception("enqueue of message %s failed; the reconciler will retry", message_id)
    report.dispatched += len(claimed)
    return report


def reconcile(now: datetime | None = None, report: TickReport | None = None) -> TickReport:
    """Repair what Redis or a crash lost, as of `now` (default: the clock)."""
    rt = runtime.current()
    report = report or TickReport()
    at = now or datetime.now(UTC)
    with transaction(rt.sessions) as session:
        lease_end = at - timedelta(seconds=SENDING_LEASE_SECONDS)
        reason = f"unknown: no provider answer within {SENDING_LEASE_SECONDS} s; not resent"
        report.marked_unknown = outbox.expire_sending(session, lease_end, reason)
        lost_sends = _hand_over_lost_sends(rt, session)
        lost_ingests = _hand_over_lost_ingests(rt, session)
    _restart_unfinished_setups(rt)
    for message_id, job_id in lost_sends:
        rt.queue.enqueue_send(message_id, job_id, now)
    for delivery_id, job_id in lost_ingests:
        rt.queue.enqueue_ingest(delivery_id, job_id)
    report.requeued_messages += len(lost_sends)
    report.requeued_deliveries += len(lost_ingests)
    if report.marked_unknown or lost_sends or lost_ingests:
        log.warning("reconciler: %s", report)
    return report


def _hand_over_lost_sends(rt: Runtime, session: Session) -> list[tuple[int, str]]:
    """Queued rows whose job Redis no longer has get a new job id (enqueued after commit)."""
    handed = []
    for message_id, job_id in outbox.queued_jobs(session):
        if not rt.queue.job_alive(job_id):
            new_id = rt.queue.new_job_id("send")
            if outbox.hand_over(session, message_id, job_id, new_id):
                handed.append((message_id, new_id))
    return handed


def _settled_before() -> datetime:
    # Grace on the wall clock: this guards the web request between commit and enqueue.
    return datetime.now(UTC) - timedelta(seconds=INGEST_GRACE_SECONDS)


def _hand_over_lost_ingests(rt: Runtime, session: Session) -> list[tuple[int, str]]:
    """Received deliveries whose ingest job Redis no longer has get a new job id."""
    handed = []
    waiting = select(WebhookDelivery.id, WebhookDelivery.job_id).where(
        WebhookDelivery.status == WebhookStatus.RECEIVED.value, WebhookDelivery.received_at < _settled_before()
    )
    for delivery_id, job_id in session.execute(waiting).all():
        if not rt.queue.job_alive(job_id):
            new_id = rt.queue.new_job_id("ingest")
            session.execute(update(WebhookDelivery).where(WebhookDelivery.id == delivery_id).values(job_id=new_id))
            handed.append((delivery_id, new_id))
    return handed


def _restart_unfinished_setups(rt: Runtime) -> None:
    """Shops whose post-install setup never finished (job lost or failed) get it again."""
    with transaction(rt.sessions) as session:
        unfinished = session.scalars(
            select(Shop.id).where(
                Shop.status == "installed", Shop.setup_completed_at.is_(None), Shop.installed_at < _settled_before()
            )
        ).all()
    for shop_id in unfinished:
        if not rt.queue.job_alive(setup_job_id(rt, shop_id)):
            enqueue_setup(rt, shop_id)


def dispatch_job() -> str:
    """Entry for the worker's periodic scheduler (real time)."""
    return str(dispatch())


def reconcile_job() -> str:
    """Entry for the worker's periodic scheduler (real time)."""
    return str(reconcile())
