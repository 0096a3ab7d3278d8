"""`reclaim retry`: an operator sends a `failed` or `unknown` message again, by an explicit
decision recorded in the row's reason (domain.models.OPERATOR_MOVES; the outbox makes the move).

Refused, changing nothing, when the message is not failed or unknown, when the customer paid
(the journey converted, or our records hold an order paying the checkout), when the journey
ended, or when the customer opted out of the message's channel (a suppression, or a withdrawal
that was their own). The send job still checks every gate when the message falls due: the
refusals here are the ones an operator should hear about at once. No refusal names an address.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import uuid4

from sqlalchemy.orm import Session

from shop_app.channels.push_subscriptions import subscription_for
from shop_app.compliance.consent_records import OPT_OUT_SOURCES, consent_state
from shop_app.compliance.suppressions import suppression_reason
from shop_app.domain.models import Channel, Checkout, Contact, Flow, JourneyStatus
from shop_app.domain.planner import address_for
from shop_app.errors import ReclaimError
from shop_app.recovery import outbox
from shop_app.recovery.checkouts import checkout_of
from shop_app.recovery.orders import describe_order, payment_for
from shop_app.referral import send_facts
from shop_app.shopify.shops import load_settings
from shop_app.storage.tables import CheckoutRow, Journey, Message, MessageEvent, Shop

#: The message event that records an operator's retry (message_events.provider, .event).
OPERATOR, RETRIED = "operator", "retried"


class RetryRefused(ReclaimError):
    """The message is not sent again; the text says why (one line, no address)."""


@dataclass(frozen=True)
class Retried:
    message_id: int
    step: str
    channel: str
    was: str  # failed or unknown
    reason: str  # what the row now says


def retry_message(
    session: Session, secret_key: str, message_id: int, now: datetime, note: str | None = None
) -> Retried:
    """Move the message back to `scheduled`, due `now`, or raise RetryRefused."""
    message = session.get(Message, message_id, with_for_update=True)
    if message is None:
        raise RetryRefused(f"no message {message_id}")
    if message.status not in {status.value for status in outbox.RETRYABLE}:
        raise RetryRefused(f"message {message_id} is {message.status}: only a failed or unknown message is retried")
    journey = session.get_one(Journey, message.journey_id)
    shop = session.get_one(Shop, message.shop_id)
    refusal = _journey_over(journey) or _contact_refusal(session, secret_key, shop, journey, message)
    if refusal:
        raise RetryRefused(f"message {message_id} not retried: {refusal}")
    was = message.status
    said = f": {note.strip()}" if note and note.strip() else ""
    reason = f"retried by the operator{said} (was {message.status}: {message.reason or 'no reason recorded'})"
    if not outbox.retry_by_operator(session, message_id, now, reason):
        raise RetryRefused(f"message {message_id} changed meanwhile; not retried")
    # The decision outlives the row's reason (the next claim sets its own): an event on the
    # message's timeline, without the earlier reason (a provider's text may quote the customer).
    event = MessageEvent(shop_id=shop.id, message_id=message_id, provider=OPERATOR, provider_id=f"retry-{uuid4().hex}",
                         event=RETRIED, detail=f"retried by the operator{said} (was {was})")  # fmt: skip
    session.add(event)
    return Retried(message_id, message.step, message.channel, was, reason[: outbox.MAX_REASON])


def _journey_over(journey: Journey) -> str | None:
    if journey.status == JourneyStatus.CONVERTED:
        return f"the customer paid (journey {journey.id} converted{_why(journey)})"
    if journey.status != JourneyStatus.ACTIVE:
        return f"the journey ended (journey {journey.id} {journey.status}{_why(journey)})"
    return None


def _why(journey: Journey) -> str:
    return f": {journey.stop_reason}" if journey.stop_reason else ""


def _contact_refusal(session: Session, secret_key: str, shop: Shop, journey: Journey, message: Message) -> str | None:
    """Paid (a recovery journey's checkout), or opted out of the channel."""
    channel = Channel(message.channel)
    contact: Checkout | Contact
    if message.flow == Flow.REFERRAL.value:
        contact = send_facts.find(session, message, journey, shop, load_settings(session, shop)).contact
        address = _address(contact, channel)
    else:
        checkout = checkout_of(session.get_one(CheckoutRow, journey.checkout_id))
        paid = payment_for(session, shop.id, checkout, checkout.updated_at)
        if paid is not None:
            return f"the customer paid ({describe_order(paid)})"
        contact, address = checkout, address_for(channel, checkout, has_push=True)
    if channel is Channel.PUSH:
        subscribed = subscription_for(session, shop.id, contact.cart_token) is not None
        return None if subscribed else "the browser's push subscription is gone (unsubscribed)"
    # WhatsApp honours an SMS opt-out of the same number too, as the send gates do.
    for opted in [channel, *([Channel.SMS] if channel is Channel.WHATSAPP else [])]:
        suppressed = suppression_reason(session, secret_key, shop.id, opted.value, address)
        if suppressed:
            return f"the customer is suppressed for {opted.value} ({suppressed})"
        record = consent_state(session, shop.id, opted.value, address)
        if record is not None and record.state == "revoked" and record.source in OPT_OUT_SOURCES:
            return f"the customer withdrew {opted.value} consent ({record.source})"
    return None


def _address(contact: Checkout | Contact, channel: Channel) -> str | None:
    return contact.email if channel is Channel.EMAIL else contact.marketing_phone
