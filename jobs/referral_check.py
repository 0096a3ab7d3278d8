"""Shopify's numberOfOrders for a new referral journey's customer (issue 11, the trigger).

The ingest decides with our own records, inside its transaction, which never calls Shopify: a
captured profile with no earlier paid order of ours starts a referral journey. Our records only
know the orders since install, so once that transaction has committed, `after_ingest` enqueues
this job for the journey it started; the job asks the Admin API `customer(id:) { numberOfOrders }`
for the profile's Shopify customer id, outside any transaction, and referral/journeys.py's
`on_shopify_orders` decides: more orders than this one stop the journey (its pending messages
are cancelled with the reason), otherwise it goes on. A profile without a customer id is not
asked about: our own count stands.

Failures: the Admin API client already retries THROTTLED, 429, 5xx and lost answers within a run
(adapters/shopify_admin.RetryPolicy). A run that still fails, or breaks otherwise, counts as one
attempt (jobs/attempts.py) and the next is enqueued at once; after MAX_JOB_ATTEMPTS the journey
goes on, since our own count already said first purchase, and its pending messages say that
Shopify could not be asked. No row holds the attempt (it travels in the job's arguments), so
there is no backoff between runs and a run lost with Redis is not started again by the
reconciler: that journey goes on by our own count, as after the last attempt.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime

from sqlalchemy import select

from jobs import attempts
from shop_app import runtime
from shop_app.domain.models import JourneyStatus
from shop_app.errors import describe
from shop_app.referral import journeys
from shop_app.runtime import Runtime
from shop_app.shopify.offline_tokens import open_admin_client
from shop_app.storage.database import transaction
from shop_app.storage.tables import Journey, Profile

log = logging.getLogger(__name__)

#: How journeys.start_on_paid says it started a journey, in the delivery's outcome.
STARTED = re.compile(r"\breferral journey #(\d+) started\b")


def after_ingest(rt: Runtime, outcome: str) -> str:
    """After an ingest committed: the check for the referral journey it started, if any.
    Returns the outcome unchanged; never raises (the delivery is already processed)."""
    for found in STARTED.finditer(outcome):
        enqueue(rt, int(found.group(1)), 1)
    return outcome


def enqueue(rt: Runtime, journey_id: int, attempt: int) -> bool:
    try:
        rt.queue.enqueue_referral_check(journey_id, attempt, rt.queue.new_job_id("referral-check"))
    except Exception as error:
        log.warning("referral journey %s: Shopify's order count not enqueued (%s)", journey_id, describe(error))
        return False
    return True


def check_first_purchase(journey_id: int, attempt: int = 1) -> str:
    rt = runtime.current()
    now = datetime.now(UTC)
    try:
        return _check(rt, journey_id, now)
    except Exception as error:  # whatever broke counts as one attempt
        return _failed(rt, journey_id, attempt, now, error)


def _check(rt: Runtime, journey_id: int, now: datetime) -> str:
    with transaction(rt.sessions) as session:
        found = session.execute(
            select(Journey.shop_id, Journey.status, Profile.customer_id)
            .join(Profile, Profile.id == Journey.profile_id)
            .where(Journey.id == journey_id, Journey.flow == journeys.FLOW)
        ).one_or_none()
    if found is None:
        return f"no referral journey #{journey_id}"
    shop_id, status, customer_id = found
    if status != JourneyStatus.ACTIVE:
        return f"referral journey #{journey_id} is already {status}"
    if not customer_id:
        return f"referral journey #{journey_id}: no Shopify customer id, our own count stands"
    with open_admin_client(rt.sessions, rt.box, rt.settings, shop_id, now, rt.admin_sleep) as client:
        count = client.customer_order_count(customer_id)
    with transaction(rt.sessions) as session:
        outcome = journeys.on_shopify_orders(session, journey_id, count)
    log.info("%s", outcome)
    return outcome


def _failed(rt: Runtime, journey_id: int, attempt: int, now: datetime, error: Exception) -> str:
    """Another run at once while attempts are left (and it could be enqueued); else the journey
    goes on by our own count, saying Shopify could not be asked."""
    if not attempts.exhausted(attempt) and enqueue(rt, journey_id, attempt + 1):
        reason = attempts.failure_reason(attempt, error, now)
        log.warning("referral journey %s, Shopify's order count: %s", journey_id, reason)
        return reason
    reason = attempts.failure_reason(attempt, error, None)
    try:
        with transaction(rt.sessions) as session:
            outcome = journeys.on_shopify_orders(session, journey_id, None, unasked=reason)
    except Exception as second:
        raise attempts.JobFailed(f"{describe(error)}; recording it failed too: {describe(second)}") from None
    log.warning("%s", outcome)
    return outcome
