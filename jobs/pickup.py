"""The dispatcher's pick-up of new webhook deliveries (issue 13, item 5).

The webhook request only records the delivery (one autocommit INSERT, no job: webhooks/routes.py),
so Shopify's request costs no Redis round trip. Each dispatcher pass (every second) gives every
received delivery that no job holds and that waits for nothing (`job_id` and `retry_at` empty) an
ingest job id, in one transaction (FOR UPDATE SKIP LOCKED on PostgreSQL, so two passes never take
one row), and after its commit enqueues their jobs in one round trip. A new delivery is thus
ingested within about a second; the job never runs before its row names it. If the enqueue fails
(Redis down), the rows hold job ids Redis has not got, and the reconciler hands them over once
the grace period is over, as for a job lost with Redis.

Deliveries released by a failed run or waiting for their order have `retry_at` set: they stay the
reconciler's (jobs/dispatch.py), which counts attempts. A delivery whose order came (`retry_at`
cleared by jobs/order_wait.release) is picked up here at the next pass.
"""

from __future__ import annotations

import logging

from sqlalchemy import select, update

from shop_app.domain.models import WebhookStatus
from shop_app.errors import describe
from shop_app.runtime import Runtime
from shop_app.storage.database import transaction
from shop_app.storage.tables import WebhookDelivery

log = logging.getLogger(__name__)
#: Deliveries given jobs per transaction and round trip; a pass goes on until a batch comes back short.
PICKUP_BATCH = 500
#: …but takes at most this many batches, so a pass stays short; the next pass goes on.
MAX_BATCHES = 20


def pick_up(rt: Runtime) -> int:
    """Give the new deliveries their ingest jobs (see the module's docstring); how many."""
    picked = 0
    for _ in range(MAX_BATCHES):
        with transaction(rt.sessions) as session:
            new = (
                select(WebhookDelivery.id)
                .where(
                    WebhookDelivery.status == WebhookStatus.RECEIVED.value,
                    WebhookDelivery.job_id.is_(None),
                    WebhookDelivery.retry_at.is_(None),
                )
                .order_by(WebhookDelivery.id)
                .limit(PICKUP_BATCH)
                .with_for_update(skip_locked=True)
            )
            pairs = [(delivery_id, rt.queue.new_job_id("ingest")) for delivery_id in session.scalars(new)]
            if pairs:  # one executemany by primary key
                session.execute(
                    update(WebhookDelivery).execution_options(synchronize_session=False),
                    [{"id": delivery_id, "job_id": job_id} for delivery_id, job_id in pairs],
                )
        try:
            rt.queue.enqueue_ingests(pairs)
        except Exception as exc:  # the rows name their jobs: the reconciler hands them over later
            log.warning(
                "could not enqueue %s new delivery(ies) (%s); the reconciler will retry", len(pairs), describe(exc)
            )
        picked += len(pairs)
        if len(pairs) < PICKUP_BATCH:
            break
    return picked
