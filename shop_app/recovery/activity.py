"""Read models for operators and the admin: what was planned, sent, skipped, and why."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from shop_app.shopify.shops import get_shop
from shop_app.storage.tables import CheckoutRow, Journey, Message, Shop


def message_rows(
    session: Session,
    shop_domain: str | None = None,
    *,
    statuses: tuple[str, ...] = (),
    message_id: int | None = None,
) -> list[dict]:
    """Messages with their checkout, oldest due first; filtered in SQL by shop, status and id."""
    query = (
        select(Message, Shop.domain, CheckoutRow.token)
        .join(Shop, Shop.id == Message.shop_id)
        .join(Journey, Journey.id == Message.journey_id)
        .join(CheckoutRow, CheckoutRow.id == Journey.checkout_id)
        .order_by(Message.due_at, Message.id)
    )
    if shop_domain is not None:
        query = query.where(Message.shop_id == get_shop(session, shop_domain).id)
    if statuses:
        query = query.where(Message.status.in_(statuses))
    if message_id is not None:
        query = query.where(Message.id == message_id)
    return [
        {
            "id": m.id,
            "shop": domain,
            "checkout_token": token,
            "flow": m.flow,
            "step": m.step,
            "channel": m.channel,
            "status": m.status,
            "due_at": m.due_at.isoformat(),
            "sent_at": m.sent_at.isoformat() if m.sent_at else None,
            "reason": m.reason,
            "delivery_status": m.delivery_status,
            "body": m.body,
        }
        for m, domain, token in session.execute(query).all()
    ]
