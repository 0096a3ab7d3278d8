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
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shop_app import runtime
from shop_app.adapters.channels import OutgoingMessage, Rejection, SendResult, SendStatus
from shop_app.adapters.shopify_admin import OrderSummary
from shop_app.adapters.twilio_messaging import normalized_status
from shop_app.channels.accounts import has_twilio
from shop_app.channels.push_subscriptions import forget_subscription, subscription_for
from shop_app.compliance.consent_records import consent_state, record_consent
from shop_app.compliance.suppressions import suppress, suppression_reason
from shop_app.config import MAX_SEND_ATTEMPTS
from shop_app.domain import consent, content, delivery, gates
from shop_app.domain.models import Channel, Order, Status, Step
from shop_app.domain.planner import address_for
from shop_app.errors import ReclaimError
from shop_app.messaging import compose as messages
from shop_app.messaging import merchant_templates as message_templates
from shop_app.messaging import whatsapp_templates
from shop_app.messaging.links import tracked_url
from shop_app.messaging.unsubscribe import unsubscribe_url
from shop_app.recovery.discounts import StepOffer, code_for
from shop_app.recovery.journeys import checkout_of, convert_journey, describe_order, payment_for, store_order
from shop_app.shopify.offline_tokens import open_admin_client
from shop_app.shopify.shops import load_settings
from shop_app.storage.database import transaction
from shop_app.storage.tables import CheckoutRow, Discount, Journey, Message, MessageEvent, Shop
from webhooks.twilio_callbacks import status_callback_url

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
    tone: str


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
            orders = client.orders_for_payment_check(
                offer.checkout_token, passed.email, passed.phone, passed.abandoned_at
            )
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
    return _deliver(rt, passed, outgoing, now)


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
    address = address_for(channel, checkout, has_push=True)

    paid = payment_for(session, shop.id, checkout, journey.abandoned_at)
    facts = gates.SendFacts(
        step=step,
        due_at=message.due_at,
        journey_stop_reason=None if journey.status == "active" else (journey.stop_reason or journey.status),
        paid_reason=describe_order(paid) if paid else None,
        consent_refusal=consent.refusal(
            channel, checkout, settings, _contact_facts(rt, session, shop.id, checkout, channel, address, settings)
        ),
        connected=rt.channels.connected(session, shop.id, channel.value),
        window=settings.windows if channel in settings.windowed_channels else None,
        later_steps_started=_later_steps_started(session, message, settings, now),
    )
    decision = gates.decide(facts, now)
    if decision.verdict is gates.Verdict.SEND:
        # WhatsApp orchestration repeats the first offer; Prime brings the stronger one.
        incentive = settings.prime.incentive if step is Step.PRIME else settings.first.incentive
        offer = StepOffer(shop.id, journey.id, step.value, checkout.token, checkout.customer_id, incentive)
        return Passed(
            message.id, job_id, shop.id, checkout.email, checkout.phone, journey.abandoned_at, offer, settings.tone
        )
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


def _contact_facts(
    rt, session: Session, shop_id: int, checkout, channel: Channel, address, settings
) -> consent.ContactFacts:
    if channel is Channel.PUSH:
        subscribed = bool(checkout.cart_token) and subscription_for(session, shop_id, checkout.cart_token) is not None
        return consent.ContactFacts(push_subscribed=subscribed)
    secret = rt.settings.secret_key
    suppressed = suppression_reason(session, secret, shop_id, channel.value, address)
    optin = False
    if channel is Channel.WHATSAPP:
        record = consent_state(session, shop_id, Channel.WHATSAPP.value, checkout.phone)
        optin = record is not None and record.state == "granted"
        if not suppressed and settings.whatsapp_consent != "explicit_optin":
            # WhatsApp then rests on the phone marketing consent an SMS STOP withdrew.
            by_sms = suppression_reason(session, secret, shop_id, Channel.SMS.value, address)
            suppressed = f"{by_sms} (WhatsApp relies on the same phone marketing consent)" if by_sms else None
    return consent.ContactFacts(suppressed=suppressed, whatsapp_optin=optin)


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
    address = address_for(channel, checkout, has_push=True)
    unsubscribe = unsubscribe_url(rt.settings, shop.id, channel.value, address) if channel is Channel.EMAIL else None
    discount = session.scalar(select(Discount).where(Discount.journey_id == journey.id, Discount.step == step.value))
    cart_link = content.recovery_link(checkout, shop.domain, code)
    # Clicks are counted through our signed redirect, except in SMS, where the longer link costs a segment.
    link = (
        cart_link
        if channel is Channel.SMS
        else tracked_url(rt.settings.secret_key, rt.settings.shopify_app_url, message.id, cart_link)
    )
    try:
        text = messages.compose(
            step,
            channel,
            checkout,
            shop_name=shop.name,
            shop_timezone=shop.timezone,
            link=link,
            incentive=passed.offer.incentive,
            code=code,
            expires_at=discount.expires_at if discount is not None else None,
            unsubscribe_link=unsubscribe,
            tone=passed.tone,
            custom=message_templates.custom_template(session, shop.id, step, channel, messages.language_of(checkout)),
        )
    except messages.TemplateRefused as refused:  # includes an SMS over its segment cap with this customer's data
        return _skip(message, f"not sent: {refused.reason}")
    extras: dict = {}
    if channel is Channel.EMAIL:
        extras = {"html": text.html, "sender_name": shop.name, "reply_to": shop.email, "unsubscribe_url": unsubscribe}
    elif channel is Channel.PUSH:
        subscription = subscription_for(session, shop.id, checkout.cart_token) if checkout.cart_token else None
        if subscription is None:
            return _skip(message, "no consent: the browser push subscription is gone")
        extras = {"push_subscription": subscription, "topic": f"checkout:{checkout.token}", "link": link}
    elif has_twilio(session, shop.id):
        extras = {"status_callback": status_callback_url(rt.settings.shopify_app_url, message.id)}
        if channel is Channel.WHATSAPP:
            template = _whatsapp_template(session, shop, checkout, step, code, passed, discount, link)
            if isinstance(template, str):
                return _skip(message, template)
            sid, values, body = template
            extras.update(content_sid=sid, content_variables=values)
            text = messages.Rendered(None, body)
    message.status, message.sending_at = Status.SENDING.value, now
    message.attempts += 1
    message.recipient, message.subject, message.body = address, text.subject, text.body
    message.reason = "; ".join(text.notes) or None  # e.g. the items were shortened to fit the SMS cap
    return OutgoingMessage(message.id, shop.domain, channel.value, address, text.subject, text.body, **extras)


def _skip(message: Message, reason: str) -> str:
    message.status, message.reason = Status.SKIPPED.value, reason
    return f"skipped: {reason}"


def _whatsapp_template(session, shop, checkout, step, code, passed, discount, link):
    """(content sid, variables, text) of the approved template, or why there is none."""
    language = messages.language_of(checkout)
    key = whatsapp_templates.key_for(step.value, has_offer=code is not None)
    template = whatsapp_templates.find(session, shop.id, key, language)
    if template is None or template.approval_status != whatsapp_templates.APPROVED:
        state = template.approval_status if template is not None else "not created"
        return (
            f"needs connection: WhatsApp template {key} ({language}) is {state}; "
            "only templates WhatsApp approved may start a conversation"
        )
    offer = None
    if code is not None:
        expiry = messages.expiry_text(discount.expires_at if discount else None, shop.timezone, language)
        offer = whatsapp_templates.offer_line(
            language, code, passed.offer.incentive.describe(checkout.currency, language), expiry
        )
    values = whatsapp_templates.variables(
        language,
        first_name=checkout.first_name or "",
        shop_name=shop.name,
        cart_summary=whatsapp_templates.cart_line(checkout),
        link=link,
        offer=offer,
    )
    return template.content_sid, values, whatsapp_templates.render(key, language, values)


def _deliver(rt, passed: Passed, outgoing: OutgoingMessage, now: datetime) -> str:
    with transaction(rt.sessions) as session:
        transport = rt.channels.transport(session, passed.shop_id, outgoing.channel)
    if transport is None:  # disconnected while we were sending: nothing went out
        return _retry_later(rt, outgoing.message_id, f"{outgoing.channel} is no longer connected", now)
    try:
        result = transport.send(outgoing)
    except Exception as exc:  # an adapter bug or a timeout after sending: we cannot know whether it went out
        log.exception("transport raised for message %s", outgoing.message_id)
        return _record(rt, outgoing.message_id, Status.UNKNOWN, f"unknown: transport error {type(exc).__name__}", now)
    if result.status is SendStatus.SENT:
        return _sent(rt, passed, outgoing, transport.esp_name, result, now)
    if result.status is SendStatus.FAILED_PERMANENT:
        return _rejected(rt, passed, outgoing, transport.esp_name, result, now)
    return _retry_later(rt, outgoing.message_id, result.detail, now, result.retry_after)


def _sent(rt, passed: Passed, outgoing: OutgoingMessage, provider: str, result: SendResult, now: datetime) -> str:
    """Recorded as sent, with the provider's first word on delivery and its raw answer kept.

    A status callback may have landed between the provider's answer and this commit (it can be
    quicker than us): what it recorded is kept, since delivery statuses only move forward.
    A row the reconciler already marked `unknown` is settled as sent: now we know.
    """
    first_word = "sent"
    if provider == "twilio":
        first_word = normalized_status((result.raw or {}).get("status")) or "queued"
    with transaction(rt.sessions) as session:
        message = session.get(Message, outgoing.message_id, with_for_update=True, populate_existing=True)
        if message is None or message.status not in (Status.SENDING.value, Status.UNKNOWN.value):
            return "nothing to do"
        message.status, message.sent_at = Status.SENT.value, now
        message.provider_id = message.provider_id or result.provider_id
        message.delivery_status = delivery.advance(message.delivery_status, first_word) or message.delivery_status
        if result.provider_id:
            try:
                with session.begin_nested():
                    session.add(
                        MessageEvent(
                            shop_id=passed.shop_id,
                            message_id=message.id,
                            provider=provider,
                            provider_id=result.provider_id,
                            event=first_word,
                            raw=result.raw,
                        )
                    )
            except IntegrityError:
                pass  # the provider's callback told us the same first
    return Status.SENT.value


def _rejected(rt, passed: Passed, outgoing: OutgoingMessage, provider: str, result: SendResult, now) -> str:
    """A permanent refusal: the message fails, and what the refusal says about the address is acted on."""
    reason = f"failed: {result.detail or result.rejection or 'refused by ' + provider}"
    with transaction(rt.sessions) as session:
        if result.rejection is Rejection.SUPPRESSED and outgoing.to:
            suppress(
                session,
                rt.settings.secret_key,
                passed.shop_id,
                outgoing.channel,
                outgoing.to,
                f"{provider}: the recipient opted out ({result.detail or 'unsubscribed'})",
            )
            record_consent(
                session, passed.shop_id, outgoing.channel, outgoing.to, granted=False, source="provider", at=now
            )
            reason += "; the address is now suppressed"
        if outgoing.push_subscription and result.rejection in (Rejection.SUBSCRIPTION_GONE, Rejection.INVALID_ADDRESS):
            forget_subscription(session, passed.shop_id, outgoing.push_subscription.get("endpoint", ""), now=now)
            reason += "; the subscription was removed"
        session.execute(
            update(Message)
            .where(Message.id == outgoing.message_id, Message.status.in_((Status.SENDING.value, Status.UNKNOWN.value)))
            .values(status=Status.FAILED.value, reason=reason[:1000])
        )
    return f"{Status.FAILED.value}: {reason}"


def _record(rt, message_id: int, status: Status, reason: str | None, now: datetime) -> str:
    with transaction(rt.sessions) as session:
        values = {"status": status.value, "reason": reason}
        session.execute(
            update(Message).where(Message.id == message_id, Message.status == Status.SENDING.value).values(**values)
        )
    return status.value if reason is None else f"{status.value}: {reason}"


def _retry_later(rt, message_id: int, detail: str | None, now: datetime, retry_after: float | None = None) -> str:
    """A transient failure is known not to have delivered: schedule again, or give up.

    The provider's Retry-After, when it gave one, is honoured if it asks for a longer wait.
    """
    with transaction(rt.sessions) as session:
        message = session.get(Message, message_id, with_for_update=True)
        if message is None or message.status != Status.SENDING.value:
            return "nothing to do"
        if message.attempts >= MAX_SEND_ATTEMPTS:
            message.status = Status.FAILED.value
            message.reason = f"failed after {message.attempts} attempts: {detail}"
        else:
            message.status, message.job_id = Status.SCHEDULED.value, None
            backoff = TRANSIENT_BACKOFF[min(message.attempts, len(TRANSIENT_BACKOFF)) - 1]
            message.due_at = now + max(backoff, timedelta(seconds=retry_after or 0))
            message.reason = f"transient failure ({detail}); retry at {message.due_at:%Y-%m-%d %H:%M} UTC"
        return f"{message.status}: {message.reason}"
