"""The send job: reload the row, run the gates in order, claim, send, record.

Gates (architecture.md step 5): journey still active → not paid → consent and
suppression → channel connected → delivery window → frequency. The claim
(`queued → sending`) is committed before the provider is called, so a crash
leaves `sending`, which the reconciler turns into `unknown` — never a resend.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from shop_app import runtime
from shop_app.adapters.channels import OutgoingMessage, SendStatus
from shop_app.config import MAX_SEND_ATTEMPTS
from shop_app.database import transaction
from shop_app.discounts import DiscountService
from shop_app.domain import consent, content, gates
from shop_app.domain.models import Channel, Status, Step
from shop_app.domain.planner import address_for
from shop_app.errors import DiscountUnavailable
from shop_app.journeys import checkout_of, convert_journey, describe_order, payment_for
from shop_app.privacy import address_hash
from shop_app.shops import load_settings
from shop_app.tables import CheckoutRow, Journey, Message, Shop, Suppression

log = logging.getLogger(__name__)
DISCOUNT_RETRY = timedelta(minutes=30)
TRANSIENT_BACKOFF = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30))
SENDING_STATES = (Status.SENT.value, Status.SENDING.value, Status.UNKNOWN.value)


def send_message(message_id: int, job_id: str, now_iso: str | None = None) -> str:
    rt = runtime.current()
    now = datetime.fromisoformat(now_iso) if now_iso else datetime.now(timezone.utc)
    with transaction(rt.sessions) as session:
        outgoing = _prepare(rt, session, message_id, job_id, now)
    if isinstance(outgoing, str):
        return outgoing
    transport = rt.channels.transport(outgoing.shop, outgoing.channel)
    try:
        result = transport.send(outgoing)
    except Exception as exc:  # an adapter bug: we cannot know whether it went out
        log.exception("transport raised for message %s", message_id)
        return _record(rt, message_id, Status.UNKNOWN, f"unknown: transport error {type(exc).__name__}", now)
    if result.status is SendStatus.SENT:
        return _record(rt, message_id, Status.SENT, None, now, provider_id=result.provider_id)
    if result.status is SendStatus.FAILED_PERMANENT:
        return _record(rt, message_id, Status.FAILED, f"failed: {result.detail}", now)
    return _retry_later(rt, message_id, result.detail, now)


def _prepare(rt, session: Session, message_id: int, job_id: str, now: datetime) -> OutgoingMessage | str:
    """Run the gates; on SEND claim the row and return what to send, else the outcome."""
    message = session.get(Message, message_id, with_for_update=True)
    if message is None or message.status != Status.QUEUED.value or message.job_id != job_id:
        return "nothing to do: not queued for this job"
    journey = session.get(Journey, message.journey_id)
    row = session.get(CheckoutRow, journey.checkout_id)
    shop = session.get(Shop, message.shop_id)
    settings = load_settings(session, shop)
    checkout = checkout_of(row)
    channel, step = Channel(message.channel), Step(message.step)
    address = address_for(channel, checkout)

    paid = payment_for(session, shop.id, checkout, journey.abandoned_at)
    # An erased customer's opt-out survives only as a keyed hash of the address.
    suppressed = address and session.scalar(
        select(Suppression.reason).where(
            Suppression.shop_id == shop.id,
            Suppression.channel == channel.value,
            Suppression.address.in_([address, address_hash(rt.settings.secret_key, address)]),
        )
    )
    facts = gates.SendFacts(
        step=step,
        due_at=message.due_at,
        journey_stop_reason=None if journey.status == "active" else (journey.stop_reason or journey.status),
        paid_reason=describe_order(paid) if paid else None,
        consent_refusal=consent.refusal(channel, checkout, settings, consent.ContactFacts(suppressed=suppressed)),
        connected=rt.channels.transport(shop.domain, channel.value) is not None,
        window=settings.windows if channel in settings.windowed_channels else None,
        later_steps_started=_later_steps_started(session, message, settings, now),
    )
    decision = gates.decide(facts, now)
    if decision.verdict is gates.Verdict.CANCEL and paid is not None:
        convert_journey(session, journey, paid)  # also cancels this row
        return decision.reason
    if decision.verdict is gates.Verdict.SEND:
        # WhatsApp orchestration repeats the first offer; Prime brings the stronger one.
        incentive = settings.prime.incentive if step is Step.PRIME else settings.first.incentive
        try:
            code = DiscountService().code_for(session, journey, step.value, incentive, now)
        except DiscountUnavailable as exc:
            decision = gates.Decision(gates.Verdict.POSTPONE, f"waiting for discount code: {exc}", now + DISCOUNT_RETRY)
        else:
            text = content.compose(
                step,
                channel,
                checkout,
                shop_name=shop.name,
                link=content.recovery_link(checkout, shop.domain, code),
                offer=incentive.describe(checkout.currency) if code else None,
                code=code,
            )
            message.status, message.sending_at = Status.SENDING.value, now
            message.attempts += 1
            message.recipient, message.subject, message.body = address, text.subject, text.body
            message.reason = None
            return OutgoingMessage(message.id, shop.domain, channel.value, address, text.subject, text.body)

    if decision.verdict is gates.Verdict.POSTPONE:
        message.status, message.due_at, message.job_id = Status.SCHEDULED.value, decision.until, None
    elif decision.verdict is gates.Verdict.SKIP:
        message.status = Status.SKIPPED.value
    else:
        message.status = Status.CANCELLED.value
    message.reason = decision.reason
    return f"{message.status}: {decision.reason}"


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

    started = {
        Step(step)
        for step, channel, status, due_at in others
        if status in SENDING_STATES
        or (status in (Status.SCHEDULED.value, Status.QUEUED.value) and due_at <= now and open_now(channel))
    }
    return tuple(started)


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
