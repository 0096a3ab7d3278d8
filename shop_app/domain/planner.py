"""The Revenue Recovery planner: (checkout, settings, now) → the messages the journey should have.

It is a pure function. The ingest job writes its answer as message rows (the outbox);
re-planning after a checkout update moves unsent rows and never starts a second sequence.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from shop_app.domain.models import Channel, Checkout, Plan, PlannedMessage, Step
from shop_app.domain.settings import ShopSettings


def address_for(channel: Channel, checkout: Checkout, *, has_push: bool = False) -> str | None:
    """Where a message on this channel would go, or None when the checkout gives no way."""
    if channel is Channel.EMAIL:
        return checkout.email
    if channel in (Channel.SMS, Channel.WHATSAPP):
        return checkout.marketing_phone
    if channel is Channel.PUSH:
        return f"push:{checkout.token}" if has_push else None
    raise ValueError(channel)


def plan(checkout: Checkout, settings: ShopSettings, now: datetime, *, has_push: bool = False) -> Plan:
    """Steps with their channel and due time, or a stop reason.

    Every delay counts from the abandonment time, the checkout's last activity
    (`updated_at`). `now` is part of the contract so that rules which need it
    (anti-gaming, late deliveries) can be added without changing callers.
    """
    if checkout.completed_at is not None:
        return Plan(stop_reason="checkout completed")
    if not checkout.reachable:
        return Plan(stop_reason="not reachable: the checkout has no email or phone")

    abandoned = checkout.updated_at
    wanted: list[tuple[Step, tuple[Channel, ...], timedelta]] = []
    if settings.first.enabled:
        wanted.append((Step.FIRST, settings.first.channels, timedelta(minutes=settings.first.delay_minutes)))
    if settings.whatsapp.enabled:
        wanted.append((Step.WHATSAPP, (Channel.WHATSAPP,), timedelta(minutes=settings.whatsapp.delay_minutes)))
    if settings.prime.enabled:
        wanted.append((Step.PRIME, settings.prime.channels, timedelta(hours=settings.prime.delay_hours)))

    messages: list[PlannedMessage] = []
    notes: list[str] = []
    for step, channels, delay in wanted:
        for channel in channels:
            if address_for(channel, checkout, has_push=has_push) is None:
                notes.append(f"{step.value}/{channel.value}: no {_need(channel)}")
                continue
            messages.append(PlannedMessage(step, channel, abandoned + delay))
    if not messages:
        return Plan(stop_reason="no step can reach this customer: " + "; ".join(notes), notes=tuple(notes))
    return Plan(messages=tuple(messages), notes=tuple(notes))


def _need(channel: Channel) -> str:
    return {Channel.EMAIL: "email", Channel.PUSH: "push subscription"}.get(channel, "phone number")
