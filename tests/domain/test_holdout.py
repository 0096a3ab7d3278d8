"""The holdout group's assignment (issue 12): a keyed hash of the checkout token, stable, close
to the set share, and the default share by the validation cycle."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shop_app.domain.gates import SEND, Decision, SendFacts, Verdict, decide
from shop_app.domain.holdout import REASON, holdout_percent, in_control
from shop_app.domain.models import Step

KEY = "a-server-side-secret-of-some-length"
TOKENS = [f"c{n:05d}{'abcdef'[n % 6]}0f9e8d7c6b5a4" for n in range(10_000)]
INSTALLED = datetime(2026, 11, 1, 9, 30, tzinfo=UTC)


def share(percent: int, key: str = KEY) -> float:
    return 100 * sum(in_control(key, token, percent) for token in TOKENS) / len(TOKENS)


def test_the_same_token_always_gets_the_same_answer() -> None:
    first = [in_control(KEY, token, 10) for token in TOKENS[:500]]
    again = [in_control(KEY, token, 10) for token in TOKENS[:500]]
    assert first == again
    assert any(first) and not all(first)


@pytest.mark.parametrize("percent", [1, 5, 10, 25, 50])
def test_the_control_share_is_close_to_the_set_percent_over_10000_tokens(percent: int) -> None:
    assert abs(share(percent) - percent) <= 1.5


def test_zero_percent_never_holds_a_journey_out() -> None:
    assert share(0) == 0


def test_a_larger_share_keeps_every_journey_a_smaller_one_held_out() -> None:
    """Raising the share only adds control journeys: the hash point is compared with the share."""
    small = {t for t in TOKENS if in_control(KEY, t, 5)}
    large = {t for t in TOKENS if in_control(KEY, t, 20)}
    assert small < large


def test_another_key_assigns_other_journeys() -> None:
    ours = [in_control(KEY, token, 10) for token in TOKENS]
    theirs = [in_control(KEY + "-other", token, 10) for token in TOKENS]
    assert ours != theirs
    both = sum(a and b for a, b in zip(ours, theirs, strict=True))
    # Independent draws: about 1 % of tokens are control under both keys, far from the 10 % of the same key.
    assert both < 0.03 * len(TOKENS)


def test_the_default_is_10_percent_in_the_first_15_days_after_install_0_outside_them() -> None:
    assert holdout_percent(None, INSTALLED, INSTALLED) == 10
    assert holdout_percent(None, INSTALLED, INSTALLED - timedelta(seconds=1)) == 0  # abandoned before install
    assert holdout_percent(None, INSTALLED, INSTALLED + timedelta(days=15) - timedelta(seconds=1)) == 10
    assert holdout_percent(None, INSTALLED, INSTALLED + timedelta(days=15)) == 0
    assert holdout_percent(None, INSTALLED, INSTALLED + timedelta(days=200)) == 0


def test_an_explicit_share_always_applies() -> None:
    assert holdout_percent(0, INSTALLED, INSTALLED) == 0
    assert holdout_percent(30, INSTALLED, INSTALLED + timedelta(days=200)) == 30


def test_the_reason_is_the_one_the_messages_carry() -> None:
    assert REASON == "holdout (control group)"


# -- the send gate ------------------------------------------------------------------------------


def gate_facts(**overrides: object) -> SendFacts:
    """A message that every other gate lets through: due, consented, connected, no window."""
    values: dict = {
        "step": Step.FIRST,
        "due_at": INSTALLED,
        "journey_stop_reason": None,
        "paid_reason": None,
        "consent_refusal": None,
        "connected": True,
        "window": None,
        "holdout": True,
    }
    values.update(overrides)
    return SendFacts(**values)


def test_a_control_journeys_message_is_skipped_with_the_holdout_reason() -> None:
    assert decide(gate_facts(holdout=False), INSTALLED) == SEND
    assert decide(gate_facts(), INSTALLED) == Decision(Verdict.SKIP, "holdout (control group)")
    # Even when it could not be sent anyway: control is why nothing went, not consent or the channel.
    refused = gate_facts(consent_refusal="no consent", connected=False, due_at=INSTALLED + timedelta(hours=1))
    assert decide(refused, INSTALLED) == Decision(Verdict.SKIP, REASON)


def test_a_stopped_or_paid_control_journey_says_so_first() -> None:
    """Conversion is tracked for control journeys as for treated ones: those reasons come first."""
    assert decide(gate_facts(journey_stop_reason="checkout deleted"), INSTALLED).verdict is Verdict.CANCEL
    assert decide(gate_facts(paid_reason="#1001"), INSTALLED) == Decision(Verdict.SKIP, "paid: #1001")
