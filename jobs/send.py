"""The send job (README, "How it fits together"): collect the facts, let the gates decide,
ask Shopify whether the customer paid (and for the step's code), compose, claim, deliver,
record. The claim (`queued → sending`) is committed before the provider is called, so a
crash leaves `sending`, which the reconciler turns into `unknown`: never a resend. A run that
breaks before its claim releases the row for a later attempt, a bounded number of times.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from jobs.send_failures import failed
from shop_app import runtime
from shop_app.adapters.outgoing import SendResult
from shop_app.channels.transports import Route
from shop_app.domain import gates
from shop_app.messaging.compose import Composed, Refusal, compose
from shop_app.recovery import gate_facts, live_check, outbox, outcomes
from shop_app.recovery.discounts import Reserved, StepCode, record_created
from shop_app.recovery.gate_facts import Candidate, Collected
from shop_app.recovery.live_check import reserve
from shop_app.runtime import Runtime
from shop_app.storage.database import transaction


def send_message(message_id: int, job_id: str, now_iso: str | None = None) -> str:
    rt = runtime.current()
    now = datetime.fromisoformat(now_iso) if now_iso else datetime.now(UTC)
    seen: list[Candidate] = []  # the message's candidate once its facts were read, for the log line
    try:
        ready = prepare(rt, message_id, job_id, now, seen)
        if isinstance(ready, str):
            result = ready
        else:  # 2. Shopify, outside any lock: paid already? The step's discount code.
            result = finish(rt, ready, live_check.ask(rt, ready.candidate, now, ready.reserved), now)
    except Exception as error:  # whatever broke, the row gets a bounded number of further runs
        return failed(rt, message_id, job_id, now, error, seen[0] if seen else None)
    outcomes.log_outcome(seen[0] if seen else None, job_id, result)
    return result


@dataclass(frozen=True)
class Ready:
    """A message the gates let through, its step's code reserved (`prepare`, the batch's `reserve`): Shopify next."""

    candidate: Candidate
    reserved: Reserved | None
    note: str | None  # what the gates said of the send (outside the shop's window, in the recipient's hours)


def prepare(rt: Runtime, message_id: int, job_id: str, now: datetime, seen: list[Candidate]) -> Ready | str:
    """1. Our own records in one transaction: the row still held, every gate they answer, the code reserved."""
    with transaction(rt.sessions) as session:
        ready = judge(session, gate_facts.collect(rt, session, message_id, job_id, now), now, seen)
        return ready if isinstance(ready, str) else replace(ready, reserved=reserve(session, ready.candidate, now))


def judge(session: Session, collected: Collected | None, now: datetime, seen: list[Candidate]) -> Ready | str:
    """The gates on what `collect` found (None: the row is no longer held): their outcome, recorded in
    `session`, or the message Ready, its code not reserved yet. The candidate is added to `seen`."""
    if collected is None:
        return outcomes.NOT_HELD
    seen.append(collected.candidate)
    decision = gates.decide(collected.facts, now)
    if decision.verdict is not gates.Verdict.SEND:
        return outcomes.decided(session, collected, decision)
    return Ready(collected.candidate, None, decision.reason)


def finish(rt: Runtime, ready: Ready, answer: live_check.Answer, now: datetime) -> str:
    """What Shopify said (`answer`) decides; then compose, claim, deliver and record."""
    candidate = ready.candidate
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
        claimed = _compose_and_claim(rt, session, candidate, answer.code, now, ready.note)
    if isinstance(claimed, str):
        return claimed
    route, composed = claimed

    # 4. Deliver, then record what the provider said.
    try:
        result: SendResult = route.transport.send(composed.outgoing)
    except Exception as error:  # an adapter bug or a timeout after sending: it may have gone out
        return outcomes.unknown(rt, candidate.message_id, error)
    return outcomes.delivered(rt, composed.outgoing, route.provider, result, now, (candidate.contact.first_name,))


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
    twilio = (candidate.twilio.id, candidate.twilio.secret) if candidate.twilio is not None else None
    claimed = outbox.claim_send(session, candidate.message_id, candidate.job_id, now, recipient=candidate.address,
                                subject=outgoing.subject, body=outgoing.body, twilio=twilio,
                                note="; ".join(n for n in (sending_note, composed.note) if n) or None)  # fmt: skip
    return (route, composed) if claimed else outcomes.not_claimed(session, candidate, now)
