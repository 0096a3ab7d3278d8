"""The dispatcher tick and the reconciler.

`dispatch` claims due rows (`scheduled → queued`) in batches, one UPDATE … RETURNING each
(FOR UPDATE SKIP LOCKED on PostgreSQL), and enqueues each batch's send jobs in one round trip:
one batch job per shop per SEND_BATCH messages (jobs/send_batch.py).
`reconcile` repairs what Redis or a crash lost: deliveries and queued rows whose
job vanished (their jobs' statuses read in one round trip; a row queued within the grace period is
left alone, its enqueue may be on its way) are enqueued again, each alone, right after the commit
that hands them over (a lost run counts as an attempt, jobs/attempts.py, once its replacement is in
Redis); rows stuck in `sending` past the lease become `unknown` and are never resent; old rows are
purged (jobs/retention.py); the Shopify codes of erased customers are deleted there
(shop_app/referral/removals.py). A step that fails does not stop the others (`reconcile`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from jobs import attempts, pickup, referral_check, retention
from shop_app import log_format, runtime
from shop_app.adapters.queue import ALIVE
from shop_app.billing import refresh as plan_refresh
from shop_app.config import (
    DISPATCH_BATCH,
    INGEST_GRACE_SECONDS,
    MAX_JOB_ATTEMPTS,
    QUEUED_GRACE_SECONDS,
    SENDING_LEASE_SECONDS,
)
from shop_app.domain.models import WebhookStatus
from shop_app.errors import ReclaimError, describe
from shop_app.recovery import outbox
from shop_app.referral import removals
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
    try:
        reconcile(now, report)
    finally:  # a reconciler step that failed does not keep due messages from going out
        dispatch(now, report)
    return str(report)


#: At most this many messages of one shop go to one batch send job (jobs/send_batch.py): one RQ job
#: and one payment check in Shopify for them all (issue 13).
SEND_BATCH = 50
#: One pass claims batches until nothing is due, but at most this many batches, so one pass
#: stays seconds long and the reconciler's pass gets its turn; the next pass (1 s later) goes on.
MAX_BATCHES_PER_PASS = 20


def dispatch(now: datetime | None = None, report: TickReport | None = None) -> TickReport:
    """Claim due rows (`scheduled → queued`) a batch at a time, one UPDATE … RETURNING per batch,
    and enqueue the batch's send jobs in one round trip after its commit, so a job never runs
    before its row says `queued`: one job per shop per SEND_BATCH messages, the rows of a group
    held by its job's id. Loops until a batch comes back short (nothing more is due)."""
    rt = runtime.current()
    report = report or TickReport()
    at = now or datetime.now(UTC)
    pickup.pick_up(rt)  # new webhook deliveries get their ingest jobs (jobs/pickup.py)
    for _ in range(MAX_BATCHES_PER_PASS):
        with transaction(rt.sessions) as session:
            groups = outbox.claim_due(session, at, DISPATCH_BATCH, rt.queue.new_job_id("send") + "-", SEND_BATCH)
        claimed = sum(len(message_ids) for _, message_ids in groups)
        try:
            rt.queue.enqueue_sends(groups, now)
        except Exception as exc:
            log.warning("enqueue of %s message(s) failed (%s); the reconciler will retry", claimed, describe(exc))
        report.dispatched += claimed
        if claimed < DISPATCH_BATCH:
            break
    referral_check.enqueue_due(rt, now)  # Shopify's order counts for new referral journeys (issue 11)
    return report


class PassIncomplete(ReclaimError):
    """A reconciler pass some of whose steps failed (each named, with `describe`); the others ran."""


def reconcile(now: datetime | None = None, report: TickReport | None = None) -> TickReport:
    """Repair what Redis or a crash lost, as of `now` (default: the clock).

    Each step runs even when one before it failed: a failed step is logged with its name, and the
    pass then raises PassIncomplete naming them all, so RQ keeps it as failed and `reclaim status`
    sees no finished pass. The jobs of the rows handed over are enqueued right after the hand-over's
    commit, before the steps unrelated to them (setups, plans, retention) can fail."""
    rt = runtime.current()
    report = report or TickReport()
    at = now or datetime.now(UTC)
    lost = _Lost()
    steps: tuple[tuple[str, Callable[[], object]], ...] = (
        ("hand-over of lost jobs", lambda: _hand_over_lost_jobs(rt, at, report, lost)),
        ("re-enqueue of lost sends", lambda: _requeue_sends(rt, lost.sends, now, report)),
        ("re-enqueue of lost deliveries", lambda: _requeue_ingests(rt, lost.ingests, report)),
        ("restart of unfinished setups", lambda: _restart_unfinished_setups(rt, at)),
        ("plan refresh", lambda: plan_refresh.refresh_due(rt, at)),  # plans never read or read over a day ago
        ("retention purge", lambda: retention.purge(rt.sessions, rt.settings.retention_days, at)),  # a few batches
        ("removal of erased customers' codes", lambda: removals.remove_due(rt, at)),  # a few shops' batches
    )
    failed = [failure for name, step in steps if (failure := _failure_of(name, step))]
    if report.marked_unknown or report.requeued_messages or report.requeued_deliveries:
        log.warning("reconciler: %s", report)
    if failed:
        raise PassIncomplete(f"{'; '.join(failed)}; the other steps ran ({report})")
    return report


def _failure_of(name: str, step: Callable[[], object]) -> str | None:
    """Run one step of the reconciler: None if it ran, else its failure told without personal data."""
    try:
        step()
    except Exception as error:
        failure = f"{name} failed ({describe(error)})"
        log.warning("reconciler: %s; the pass goes on", failure, extra={log_format.ERROR: error})
        return failure
    return None


@dataclass
class _Lost:
    """What the hand-over committed and the next steps enqueue: (message id, new job id) of each
    queued row, (delivery id, new job id, whether its job was lost) of each delivery."""

    sends: list[tuple[int, str]] = field(default_factory=list)
    ingests: list[tuple[int, str, bool]] = field(default_factory=list)


def _hand_over_lost_jobs(rt: Runtime, at: datetime, report: TickReport, lost: _Lost) -> None:
    """In one transaction: rows left `sending` past the lease become `unknown`, and the rows whose
    jobs will not run get new job ids (enqueued after the commit)."""
    with transaction(rt.sessions) as session:
        lease_end = at - timedelta(seconds=SENDING_LEASE_SECONDS)
        reason = f"unknown: no provider answer within {SENDING_LEASE_SECONDS} s; not resent"
        report.marked_unknown = outbox.expire_sending(session, lease_end, reason)
        lost.sends = _hand_over_lost_sends(rt, session, at)
        lost.ingests = _hand_over_lost_ingests(rt, session, at)


def _requeue_sends(rt: Runtime, handed: list[tuple[int, str]], now: datetime | None, report: TickReport) -> None:
    """Each handed-over row's new job, alone. The lost run is counted only for the rows whose new job
    reached Redis: an enqueue that fails (Redis down) burns no attempt, the next pass tries again."""
    enqueued: list[int] = []
    try:
        for message_id, job_id in handed:
            rt.queue.enqueue_send(message_id, job_id, now)
            enqueued.append(message_id)
    finally:
        report.requeued_messages += len(enqueued)
        if enqueued:
            with transaction(rt.sessions) as session:
                outbox.count_lost_runs(session, enqueued)


def _requeue_ingests(rt: Runtime, handed: list[tuple[int, str, bool]], report: TickReport) -> None:
    """Each handed-over delivery's new ingest job; as for sends, a lost job counts as an attempt
    only once its replacement reached Redis."""
    enqueued: list[int] = []
    try:
        for delivery_id, job_id, lost_job in handed:
            rt.queue.enqueue_ingest(delivery_id, job_id)
            report.requeued_deliveries += 1
            if lost_job:
                enqueued.append(delivery_id)
    finally:
        if enqueued:
            with transaction(rt.sessions) as session:
                counted = update(WebhookDelivery).where(WebhookDelivery.id.in_(enqueued))
                session.execute(counted.values(attempts=WebhookDelivery.attempts + 1))


def _hand_over_lost_sends(rt: Runtime, session: Session, now: datetime) -> list[tuple[int, str]]:
    """Queued rows whose job will not run get a new job id each (enqueued after commit, one job
    per row, the lost run then counted: `_requeue_sends`): a job RQ no longer has, once the row's
    grace is over (its enqueue may be on its way), and at once a job RQ says will not run again (a
    batch whose worker stopped beating). A row whose jobs were lost MAX_JOB_ATTEMPTS times fails
    instead."""
    handed = []
    queued = outbox.queued_jobs(session)
    states = rt.queue.states(job_id for _, job_id, _, _ in queued)  # one round trip for them all
    grace_line = now - timedelta(seconds=QUEUED_GRACE_SECONDS)
    for message_id, job_id, failures, queued_at in queued:
        state = states.get(job_id) if job_id else None
        if state == ALIVE or (state is None and queued_at is not None and _aware(queued_at) > grace_line):
            continue
        if attempts.exhausted(failures + 1):
            outbox.give_up(session, message_id, job_id, attempts.failure_reason(failures + 1, attempts.LOST, None))
            continue
        new_id = rt.queue.new_job_id("send")
        if outbox.hand_over(session, message_id, job_id, new_id):
            handed.append((message_id, new_id))
    return handed


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)  # SQLite gives naive UTC


def _settled_before() -> datetime:
    # Grace on the wall clock: this guards the web request between commit and enqueue.
    return datetime.now(UTC) - timedelta(seconds=INGEST_GRACE_SECONDS)


def _hand_over_lost_ingests(rt: Runtime, session: Session, now: datetime) -> list[tuple[int, str, bool]]:
    """Received deliveries with no live ingest job get a new one: at once when the job was lost
    (which counts as an attempt, `_requeue_ingests`), after `retry_at` when a failed run released
    the delivery. A delivery whose jobs were lost MAX_JOB_ATTEMPTS times is rejected instead."""
    handed = []
    waiting = select(WebhookDelivery).where(
        WebhookDelivery.status == WebhookStatus.RECEIVED.value,
        WebhookDelivery.received_at < _settled_before(),
        or_(WebhookDelivery.retry_at.is_(None), WebhookDelivery.retry_at <= now),
    )
    deliveries = session.scalars(waiting.with_for_update(skip_locked=True)).all()
    alive = rt.queue.alive(delivery.job_id for delivery in deliveries)  # one round trip for them all
    for delivery in deliveries:
        lost = delivery.job_id is not None  # held by a job: lost unless Redis still has it
        if lost and delivery.job_id in alive:
            continue
        if lost and attempts.exhausted(delivery.attempts + 1):
            delivery.attempts += 1
            delivery.status, delivery.processed_at = WebhookStatus.REJECTED.value, now
            delivery.reason = attempts.failure_reason(delivery.attempts, attempts.LOST, None)
            delivery.job_id = None
            continue
        delivery.job_id, delivery.retry_at = rt.queue.new_job_id("ingest"), None
        handed.append((delivery.id, delivery.job_id, lost))  # the lost run is counted once its new job is enqueued
    return handed


def _restart_unfinished_setups(rt: Runtime, now: datetime) -> None:
    """Shops whose post-install setup never finished (job lost or failed) get it again,
    after its backoff and while it has attempts left (jobs/shop.py counts them)."""
    with transaction(rt.sessions) as session:
        unfinished = session.scalars(
            select(Shop.id).where(
                Shop.status == "installed",
                Shop.setup_completed_at.is_(None),
                Shop.installed_at < _settled_before(),
                Shop.setup_attempts < MAX_JOB_ATTEMPTS,
                or_(Shop.setup_retry_at.is_(None), Shop.setup_retry_at <= now),
            )
        ).all()
    for shop_id in unfinished:
        if not rt.queue.job_alive(setup_job_id(rt, shop_id)):
            enqueue_setup(rt, shop_id)


def dispatch_job() -> str:
    """Entry for the worker's periodic scheduler (real time)."""
    return _periodic(dispatch)


def reconcile_job() -> str:
    """Entry for the worker's periodic scheduler (real time)."""
    return _periodic(reconcile)


def _periodic(run: Callable[[], TickReport]) -> str:
    """A periodic pass holds no row: a broken one is simply the next pass's to redo. It fails
    in RQ with the failure named, never the exception's own text (it may quote a customer)."""
    try:
        return str(run())
    except Exception as error:
        raise attempts.JobFailed(describe(error)) from None
