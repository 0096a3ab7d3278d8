"""The operator's retry (`reclaim retry`) in the outbox: `failed`/`unknown → scheduled` only, by an
explicit decision the app never makes itself (domain.models.OPERATOR_MOVES), the row made fresh
for its next send. The command's refusals are tested through the CLI (tests/cli/test_operator.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import product

from shop_app.domain.models import OPERATOR_MOVES, Status, can_move, operator_can_move
from shop_app.recovery import outbox
from shop_app.storage.database import transaction
from shop_app.storage.tables import Message

NOW = datetime(2026, 3, 2, 19, 0, tzinfo=UTC)


def test_the_operator_may_only_send_a_failed_or_unknown_row_again():
    moves = {(old, new) for old, new in product(Status, Status) if operator_can_move(old, new)}
    assert moves == {(Status.FAILED, Status.SCHEDULED), (Status.UNKNOWN, Status.SCHEDULED)}
    assert set(OPERATOR_MOVES) == set(outbox.RETRYABLE)
    assert not any(can_move(old, new) for old, new in moves)  # never the app's own move


def _failed_message(store) -> int:
    store.deliver("checkouts/create", store.checkout("c1", "2026-03-02T19:00:00+01:00"))
    message_id = store.message(step="first")["id"]
    with transaction(store.rt.sessions) as session:
        assert outbox.queue(session, message_id, "job-1", NOW)
        fields = {"recipient": "ana@example.com", "subject": "s", "body": "b", "note": None}
        assert outbox.claim(session, message_id, "job-1", NOW, **fields)
        assert outbox.mark_unknown(session, message_id, "unknown: the provider call broke")
        assert outbox.mark_failed(session, message_id, "failed: 550 mailbox full")
    return message_id


def test_a_retried_row_is_scheduled_fresh_with_the_reason(store):
    message_id = _failed_message(store)
    later = NOW + timedelta(hours=2)
    with transaction(store.rt.sessions) as session:
        session.get_one(Message, message_id).provider_id = "old-provider-id"
    with transaction(store.rt.sessions) as session:
        assert outbox.retry_by_operator(session, message_id, later, "retried by the operator (was failed: …)")
        assert not outbox.retry_by_operator(session, message_id, later, "again")  # scheduled now: no move
    with transaction(store.rt.sessions) as session:
        row = session.get_one(Message, message_id)
        assert (row.status, row.due_at, row.reason) == ("scheduled", later, "retried by the operator (was failed: …)")
        assert (row.job_id, row.job_failures, row.provider_id, row.sending_at, row.attempts) == (None, 0, None, None, 1)


def test_a_row_not_failed_or_unknown_is_never_moved(store):
    store.deliver("checkouts/create", store.checkout("c1", "2026-03-02T19:00:00+01:00"))
    message_id = store.message(step="first")["id"]
    with transaction(store.rt.sessions) as session:
        assert not outbox.retry_by_operator(session, message_id, NOW, "retried")
    assert store.message(step="first")["reason"] is None
