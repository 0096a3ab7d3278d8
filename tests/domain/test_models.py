"""Message status moves (architecture.md, invariants): one way, with two named backward moves."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import product

import pytest

from shop_app.domain.models import (
    FINAL,
    PENDING,
    TRANSITIONS,
    Channel,
    Checkout,
    Status,
    can_move,
)

S = Status
#: How far along the one-way road each status is: scheduled → queued → sending → unknown → settled.
RANK = {
    S.SCHEDULED: 0,
    S.QUEUED: 1,
    S.SENDING: 2,
    S.UNKNOWN: 3,
    S.SENT: 4,
    S.FAILED: 4,
    S.SKIPPED: 4,
    S.CANCELLED: 4,
}
ALLOWED = {
    (S.SCHEDULED, S.QUEUED),
    (S.SCHEDULED, S.SKIPPED),
    (S.SCHEDULED, S.CANCELLED),
    (S.QUEUED, S.SENDING),
    (S.QUEUED, S.SCHEDULED),
    (S.QUEUED, S.SKIPPED),
    (S.QUEUED, S.CANCELLED),
    (S.QUEUED, S.FAILED),  # its send jobs broke or were lost MAX_JOB_ATTEMPTS times
    (S.SENDING, S.SENT),
    (S.SENDING, S.FAILED),
    (S.SENDING, S.UNKNOWN),
    (S.SENDING, S.SCHEDULED),
    (S.UNKNOWN, S.SENT),
    (S.UNKNOWN, S.FAILED),
}


def test_every_status_has_an_entry() -> None:
    assert set(TRANSITIONS) == set(Status)


def test_exactly_the_documented_moves() -> None:
    assert {(old, new) for old, new in product(Status, Status) if can_move(old, new)} == ALLOWED


@pytest.mark.parametrize("final", sorted(FINAL, key=lambda s: s.value))
def test_final_states_have_no_exits(final: Status) -> None:
    assert TRANSITIONS[final] == frozenset()
    assert not any(can_move(final, new) for new in Status)


def test_final_set() -> None:
    assert {S.SENT, S.FAILED, S.SKIPPED, S.CANCELLED} == FINAL
    assert S.UNKNOWN not in FINAL  # a provider callback can still settle it


def test_non_final_states_can_move() -> None:
    for status in set(Status) - FINAL:
        assert TRANSITIONS[status], status


def test_the_only_backward_moves_are_postponement_and_transient_failure() -> None:
    backward = {(old, new) for old, new in product(Status, Status) if can_move(old, new) and RANK[new] < RANK[old]}
    assert backward == {(S.QUEUED, S.SCHEDULED), (S.SENDING, S.SCHEDULED)}


def test_no_status_moves_to_itself() -> None:
    assert not any(can_move(s, s) for s in Status)


def test_no_shortcut_to_sending_or_sent() -> None:
    assert not can_move(S.SCHEDULED, S.SENDING)
    assert not can_move(S.SCHEDULED, S.SENT)
    assert not can_move(S.QUEUED, S.SENT)


def test_unknown_is_not_resent_nor_rescheduled() -> None:
    # A missed message beats a double text: unknown never goes back to be sent again.
    assert TRANSITIONS[S.UNKNOWN] == {S.SENT, S.FAILED}
    assert not can_move(S.UNKNOWN, S.SCHEDULED)
    assert not can_move(S.UNKNOWN, S.QUEUED)
    assert not can_move(S.UNKNOWN, S.SENDING)


def test_only_pending_rows_can_be_cancelled_or_skipped() -> None:
    for old in Status:
        assert can_move(old, S.CANCELLED) == (old in PENDING)
        assert can_move(old, S.SKIPPED) == (old in PENDING)


def test_pending_set() -> None:
    assert {S.SCHEDULED, S.QUEUED} == PENDING


def test_every_status_reaches_a_final_state() -> None:
    for start in Status:
        seen, frontier = {start}, [start]
        while frontier:
            for new in TRANSITIONS[frontier.pop()]:
                if new not in seen:
                    seen.add(new)
                    frontier.append(new)
        assert seen & FINAL, start


def test_every_status_is_reachable_from_scheduled() -> None:
    seen, frontier = {S.SCHEDULED}, [S.SCHEDULED]
    while frontier:
        for new in TRANSITIONS[frontier.pop()]:
            if new not in seen:
                seen.add(new)
                frontier.append(new)
    assert seen == set(Status)


def test_string_values_are_stable() -> None:
    # These strings are stored in the database and shown to merchants.
    assert {s.value for s in Status} == {
        "scheduled",
        "queued",
        "sending",
        "sent",
        "failed",
        "unknown",
        "skipped",
        "cancelled",
    }
    assert {c.value for c in Channel} == {"email", "push", "sms", "whatsapp"}


# -- checkout candidacy (product.md §1) ------------------------------------------------------------

T = datetime(2026, 3, 10, 14, 25, tzinfo=UTC)


@pytest.mark.parametrize(
    "email, phone, completed, candidate",
    [
        ("a@b.c", None, None, True),
        (None, "+34600111222", None, True),
        (None, None, None, False),
        ("", "", None, False),
        ("a@b.c", "+34600111222", T, False),
    ],
)
def test_candidate(email: str | None, phone: str | None, completed: datetime | None, candidate: bool) -> None:
    c = Checkout(token="t", updated_at=T, email=email, phone=phone, completed_at=completed)
    assert c.is_candidate is candidate
    assert c.reachable is bool(email or phone)
