"""Shopify's numberOfOrders for a new referral journey's customer (issue 11, the trigger).

The ingest decides with our own records, inside its transaction, which never calls Shopify: a
captured profile with no earlier paid order of ours starts a referral journey. Our records only
know the orders since install, so the journey row says its check is `pending`, due at once, when
the profile has a Shopify customer id (referral/journeys.start_on_paid; `none-needed` otherwise:
our own count stands). This job asks the Admin API `customer(id:) { numberOfOrders }` outside any
transaction, and referral/journeys.py's `on_shopify_orders` decides: more orders than this one
stop the journey (its pending messages are cancelled with the reason), otherwise it goes on.

The row holds the check's attempts, as deliveries and messages hold theirs (journeys.shopify_check*,
0017). `enqueue_due` is the dispatcher's pass over checks that are pending and due: one job each,
its id `referral-check-<journey>-<attempt>`, and none while the job of that attempt or of the one
before is still in Redis, so a check never runs twice at once; the ingest runs the same pass right
after it commits, so a journey it started is asked at once. A run first claims its attempt on the
row (journeys.claim_shopify_check: each attempt runs once, whoever enqueued it) and moves the due
time to the end of the backoff (jobs/attempts.py), so a run lost with Redis or its worker is
enqueued again by the pass after it. The Admin API client already retries THROTTLED, 429, 5xx
and lost answers within a run (adapters/shopify_admin.RetryPolicy); a run that still fails keeps
that due time, and the journey's note says which attempt failed and when the next runs. After
MAX_JOB_ATTEMPTS the check is `unasked`: the journey goes on, since our own count already said
first purchase, and its note says Shopify could not be asked.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from jobs import attempts
from shop_app import runtime
from shop_app.config import DISPATCH_BATCH
from shop_app.errors import describe
from shop_app.referral import journeys
from shop_app.referral.journeys import CheckClaim
from shop_app.runtime import Runtime
from shop_app.shopify.offline_tokens import open_admin_client
from shop_app.storage.database import transaction

log = logging.getLogger(__name__)


def job_id(journey_id: int, attempt: int) -> str:
    """One id per (journey, attempt): a pass finds the run it enqueued before, alive or not."""
    return f"referral-check-{journey_id}-{attempt}"


def enqueue_due(rt: Runtime, now: datetime | None = None) -> int:
    """Enqueue the checks that are pending and due as of `now` (default: the clock); how many.
    A check whose last attempt was claimed and whose job is gone without a word (lost with its
    worker or Redis) is given up with that reason. An enqueue that fails waits for the next pass."""
    at = now or datetime.now(UTC)
    with transaction(rt.sessions) as session:
        due = journeys.due_shopify_checks(session, at, DISPATCH_BATCH)
    enqueued = 0
    for journey_id, done in due:
        if (done and rt.queue.job_alive(job_id(journey_id, done))) or rt.queue.job_alive(job_id(journey_id, done + 1)):
            continue  # a run of this check is still waiting or running
        if attempts.exhausted(done):
            _give_up(rt, journey_id, attempts.failure_reason(done, attempts.LOST, None))
            continue
        try:
            rt.queue.enqueue_referral_check(journey_id, done + 1, job_id(journey_id, done + 1), now)
        except Exception as error:
            log.warning("referral journey %s: Shopify's order count not enqueued (%s)", journey_id, describe(error))
            continue
        enqueued += 1
    return enqueued


def after_ingest(rt: Runtime) -> None:
    """The fast path, once an ingest committed: the pass at once, so a journey it started is asked
    now rather than at the next tick. Never raises (the delivery is already processed)."""
    try:
        enqueue_due(rt)
    except Exception as error:
        log.warning("Shopify's order counts not enqueued after the ingest (%s); the dispatcher will", describe(error))


def check_first_purchase(journey_id: int, attempt: int = 1, now_iso: str | None = None) -> str:
    rt = runtime.current()
    now = datetime.fromisoformat(now_iso) if now_iso else datetime.now(UTC)
    try:
        with transaction(rt.sessions) as session:
            claimed = journeys.claim_shopify_check(session, journey_id, attempt, attempts.retry_at(attempt, now))
    except Exception as error:  # nothing was claimed: the row is still due, the next pass enqueues it again
        raise attempts.JobFailed(describe(error)) from None
    if isinstance(claimed, str):
        return claimed
    try:
        return _ask(rt, journey_id, claimed, now)
    except Exception as error:  # whatever broke counts as one attempt
        return _failed(rt, journey_id, attempt, now, error)


def _ask(rt: Runtime, journey_id: int, claimed: CheckClaim, now: datetime) -> str:
    with open_admin_client(rt.sessions, rt.box, rt.settings, claimed.shop_id, now, rt.admin_sleep) as client:
        count = client.customer_order_count(claimed.customer_id)
    with transaction(rt.sessions) as session:
        outcome = journeys.on_shopify_orders(session, journey_id, count)
    log.info("%s", outcome)
    return outcome


def _failed(rt: Runtime, journey_id: int, attempt: int, now: datetime, error: Exception) -> str:
    """The next run after the backoff while attempts are left; else the journey goes on by our
    own count, its note saying Shopify could not be asked."""
    next_run = None if attempts.exhausted(attempt) else attempts.retry_at(attempt, now)
    reason = attempts.failure_reason(attempt, error, next_run)
    try:
        with transaction(rt.sessions) as session:
            if next_run is None:
                outcome = journeys.on_shopify_orders(session, journey_id, None, unasked=reason)
            else:
                outcome = journeys.shopify_check_failed(session, journey_id, attempt, reason, next_run)
    except Exception as second:
        raise attempts.JobFailed(f"{describe(error)}; recording it failed too: {describe(second)}") from None
    log.warning("%s", outcome)
    return outcome


def _give_up(rt: Runtime, journey_id: int, reason: str) -> None:
    with transaction(rt.sessions) as session:
        outcome = journeys.on_shopify_orders(session, journey_id, None, unasked=reason)
    log.warning("%s", outcome)
