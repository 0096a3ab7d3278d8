"""The send job (README, "How it fits together"): collect the facts, let the gates decide,
ask Shopify whether the customer paid (and for the step's code), compose, claim, deliver,
record. The claim (`queued → sending`) is committed before the provider is called, so a
crash leaves `sending`, which the reconciler turns into `unknown`: never a resend. A run that
breaks before its claim releases the row for a later attempt, a bounded number of times.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from jobs import attempts
from shop_app import runtime
from shop_app.adapters.outgoing import SendResult
from shop_app.channels.transports import Route
from shop_app.domain import gates
from shop_app.domain.models import Status
from shop_app.errors import describe
from shop_app.messaging.compose import Composed, Refusal, compose
from shop_app.recovery import gate_facts, live_check, outbox, outcomes
from shop_app.recovery.discounts import StepCode, record_created
from shop_app.recovery.gate_facts import Candidate
from shop_app.runtime import Runtime
from shop_app.storage.database import transaction
from shop_app.storage.tables import Shop

log = logging.getLogger(__name__)


#: The log event of each outcome (the row's status after the send job, README "Logs").
EVENTS = {
    Status.SENT.value: "send",
    Status.SKIPPED.value: "skip",
    Status.CANCELLED.value: "skip",
    Status.SCHEDULED.value: "wait",
    Status.FAILED.value: "failure",
    Status.UNKNOWN.value: "failure",
}


@dataclass
class Trace:
    """What a run learnt of its message, for its log line: the candidate once the facts were read."""

    candidate: Candidate | None = None


def send_message(message_id: int, job_id: str, now_iso: str | None = None) -> str:
    rt = runtime.current()
    now = datetime.fromisoformat(now_iso) if now_iso else datetime.now(UTC)
    trace = Trace()
    try:
        result = _send(rt, message_id, job_id, now, trace)
    except Exception as error:  # whatever broke, the row gets a bounded number of further runs
        return _failed(rt, message_id, job_id, now, error, trace.candidate)
    log_outcome(trace.candidate, job_id, result)
    return result


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
    _log(event, candidate.shop.domain, candidate.message_id, job_id, candidate.channel.value, status, reason or None,
         "paid elsewhere" if paid else status)  # fmt: skip


def _log(
    event: str, shop: str | None, message_id: int, job_id: str, channel: str | None, status: str | None,
    reason: str | None, said: str,
) -> None:  # fmt: skip
    level = logging.WARNING if event == "failure" else logging.INFO
    log.log(level, "message %s: %s", message_id, said, extra={
        "event": event, "shop": shop, "message_id": message_id, "job_id": job_id, "channel": channel,
        "outcome": status, "reason": reason,
    })  # fmt: skip


def _failed(
    rt: Runtime, message_id: int, job_id: str, now: datetime, error: Exception, candidate: Candidate | None = None
) -> str:
    """A row this job still holds (`queued`) is released to run again after a backoff, or fails
    once out of attempts. A row already claimed (`sending`) is left to the lease: it may have gone."""
    status: Status | None = None
    shop, channel = (candidate.shop.domain, candidate.channel.value) if candidate else (None, None)
    try:
        with transaction(rt.sessions) as session:
            message = gate_facts.held(session, message_id, job_id)
            if message is None:
                reason = f"broke after the row moved on: {describe(error)}"
            else:
                failures = message.job_failures + 1
                retry_at = None if attempts.exhausted(failures) else attempts.retry_at(failures, now)
                reason = attempts.failure_reason(failures, error, retry_at)
                outbox.job_failed(session, message_id, job_id, retry_at, reason)
                status = Status.FAILED if retry_at is None else Status.SCHEDULED
                if candidate is None:  # broke before the facts were read: the row names shop and channel
                    shop = session.scalar(select(Shop.domain).where(Shop.id == message.shop_id))
                    channel = message.channel
    except Exception as second:
        raise attempts.JobFailed(f"{describe(error)}; recording it failed too: {describe(second)}") from None
    _log("failure", shop, message_id, job_id, channel, status.value if status else None, reason, "the send job broke")
    return reason


def _send(rt: Runtime, message_id: int, job_id: str, now: datetime, trace: Trace) -> str:
    # 1. Our own records: the row still held by this job, and every gate they can answer.
    with transaction(rt.sessions) as session:
        collected = gate_facts.collect(rt, session, message_id, job_id, now)
        if collected is None:
            return outcomes.NOT_HELD
        trace.candidate = collected.candidate
        decision = gates.decide(collected.facts, now)
        if decision.verdict is not gates.Verdict.SEND:
            return outcomes.decided(session, collected, decision)
        reserved = live_check.reserve(session, collected.candidate, now)  # the step's code, if any
    candidate = collected.candidate

    # 2. Shopify, outside any lock: paid already? The step's discount code.
    answer = live_check.ask(rt, candidate, now, reserved)
    if isinstance(answer, live_check.Wait):
        with transaction(rt.sessions) as session:
            return outcomes.wait(session, candidate, answer.until, answer.reason)
    if isinstance(answer, live_check.PaidElsewhere):
        return outcomes.paid_elsewhere(rt, candidate, answer.order)
    if isinstance(answer, live_check.Skip):
        with transaction(rt.sessions) as session:
            return outcomes.skip(session, candidate, answer.reason)

    # 3. Compose and claim in one short transaction: one guarded UPDATE, which also checks that
    #    the journey is still active and the shop's Twilio connection still the one read in 1.
    with transaction(rt.sessions) as session:
        claimed = _compose_and_claim(rt, session, candidate, answer.code, now, decision.reason)
    if isinstance(claimed, str):
        return claimed
    route, composed = claimed

    # 4. Deliver, then record what the provider said.
    try:
        result: SendResult = route.transport.send(composed.outgoing)
    except Exception as error:  # an adapter bug or a timeout after sending: it may have gone out
        return outcomes.unknown(rt, message_id, error)
    return outcomes.delivered(rt, composed.outgoing, route.provider, result, now)


def _compose_and_claim(
    rt: Runtime, session: Session, candidate: Candidate, code: StepCode | None, now: datetime, sending_note: str | None
) -> tuple[Route, Composed] | str:
    """(route, composed message) once the row is `sending`, or what happened instead. `sending_note`
    is what the gates said of a send (outside the shop's window, in the recipient's hours)."""
    if code is not None and code.created is not None:  # made in Shopify just now: recorded here, whatever follows
        record_created(session, candidate.step_offer, code.created)
    route = rt.transports.route_given(session, candidate.shop.id, candidate.channel.value, candidate.twilio)
    if route is None:  # disconnected since the gates looked: nothing went out
        reason = f"{candidate.channel.value} is no longer connected"
        return outcomes.wait(session, candidate, now + outcomes.TRANSIENT_BACKOFF[0], reason)
    composed = compose(session, rt.settings, candidate, route, code)
    if isinstance(composed, Refusal):
        return outcomes.skip(session, candidate, composed.reason)
    outgoing = composed.outgoing
    claimed = outbox.claim(session, candidate.message_id, candidate.job_id, now, recipient=candidate.address,
                           subject=outgoing.subject, body=outgoing.body,
                           note="; ".join(n for n in (sending_note, composed.note) if n) or None,
                           provided=gate_facts.claim_conditions(candidate))  # fmt: skip
    return (route, composed) if claimed else outcomes.not_claimed(session, candidate, now)
