"""Journeys, messages, clicks and orders written straight into the tables, at the times a test names,
with what the owning modules keep beside them (the copies of the journey's abandonment time, and
the journeys' conversion through recovery/conversion.py itself)."""

from __future__ import annotations

import itertools
from datetime import datetime
from decimal import Decimal

from sqlalchemy.orm import Session

from shop_app.messaging import links
from shop_app.recovery import conversion
from shop_app.storage.measurement_tables import CREDITED, Attribution
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
        holdout: bool = False,
        token: str | None = None,
        email: str | None = None,
    ) -> Journey:
        n = next(_numbers)
        checkout = CheckoutRow(
            shop_id=self.shop.id,
            token=token or f"token-{n}",
            email=email,
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
            holdout=holdout,
        )
        self.session.add(journey)
        self.session.flush()
        return journey

    def message(
        self,
        journey: Journey,
        step: str,
        channel: str,
        *,
        status: str = "scheduled",
        sent_at: str | None = None,
        due_at: str | None = None,
        delivery_status: str | None = None,
        reason: str | None = None,
    ) -> Message:
        due = at(due_at) if due_at else at(sent_at) if sent_at else journey.abandoned_at
        message = Message(
            shop_id=self.shop.id,
            journey_id=journey.id,
            flow=journey.flow,
            step=step,
            channel=channel,
            status=status,
            due_at=due,
            sent_at=at(sent_at) if sent_at else None,
            delivery_status=delivery_status,
            reason=reason,
            journey_abandoned_at=journey.abandoned_at,  # the copy outbox.add_planned keeps
        )
        self.session.add(message)
        journey.reached = True  # as outbox.add_planned marks it
        if journey.first_due_at is None or journey.first_due_at > due:
            journey.first_due_at = due  # the anchor outbox.add_planned keeps: the earliest due time
        self.session.flush()
        conversion.refresh(self.session, self.shop.id, [journey.id])  # as recovery/journeys.replan does
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
        message.delivery_status = "clicked"  # as links.record_click moves it
        self.session.flush()

    def order(
        self,
        placed_at: str,
        total: str,
        *,
        checkout_token: str | None = None,
        email: str | None = None,
        refunded: str = "0",
    ) -> OrderRow:
        """A paid order of the shop (its total in the shop's currency)."""
        order = OrderRow(
            shop_id=self.shop.id,
            shopify_id=str(8_000_000 + next(_numbers)),
            checkout_token=checkout_token,
            email=email,
            currency=self.shop.currency,
            total_price=Decimal(total),
            refunded_total=Decimal(refunded),
            shopify_created_at=at(placed_at),
        )
        self.session.add(order)
        self.session.flush()
        conversion.refresh_for_order(self.session, self.shop.id, order)  # as recovery/orders.store_order does
        return order

    def credit(self, order: OrderRow, journey: Journey, message: Message, *, status: str = CREDITED) -> Attribution:
        """The attribution row recovery/attribution.py writes when `order` is credited to `message`."""
        row = Attribution(
            shop_id=self.shop.id,
            order_id=order.id,
            journey_id=journey.id,
            journey_abandoned_at=journey.abandoned_at,  # the copy recovery/attribution.py keeps
            message_id=message.id,
            step=message.step,
            channel=message.channel,
            revenue=order.total_price,
            currency=self.shop.currency,
            status=status,
            reason=None if status == CREDITED else "order cancelled",
        )
        self.session.add(row)
        self.session.flush()
        return row
