"""The send job: reload the row, run the gates in order, claim, send, record.

Gates (architecture.md step 5): journey still active → not paid (our records, then
the live Admin API) → consent and suppression → channel connected → delivery window
→ frequency. Then the discount code, the text, and the claim (`queued → sending`),
committed before the provider is called, so a crash leaves `sending`, which the
reconciler turns into `unknown` — never a resend.

Calls to Shopify happen between two short transactions, never while a row is locked;
the second transaction checks the row is still queued for this job before acting.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import requests
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from shop_app import messages, runtime
from shop_app.adapters.channels import OutgoingMessage, SendStatus
from shop_app.adapters.shopify import OrderSummary
from shop_app.config import MAX_SEND_ATTEMPTS
from shop_app.database import transaction
from shop_app.discounts import StepOffer, code_for
from shop_app.domain import consent, content, gates
from shop_app.domain.models import Channel, Order, Status, Step
from shop_app.domain.planner import address_for
from shop_app.errors import ReclaimError
from shop_app.journeys import checkout_of, convert_journey, describe_order, payment_for, store_order
from shop_app.privacy import address_hash
from shop_app.shops import load_settings
from shop_app.tables import CheckoutRow, Discount, Journey, Message, Shop, Suppression
from shop_app.tokens import open_admin_client
from shop_app.unsubscribe import unsubscribe_url

log = logging.getLogger(__name__)
PAYMENT_CHECK_RETRY = timedelta(minutes=10)
DISCOUNT_RETRY = timedelta(minutes=30)
TRANSIENT_BACKOFF = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30))
SENDING_STATES = (Status.SENT.value, Status.SENDING.value, Status.UNKNOWN.value)
#: What "Shopify could not answer" looks like (Admin API errors, no usable token, network):
#: the message waits, it is never sent just in case.
ADMIN_FAILURES = (ReclaimError, requests.RequestException)


@dataclass(frozen=True)
class Passed:
    """A message that passed every gate our own records can answer."""

    message_id: int
    job_id: str
    shop_id: int
    email: str | None
    phone: str | None
    abandoned_at: datetime
    offer: StepOffer


def send_message(message_id: int, job_id: str, now_iso: str | None = None) -> str:
    rt = runtime.current()
    now = datetime.fromisoformat(now_iso) if now_iso else datetime.now(timezone.utc)
    with transaction(rt.sessions) as session:
        passed = _local_gates(rt, session, message_id, job_id, now)
    if isinstance(passed, str):
        return passed

    waiting = "waiting: the payment check could not reach Shopify ({})"
    try:
        client = open_admin_client(rt.sessions, rt.box, rt.settings, passed.shop_id, now, rt.admin_sleep)
    except ADMIN_FAILURES as exc:
        return _postpone(rt, passed, now + PAYMENT_CHECK_RETRY, waiting.format(exc))
    with client:
        try:
            offer = passed.offer
            orders = client.orders_for_payment_check(offer.checkout_token, passed.email, passed.phone, passed.abandoned_at)
        except ADMIN_FAILURES as exc:
            return _postpone(rt, passed, now + PAYMENT_CHECK_RETRY, waiting.format(exc))
        paid = [order for order in orders if order.cancelled_at is None]
        if paid:
            return _paid_elsewhere(rt, passed, paid[0])
        try:
            code = code_for(rt.sessions, client, offer, now)
        except ADMIN_FAILURES as exc:  # DiscountUnavailable is one of them
            return _postpone(rt, passed, now + DISCOUNT_RETRY, f"waiting for the discount code: {exc}")

    with transaction(rt.sessions) as session:
        outgoing = _claim(rt, session, passed, code, now)
    if isinstance(outgoing, str):
        return outgoing
    return _deliver(rt, outgoing, now)


def _local_gates(rt, session: Session, message_id: int, job_id: str, now: datetime) -> Passed | str:
    message = _queued(session, message_id, job_id)
    if message is None:
        return "nothing to do: not queued for this job"
    journey = session.get(Journey, message.journey_id)
    row = session.get(CheckoutRow, journey.checkout_id)
    shop = session.get(Shop, message.shop_id)
    settings = load_settings(session, shop)
    checkout = checkout_of(row)
    channel, step = Channel(message.channel), Step(message.step)
    address = address_for(channel, checkout)

    paid = payment_for(session, shop.id, checkout, journey.abandoned_at)
    facts = gates.SendFacts(
        step=step,
        due_at=message.due_at,
        journey_stop_reason=None if journey.status == "active" else (journey.stop_reason or journey.status),
        paid_reason=describe_order(paid) if paid else None,
        consent_refusal=consent.refusal(
            channel, checkout, settings, consent.ContactFacts(suppressed=_suppressed(rt, session, shop.id, channel, address))
        ),
        connected=rt.channels.transport(shop.domain, channel.value) is not None,
        window=settings.windows if channel in settings.windowed_channels else None,
        later_steps_started=_later_steps_started(session, message, settings, now),
    )
    decision = gates.decide(facts, now)
    if decision.verdict is gates.Verdict.SEND:
        # WhatsApp orchestration repeats the first offer; Prime brings the stronger one.
        incentive = settings.prime.incentive if step is Step.PRIME else settings.first.incentive
        offer = StepOffer(shop.id, journey.id, step.value, checkout.token, checkout.customer_id, incentive)
        return Passed(message.id, job_id, shop.id, checkout.email, checkout.phone, journey.abandoned_at, offer)
    if decision.verdict is gates.Verdict.POSTPONE:
        message.status, message.due_at, message.job_id = Status.SCHEDULED.value, decision.until, None
    else:
        message.status = Status.SKIPPED.value if decision.verdict is gates.Verdict.SKIP else Status.CANCELLED.value
    message.reason = decision.reason
    if paid is not None:
        convert_journey(session, journey, paid)  # the journey's other messages are cancelled
    return f"{message.status}: {decision.reason}"


def _queued(session: Session, message_id: int, job_id: str) -> Message | None:
    """The row, locked, if it is still queued for this very job."""
    message = session.get(Message, message_id, with_for_update=True, populate_existing=True)
    if message is None or message.status != Status.QUEUED.value or message.job_id != job_id:
        return None
    return message


def _suppressed(rt, session: Session, shop_id: int, channel: Channel, address: str | None) -> str | None:
    if not address:
        return None
    # An erased customer's opt-out survives only as a keyed hash of the address.
    return session.scalar(
        select(Suppression.reason).where(
            Suppression.shop_id == shop_id,
            Suppression.channel == channel.value,
            Suppression.address.in_([address, address_hash(rt.settings.secret_key, address)]),
        )
    )


def _later_steps_started(session: Session, message: Message, settings, now: datetime) -> tuple[Step, ...]:
    """Later steps already under way, or due now on an open channel (they would go out
    in the same pass): the earlier, weaker message is then superseded, not sent too."""
    others = session.execute(
        select(Message.step, Message.channel, Message.status, Message.due_at).where(
            Message.journey_id == message.journey_id, Message.step != message.step
        )
    ).all()

    def open_now(channel: str) -> bool:
        return Channel(channel) not in settings.windowed_channels or settings.windows.is_open(now)

    return tuple(
        {
            Step(step)
            for step, channel, status, due_at in others
            if status in SENDING_STATES
            or (status in (Status.SCHEDULED.value, Status.QUEUED.value) and due_at <= now and open_now(channel))
        }
    )


def _postpone(rt, passed: Passed, until: datetime, reason: str) -> str:
    with transaction(rt.sessions) as session:
        message = _queued(session, passed.message_id, passed.job_id)
        if message is None:
            return "nothing to do: no longer queued for this job"
        message.status, message.due_at, message.job_id = Status.SCHEDULED.value, until, None
        message.reason = reason[:1000]
    return f"scheduled: {reason}"


def _paid_elsewhere(rt, passed: Passed, found: OrderSummary) -> str:
    """Shopify knows an order our webhooks have not told us about: record it, stop the journey."""
    with transaction(rt.sessions) as session:
        message = _queued(session, passed.message_id, passed.job_id)
        if message is None:
            return "nothing to do: no longer queued for this job"
        shop = session.get(Shop, passed.shop_id)
        order = store_order(
            session,
            shop,
            Order(
                shopify_id=found.id.rsplit("/", 1)[-1],
                name=found.name,
                created_at=found.created_at,
                checkout_token=found.checkout_token,
                email=found.email,
                customer_id=found.customer_id.rsplit("/", 1)[-1] if found.customer_id else None,
                financial_status=(found.financial_status or "").lower() or None,
                currency=found.currency_code,
                total_price=found.total,
            ),
        )
        reason = f"paid: {describe_order(order)} (found through the Admin API)"
        message.status, message.reason = Status.SKIPPED.value, reason
        convert_journey(session, session.get(Journey, message.journey_id), order)
    return f"skipped: {reason}"


def _claim(rt, session: Session, passed: Passed, code: str | None, now: datetime) -> OutgoingMessage | str:
    message = _queued(session, passed.message_id, passed.job_id)
    if message is None:
        return "nothing to do: no longer queued for this job"
    journey = session.get(Journey, message.journey_id)
    if journey.status != "active":  # stopped while we were asking Shopify
        message.status, message.reason = Status.CANCELLED.value, journey.stop_reason or journey.status
        return f"cancelled: {message.reason}"
    shop = session.get(Shop, message.shop_id)
    checkout = checkout_of(session.get(CheckoutRow, journey.checkout_id))
    channel, step = Channel(message.channel), Step(message.step)
    address = address_for(channel, checkout)
    unsubscribe = unsubscribe_url(rt.settings, shop.id, channel.value, address) if channel is Channel.EMAIL else None
    discount = session.scalar(select(Discount).where(Discount.journey_id == journey.id, Discount.step == step.value))
    text = messages.compose(
        step,
        channel,
        checkout,
        shop_name=shop.name,
        shop_timezone=shop.timezone,
        link=content.recovery_link(checkout, shop.domain, code),
        incentive=passed.offer.incentive,
        code=code,
        expires_at=discount.expires_at if discount is not None else None,
        unsubscribe_link=unsubscribe,
    )
    email = {}
    if channel is Channel.EMAIL:
        email = {"html": text.html, "sender_name": shop.name, "reply_to": shop.email, "unsubscribe_url": unsubscribe}
    message.status, message.sending_at = Status.SENDING.value, now
    message.attempts += 1
    message.recipient, message.subject, message.body = address, text.subject, text.body
    message.reason = None
    return OutgoingMessage(message.id, shop.domain, channel.value, address, text.subject, text.body, **email)


def _deliver(rt, outgoing: OutgoingMessage, now: datetime) -> str:
    transport = rt.channels.transport(outgoing.shop, outgoing.channel)
    try:
        result = transport.send(outgoing)
    except Exception as exc:  # an adapter bug: we cannot know whether it went out
        log.exception("transport raised for message %s", outgoing.message_id)
        return _record(rt, outgoing.message_id, Status.UNKNOWN, f"unknown: transport error {type(exc).__name__}", now)
    if result.status is SendStatus.SENT:
        return _record(rt, outgoing.message_id, Status.SENT, None, now, provider_id=result.provider_id)
    if result.status is SendStatus.FAILED_PERMANENT:
        return _record(rt, outgoing.message_id, Status.FAILED, f"failed: {result.detail}", now)
    return _retry_later(rt, outgoing.message_id, result.detail, now)


def _record(rt, message_id: int, status: Status, reason: str | None, now: datetime, provider_id=None) -> str:
    with transaction(rt.sessions) as session:
        values = {"status": status.value, "reason": reason}
        if status is Status.SENT:
            values.update(sent_at=now, provider_id=provider_id)
        session.execute(
            update(Message).where(Message.id == message_id, Message.status == Status.SENDING.value).values(**values)
        )
    return status.value if reason is None else f"{status.value}: {reason}"


def _retry_later(rt, message_id: int, detail: str | None, now: datetime) -> str:
    """A transient failure is known not to have delivered: schedule again, or give up."""
    with transaction(rt.sessions) as session:
        message = session.get(Message, message_id, with_for_update=True)
        if message is None or message.status != Status.SENDING.value:
            return "nothing to do"
        if message.attempts >= MAX_SEND_ATTEMPTS:
            message.status = Status.FAILED.value
            message.reason = f"failed after {message.attempts} attempts: {detail}"
        else:
            message.status, message.job_id = Status.SCHEDULED.value, None
            message.due_at = now + TRANSIENT_BACKOFF[min(message.attempts, len(TRANSIENT_BACKOFF)) - 1]
            message.reason = f"transient failure ({detail}); retry at {message.due_at:%Y-%m-%d %H:%M} UTC"
        return f"{message.status}: {message.reason}"
