"""The gates a message passes just before it is sent, in a fixed order (README, "How it fits together").

The send job gathers the facts from the database and providers; `decide` is pure.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from shop_app.domain import holdout, quiet_hours
from shop_app.domain.models import STEP_ORDER, Step
from shop_app.domain.windows import WeeklyWindows


class Verdict(enum.StrEnum):
    SEND = "send"
    SKIP = "skip"  # this message will never be sent
    CANCEL = "cancel"  # the whole journey stopped
    POSTPONE = "postpone"  # try again at `until`


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    reason: str | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class SendFacts:
    step: Step
    due_at: datetime
    journey_stop_reason: str | None  # None while the journey is active
    paid_reason: str | None  # None when no payment is known
    consent_refusal: str | None  # from consent.refusal
    connected: bool
    window: WeeklyWindows | None  # None: the channel is not windowed
    later_steps_started: tuple[Step, ...] = ()  # later steps already sent, or also due now
    skip_reason: str | None = None  # this message can no longer be sent (a referral review never fulfilled)
    holdout: bool = False  # the journey is in the holdout's control group: it never sends (issue 12)
    #: The recipient's IANA time zone when their phone number names one: windowed messages also
    #: wait for their local 09:00-21:00 (domain/quiet_hours.py, issue 12).
    recipient_zone: str | None = None


SEND = Decision(Verdict.SEND)


def decide(facts: SendFacts, now: datetime) -> Decision:
    if facts.journey_stop_reason:
        return Decision(Verdict.CANCEL, facts.journey_stop_reason)
    if facts.paid_reason:
        # This message is refused by the gate; the journey's other messages are cancelled.
        return Decision(Verdict.SKIP, f"paid: {facts.paid_reason}")
    if facts.skip_reason:
        return Decision(Verdict.SKIP, facts.skip_reason)
    if facts.holdout:
        return Decision(Verdict.SKIP, holdout.REASON)
    if facts.due_at > now:
        # The checkout was updated after this row was queued: its new time is later.
        return Decision(Verdict.POSTPONE, "rescheduled: the checkout changed after it was queued", facts.due_at)
    if facts.consent_refusal:
        return Decision(Verdict.SKIP, facts.consent_refusal)
    if not facts.connected:
        return Decision(Verdict.SKIP, "needs connection: the channel is not connected for this shop")
    timing = quiet_hours.release(facts.window, facts.recipient_zone, now) if facts.window is not None else None
    if timing is not None and timing.at > now:
        return Decision(Verdict.POSTPONE, timing.reason, timing.at)
    later = sorted(
        (s for s in facts.later_steps_started if STEP_ORDER[s] > STEP_ORDER[facts.step]),
        key=STEP_ORDER.__getitem__,
        reverse=True,
    )
    if later and not released_by_window(facts):
        return Decision(Verdict.SKIP, f"superseded: the later '{later[0].value}' step has already started")
    # Sent in the shop's window outside the recipient's hours, which no window meets: the reason says so.
    return Decision(Verdict.SEND, timing.reason) if timing is not None and timing.reason else SEND


def released_by_window(facts: SendFacts) -> bool:
    """Is this message's due time the moment its delivery window let it go (a minute earlier it
    would have waited)? A message the window postponed is sent when the window opens, never
    dropped (product.md §2), so a later step due at the same opening does not supersede it; one
    that is late for any other reason (a webhook a day late, workers down) still is."""
    if facts.window is None:
        return False
    before = facts.due_at - timedelta(minutes=1)
    return quiet_hours.release(facts.window, facts.recipient_zone, before).at > before
