"""What the send job records: the gates' verdict, a wait, a payment Shopify found, a provider's
answer. Status changes go through the outbox; what an answer says about the address
(an opt-out, a gone push subscription) is acted on here.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from shop_app.adapters.outgoing import OutgoingMessage, Rejection, SendResult, SendStatus
from shop_app.adapters.twilio_messaging import normalized_status
from shop_app.channels.push_subscriptions import forget_subscription
from shop_app.compliance.suppressions import record_consent, suppress
from shop_app.config import MAX_SEND_ATTEMPTS
from shop_app.domain import delivery, gates
from shop_app.domain.addresses import scrub_provider_text
from shop_app.domain.models import Order, Status
from shop_app.recovery import outbox
from shop_app.recovery.discounts import release
from shop_app.recovery.gate_facts import Candidate, Collected, held, recheck
from shop_app.recovery.journeys import convert_journey
from shop_app.recovery.orders import describe_order, store_order
from shop_app.runtime import Runtime
from shop_app.storage.database import transaction
from shop_app.storage.tables import Journey, Message, Shop

log = logging.getLogger(__name__)
NOT_HELD = "nothing to do: not queued for this job"
TRANSIENT_BACKOFF = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30))


#: The log event of each outcome (the row's status after the send job).
EVENTS = {
    Status.SENT.value: "send",
    Status.SKIPPED.value: "skip",
    Status.CANCELLED.value: "skip",
    Status.SCHEDULED.value: "wait",
    Status.FAILED.value: "failure",
    Status.UNKNOWN.value: "failure",
}


def log_outcome(candidate: Candidate | None, job_id: str, result: str) -> None:
    """One line per outcome: `result` is "<status>: <the stored reason>" (or the bare status), and a
    reason never holds personal data. A run that found its row no longer held logs nothing."""
    status, _, reason = result.partition(": ")
    event = EVENTS.get(status)
    if event is None or candidate is None:
        return
    if status == Status.UNKNOWN.value:
        reason = result  # the stored reason says "unknown: …" itself
    paid = reason.startswith("paid: ") and reason.endswith("(found through the Admin API)")
    log_event(event, candidate.shop.domain, candidate.message_id, job_id, candidate.channel.value, status,
              reason or None, "paid elsewhere" if paid else status)  # fmt: skip


def log_event(
    event: str, shop: str | None, message_id: int, job_id: str, channel: str | None, status: str | None,
    reason: str | None, said: str,
) -> None:  # fmt: skip
    """The send job's log line: `extra` carries event (send|skip|wait|failure), shop domain, message
    and job ids, channel, outcome (the row's status) and the stored reason; never an address."""
    level = logging.WARNING if event == "failure" else logging.INFO
    log.log(level, "message %s: %s", message_id, said, extra={
        "event": event, "shop": shop, "message_id": message_id, "job_id": job_id, "channel": channel,
        "outcome": status, "reason": reason,
    })  # fmt: skip


#: What the gates' verdict makes of the row (SEND is not recorded here).
_DECIDED = {
    gates.Verdict.POSTPONE: Status.SCHEDULED,
    gates.Verdict.SKIP: Status.SKIPPED,
    gates.Verdict.CANCEL: Status.CANCELLED,
}


def decided(session: Session, collected: Collected, decision: gates.Decision) -> str:
    """The gates said postpone, skip or cancel; a payment our records know stops the journey."""
    candidate, reason = collected.candidate, decision.reason or ""
    status = _DECIDED[decision.verdict]
    if status is Status.SCHEDULED:
        if decision.until is None:
            raise ValueError("a postponement without a time")  # domain.gates always gives one
        moved = outbox.postpone(session, candidate.message_id, candidate.job_id, decision.until, reason)
    else:
        moved = outbox.settle(session, candidate.message_id, candidate.job_id, status, reason)
    if collected.paid is not None:
        convert_journey(session, session.get_one(Journey, candidate.journey_id), collected.paid)
    return f"{status.value}: {reason}" if moved else NOT_HELD  # not moved: the row went on meanwhile


def wait(session: Session, candidate: Candidate, until: datetime, reason: str) -> str:
    """Try again at `until`: Shopify could not answer, or the channel was disconnected."""
    if not outbox.postpone(session, candidate.message_id, candidate.job_id, until, reason):
        return NOT_HELD
    return f"scheduled: {reason}"


def skip(session: Session, candidate: Candidate, reason: str) -> str:
    if not outbox.settle(session, candidate.message_id, candidate.job_id, Status.SKIPPED, reason):
        return NOT_HELD
    return f"skipped: {reason}"


def not_claimed(session: Session, candidate: Candidate, now: datetime) -> str:
    """Why the claim changed nothing: the row moved on, its journey stopped while we were asking
    Shopify, or the shop's Twilio connection went or changed meanwhile. Nothing went out."""
    still_held, stopped = recheck(session, candidate)
    if not still_held:
        return NOT_HELD
    if stopped:
        outbox.settle(session, candidate.message_id, candidate.job_id, Status.CANCELLED, stopped)
        return f"cancelled: {stopped}"
    reason = f"the {candidate.channel.value} connection changed or was removed while Shopify was asked"
    return wait(session, candidate, now + TRANSIENT_BACKOFF[0], reason)


def paid_elsewhere(rt: Runtime, candidate: Candidate, found: Order) -> str:
    """Shopify knows an order our webhooks have not told us about: record it, stop the journey."""
    with transaction(rt.sessions) as session:
        if held(session, candidate.message_id, candidate.job_id) is None:
            return NOT_HELD
        order = store_order(session, session.get_one(Shop, candidate.shop.id), found)
        reason = f"paid: {describe_order(order)} (found through the Admin API)"
        outbox.settle(session, candidate.message_id, candidate.job_id, Status.SKIPPED, reason)
        convert_journey(session, session.get_one(Journey, candidate.journey_id), order)
        if candidate.offer is not None:  # the code reserved for it never went to Shopify
            release(session, candidate.offer)
    return f"skipped: {reason}"


def delivered(
    rt: Runtime, outgoing: OutgoingMessage, provider: str, result: SendResult, now: datetime,
    names: Sequence[str | None] = (),
) -> str:  # fmt: skip
    """Record the provider's answer; `names` (the recipient's) are masked in what it said. A database
    connection lost while the provider was asked (a batch keeps one connection: jobs/send_batch.py)
    is replaced once rather than the answer dropped: the row would be left `sending`, then `unknown`."""
    try:
        return _record(rt, outgoing, provider, result, now, names)
    except DBAPIError as error:
        if not error.connection_invalidated:
            raise
        return _record(rt, outgoing, provider, result, now, names)  # the next use reconnects


def _record(
    rt: Runtime,
    outgoing: OutgoingMessage,
    provider: str,
    result: SendResult,
    now: datetime,
    names: Sequence[str | None],
) -> str:
    with transaction(rt.sessions) as session:
        if result.status is SendStatus.SENT:
            return _sent(session, outgoing, provider, result, now)
        if result.status is SendStatus.FAILED_PERMANENT:
            return _rejected(rt, session, outgoing, provider, result, now, names)
        return retry_later(session, outgoing.message_id, result.detail, now, result.retry_after, names)


def unknown(rt: Runtime, message_id: int, error: Exception) -> str:
    """An adapter bug or a timeout after sending: we cannot know whether it went out (the send job
    logs the outcome)."""
    reason = f"unknown: transport error {type(error).__name__}"
    with transaction(rt.sessions) as session:
        outbox.mark_unknown(session, message_id, reason)
    return reason


def first_delivery_status(provider: str, result: SendResult) -> str:
    """What the provider's answer says of delivery: Twilio tells (queued, accepted…), others sent it."""
    if provider != "twilio":
        return "sent"
    return normalized_status((result.raw or {}).get("status")) or "queued"


def _sent(session: Session, outgoing: OutgoingMessage, provider: str, result: SendResult, now: datetime) -> str:
    """Sent, with the provider's id and its first word on delivery on the row. A status callback
    quicker than this commit keeps what it recorded (delivery statuses only move forward), and a
    row the reconciler already marked `unknown` is settled as sent: now we know. Usually one
    UPDATE … RETURNING; the row is read first only when a callback came first.

    No message event is written for the send itself (issue 13, storage): the row holds what it would
    say (sent_at, provider_id, delivery_status), and the provider's raw answer (Twilio's echoes the
    number and the text) is not kept. Events are what the provider or the customer did afterwards:
    callbacks, bounces, clicks."""
    said = first_delivery_status(provider, result)
    first = delivery.advance(None, said)
    if outbox.mark_first_sent(session, outgoing.message_id, now, result.provider_id, first):
        return Status.SENT.value
    message = session.get(Message, outgoing.message_id, with_for_update=True, populate_existing=True)
    if message is None:
        return "nothing to do"
    moved = delivery.advance(message.delivery_status, said)
    if not outbox.mark_sent(session, message.id, now, result.provider_id, moved):
        return "nothing to do"
    return Status.SENT.value


def _rejected(
    rt: Runtime, session: Session, outgoing: OutgoingMessage, provider: str, result: SendResult, now: datetime,
    names: Sequence[str | None] = (),
) -> str:  # fmt: skip
    """A permanent refusal: the message fails, and what the refusal says about the address is acted on."""
    # Providers echo the address, and some the name (a 21614's or a bounce's text).
    said = scrub_provider_text(result.detail, outgoing.to, names=names) if result.detail else None
    reason = f"failed: {said or result.rejection or 'refused by ' + provider}"
    shop_id = session.get_one(Message, outgoing.message_id).shop_id
    if result.rejection is Rejection.SUPPRESSED and outgoing.to:
        why = f"{provider}: the recipient opted out ({said or 'unsubscribed'})"
        suppress(session, rt.settings.secret_key, shop_id, outgoing.channel, outgoing.to, why)
        record_consent(session, shop_id, outgoing.channel, outgoing.to, granted=False, source="provider", at=now)
        reason += "; the address is now suppressed"
    if outgoing.push_subscription and result.rejection in (Rejection.SUBSCRIPTION_GONE, Rejection.INVALID_ADDRESS):
        forget_subscription(session, shop_id, outgoing.push_subscription.get("endpoint", ""), now=now)
        reason += "; the subscription was removed"
    outbox.mark_failed(session, outgoing.message_id, reason)
    return f"{Status.FAILED.value}: {reason}"


def retry_later(
    session: Session, message_id: int, detail: str | None, now: datetime, retry_after: float | None = None,
    names: Sequence[str | None] = (),
) -> str:  # fmt: skip
    """A transient failure known not to have delivered: schedule again (honouring the provider's
    Retry-After when it asks for longer), or give up after MAX_SEND_ATTEMPTS."""
    message = session.get(Message, message_id, with_for_update=True, populate_existing=True)
    if message is None or message.status != Status.SENDING.value:
        return "nothing to do"
    detail = scrub_provider_text(detail, message.recipient, names=names) if detail else detail  # echoed address, name
    if message.attempts >= MAX_SEND_ATTEMPTS:
        reason = f"failed after {message.attempts} attempts: {detail}"
        outbox.mark_failed(session, message_id, reason)
        return f"{Status.FAILED.value}: {reason}"
    backoff = TRANSIENT_BACKOFF[min(message.attempts, len(TRANSIENT_BACKOFF)) - 1]
    due_at = now + max(backoff, timedelta(seconds=retry_after or 0))
    reason = f"transient failure ({detail}); retry at {due_at:%Y-%m-%d %H:%M} UTC"
    outbox.retry(session, message_id, due_at, reason)
    return f"{Status.SCHEDULED.value}: {reason}"
