"""The send gates (architecture.md step 5): journey active → not paid → consent → connection →
delivery window → frequency. Each test sets up a message failing several gates at once and checks
that the earliest gate decides.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from shop_app.domain.gates import SEND, Decision, SendFacts, Verdict, decide
from shop_app.domain.models import Step
from shop_app.domain.windows import WeeklyWindows

MADRID = WeeklyWindows.default("Europe/Madrid")  # 09:00-21:00 every day
# Tuesday 10 March 2026, 12:00 UTC = 13:00 in Madrid (CET, UTC+1): inside the window.
DAY = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
# 22:30 UTC = 23:30 in Madrid: outside; the next window opens Wed 11 March 09:00 CET = 08:00 UTC.
NIGHT = datetime(2026, 3, 10, 22, 30, tzinfo=UTC)
NEXT_OPEN = datetime(2026, 3, 11, 8, 0, tzinfo=UTC)


def facts(**overrides: object) -> SendFacts:
    values: dict = {
        "step": Step.WHATSAPP,
        "due_at": DAY - timedelta(minutes=1),
        "journey_stop_reason": None,
        "paid_reason": None,
        "consent_refusal": None,
        "connected": True,
        "window": MADRID,
        "later_steps_started": (),
    }
    values.update(overrides)
    return SendFacts(**values)


# -- each gate on its own -----------------------------------------------------------------------


def test_all_clear_sends() -> None:
    assert decide(facts(), DAY) == Decision(Verdict.SEND)
    assert decide(facts(), DAY) == SEND


def test_due_exactly_now_sends() -> None:
    assert decide(facts(due_at=DAY), DAY).verdict is Verdict.SEND


def test_not_due_yet_is_postponed_to_its_due_time() -> None:
    later = DAY + timedelta(minutes=30)
    decision = decide(facts(due_at=later), DAY)
    assert decision.verdict is Verdict.POSTPONE
    assert decision.until == later
    assert decision.reason


def test_stopped_journey_cancels_with_its_reason() -> None:
    assert decide(facts(journey_stop_reason="app uninstalled"), DAY) == Decision(Verdict.CANCEL, "app uninstalled")


def test_paid_skips() -> None:
    assert decide(facts(paid_reason="order #1001"), DAY) == Decision(Verdict.SKIP, "paid: order #1001")


def test_no_consent_skips_with_the_refusal() -> None:
    decision = decide(facts(consent_refusal="no consent: no SMS marketing consent"), DAY)
    assert decision == Decision(Verdict.SKIP, "no consent: no SMS marketing consent")


def test_not_connected_skips() -> None:
    decision = decide(facts(connected=False), DAY)
    assert decision.verdict is Verdict.SKIP
    assert decision.reason is not None and decision.reason.startswith("needs connection")


def test_outside_window_is_postponed_to_the_next_opening() -> None:
    decision = decide(facts(due_at=NIGHT - timedelta(minutes=5)), NIGHT)
    assert decision.verdict is Verdict.POSTPONE
    assert decision.until == NEXT_OPEN
    assert decision.reason == "outside delivery window; postponed to Wed 2026-03-11 09:00 Europe/Madrid"


def test_window_opening_instant_sends() -> None:
    assert decide(facts(due_at=NEXT_OPEN), NEXT_OPEN).verdict is Verdict.SEND


def test_window_end_is_closed() -> None:
    end = datetime(2026, 3, 10, 20, 0, tzinfo=UTC)  # 21:00 Madrid
    decision = decide(facts(due_at=end), end)
    assert decision.verdict is Verdict.POSTPONE
    assert decision.until == NEXT_OPEN


def test_unwindowed_channel_sends_at_night() -> None:
    assert decide(facts(due_at=NIGHT, window=None), NIGHT).verdict is Verdict.SEND


def test_later_step_already_started_supersedes() -> None:
    decision = decide(facts(step=Step.FIRST, later_steps_started=(Step.PRIME,)), DAY)
    assert decision == Decision(Verdict.SKIP, "superseded: the later 'prime' step has already started")


def test_a_message_the_window_postponed_is_not_superseded_at_the_opening() -> None:
    """WhatsApp due at 22:00 and Prime at 08:00 both wait for 09:00: the WhatsApp message goes
    when the window opens (never dropped, product.md §2), with Prime."""
    decision = decide(facts(due_at=NEXT_OPEN, later_steps_started=(Step.PRIME,)), NEXT_OPEN)
    assert decision == SEND


def test_a_message_late_inside_the_window_is_still_superseded() -> None:
    """Due at 10:00, inside the window, and still waiting at 11:00 with Prime due: superseded."""
    ten = NEXT_OPEN + timedelta(hours=1)
    decision = decide(facts(due_at=ten, later_steps_started=(Step.PRIME,)), ten + timedelta(hours=1))
    assert decision.verdict is Verdict.SKIP


@pytest.mark.parametrize(
    "step, started",
    [
        (Step.PRIME, (Step.FIRST, Step.WHATSAPP)),
        (Step.WHATSAPP, (Step.FIRST,)),
        (Step.WHATSAPP, (Step.WHATSAPP,)),
    ],
)
def test_earlier_or_same_steps_do_not_supersede(step: Step, started: tuple[Step, ...]) -> None:
    assert decide(facts(step=step, later_steps_started=started), DAY).verdict is Verdict.SEND


# -- order: the earliest failing gate decides ---------------------------------------------------

EVERYTHING_WRONG = dict(
    journey_stop_reason="journey stopped: checkout deleted",
    paid_reason="order #1001",
    consent_refusal="suppressed: STOP",
    connected=False,
    later_steps_started=(Step.PRIME,),
)


def test_stopped_journey_beats_every_later_gate() -> None:
    decision = decide(facts(due_at=NIGHT, **EVERYTHING_WRONG), NIGHT)
    assert decision == Decision(Verdict.CANCEL, "journey stopped: checkout deleted")


def test_paid_beats_consent_connection_window_and_frequency() -> None:
    wrong = EVERYTHING_WRONG | {"journey_stop_reason": None}
    assert decide(facts(due_at=NIGHT, **wrong), NIGHT) == Decision(Verdict.SKIP, "paid: order #1001")


def test_consent_beats_connection_window_and_frequency() -> None:
    wrong = EVERYTHING_WRONG | {"journey_stop_reason": None, "paid_reason": None}
    assert decide(facts(due_at=NIGHT, **wrong), NIGHT) == Decision(Verdict.SKIP, "suppressed: STOP")


def test_connection_beats_window_and_frequency() -> None:
    wrong = EVERYTHING_WRONG | {"journey_stop_reason": None, "paid_reason": None, "consent_refusal": None}
    decision = decide(facts(due_at=NIGHT, **wrong), NIGHT)
    assert decision.verdict is Verdict.SKIP
    assert decision.reason is not None and decision.reason.startswith("needs connection")


def test_window_beats_frequency() -> None:
    # Postponed, not skipped: at release every gate runs again (product.md §2).
    decision = decide(facts(step=Step.FIRST, due_at=NIGHT, later_steps_started=(Step.PRIME,)), NIGHT)
    assert decision.verdict is Verdict.POSTPONE
    assert decision.until == NEXT_OPEN


def test_released_message_is_checked_again() -> None:
    # Postponed at night; by the morning the customer paid: the release skips it.
    first = decide(facts(due_at=NIGHT), NIGHT)
    assert first.verdict is Verdict.POSTPONE
    released = decide(facts(due_at=first.until, paid_reason="order #7"), first.until)
    assert released == Decision(Verdict.SKIP, "paid: order #7")


def test_every_non_send_decision_has_a_reason() -> None:
    cases = [
        facts(due_at=DAY + timedelta(hours=1)),
        facts(journey_stop_reason="stopped"),
        facts(paid_reason="order"),
        facts(consent_refusal="no consent"),
        facts(connected=False),
        facts(due_at=NIGHT),
        facts(step=Step.FIRST, later_steps_started=(Step.WHATSAPP,)),
    ]
    for case in cases:
        now = NIGHT if case.due_at == NIGHT else DAY
        decision = decide(case, now)
        assert decision.verdict is not Verdict.SEND
        assert decision.reason, decision
        if decision.verdict is Verdict.POSTPONE:
            assert decision.until is not None and decision.until > now
        else:
            assert decision.until is None


def test_decide_is_pure() -> None:
    f = facts(due_at=NIGHT)
    assert decide(f, NIGHT) == decide(replace(f), NIGHT)
