"""Journeys, messages, clicks and orders written straight into the tables, at the times a test names."""

from __future__ import annotations

import itertools
from datetime import datetime
from decimal import Decimal

from sqlalchemy.orm import Session

from shop_app.messaging import links
from shop_app.storage.tables import CheckoutRow, Journey, Message, MessageEvent, OrderRow, Shop

_numbers = itertools.count(1)


def at(text: str) -> datetime:
    """An aware time from ISO 8601 text with its offset."""
    value = datetime.fromisoformat(text)
    assert value.tzinfo is not None, f"{text} needs an offset"
    return value


class Rows:
    """Rows of one shop, added to `session` (flushed, so ids exist)."""

    def __init__(self, session: Session, shop: Shop):
        self.session, self.shop = session, shop

    def journey(
        self,
        abandoned_at: str,
        *,
        status: str = "active",
        paid_at: str | None = None,
        revenue: str | None = None,
        flow: str = "recovery",
    ) -> Journey:
        n = next(_numbers)
        checkout = CheckoutRow(
            shop_id=self.shop.id,
            token=f"token-{n}",
            currency=self.shop.currency,
            total_price=Decimal("50.00"),
            shopify_updated_at=at(abandoned_at),
        )
        self.session.add(checkout)
        self.session.flush()
        order = None
        if paid_at is not None:
            order = OrderRow(
                shop_id=self.shop.id,
                shopify_id=str(9_000_000 + n),
                currency=self.shop.currency,
                total_price=Decimal(revenue or "50.00"),
                shopify_created_at=at(paid_at),
            )
            self.session.add(order)
            self.session.flush()
        journey = Journey(
            shop_id=self.shop.id,
            checkout_id=checkout.id,
            flow=flow,
            status=status,
            abandoned_at=at(abandoned_at),
            order_id=order.id if order else None,
            recovered_revenue=Decimal(revenue) if revenue is not None else None,
        )
        self.session.add(journey)
        self.session.flush()
        return journey

    def message(
        self, journey: Journey, step: str, channel: str, *, status: str = "scheduled", sent_at: str | None = None
    ) -> Message:
        due = at(sent_at) if sent_at else journey.abandoned_at
        message = Message(
            shop_id=self.shop.id,
            journey_id=journey.id,
            flow=journey.flow,
            step=step,
            channel=channel,
            status=status,
            due_at=due,
            sent_at=at(sent_at) if sent_at else None,
        )
        self.session.add(message)
        journey.reached = True  # as outbox.add_planned marks it
        self.session.flush()
        return message

    def click(self, message: Message, first_at: str, *, clicks: int = 1, provider: str = links.PROVIDER) -> None:
        """The click row links.record_click keeps for a message: created at the first click."""
        self.session.add(
            MessageEvent(
                shop_id=self.shop.id,
                message_id=message.id,
                provider=provider,
                provider_id=str(message.id),
                event=links.EVENT,
                detail=f"clicked {clicks} times",
                raw={"clicks": clicks, "first_at": first_at},
                created_at=at(first_at),
            )
        )
        self.session.flush()
