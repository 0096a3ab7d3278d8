"""A cancellation or refund that came before its order waits for it (issue 12: "cancelled or
refunded orders are taken out", whatever order Shopify's webhooks arrive in).

Shopify does not deliver webhooks in order. An orders/cancelled or refunds/create for an order we
have not stored yet (its orders/paid still to come) raises `OrderNotKnownYet`; the ingest job then
keeps the delivery received, with its body, `waiting_for` that order's Shopify id and not run again
before `ORDER_WAIT` has passed. Storing the order (jobs/ingest.on_order) releases it: the
dispatcher hands it to a new ingest run, which now finds the order. A delivery whose wait runs out
with the order still unknown is processed for good, saying so. This module owns that state.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session

from shop_app.domain.models import WebhookStatus
from shop_app.errors import ReclaimError
from shop_app.storage.database import rows_changed
from shop_app.storage.tables import WebhookDelivery

#: How long a cancellation or refund waits for its order's orders/paid.
ORDER_WAIT = timedelta(days=3)


class OrderNotKnownYet(ReclaimError):
    """The delivery names an order we have not stored (yet)."""

    def __init__(self, order_id: str, what: str) -> None:
        super().__init__(f"{what} of order {order_id}, which we do not know yet")
        self.order_id, self.what = order_id, what


def wait_or_give_up(delivery: WebhookDelivery, waiting: OrderNotKnownYet, now: datetime) -> str:
    """The delivery waits for its order (kept received, not run before the wait is over), or, when
    it has waited already, is processed for good. Returns the delivery's reason."""
    if delivery.waiting_for is None:
        delivery.waiting_for, delivery.job_id = waiting.order_id, None
        delivery.retry_at = now + ORDER_WAIT
        delivery.reason = (
            f"waiting for order {waiting.order_id}: its {waiting.what} came before the order;"
            f" applied when the order comes, until {delivery.retry_at:%Y-%m-%d %H:%M} UTC"
        )
        return delivery.reason
    delivery.status, delivery.body, delivery.processed_at = WebhookStatus.PROCESSED.value, None, now
    delivery.reason = f"{waiting.what} of an order we do not know (waited {ORDER_WAIT.days} days for it)"
    return delivery.reason


def release(session: Session, shop_id: int, order_id: str) -> int:
    """The order is stored: the deliveries waiting for it may run at once; how many."""
    statement = (
        update(WebhookDelivery)
        .where(
            WebhookDelivery.shop_id == shop_id,
            WebhookDelivery.waiting_for == order_id,
            WebhookDelivery.status == WebhookStatus.RECEIVED.value,
        )
        .values(retry_at=None)
    )
    return rows_changed(session, statement.execution_options(synchronize_session=False))
