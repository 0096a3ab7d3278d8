"""The outbox owns every status change of a message: guarded, one-way, and nowhere else."""

from __future__ import annotations

import ast
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from shop_app.domain.models import TRANSITIONS, Status
from shop_app.recovery import outbox
from shop_app.storage.database import transaction
from shop_app.storage.tables import Message

ROOT = Path(__file__).resolve().parents[2]
OUTBOX = ROOT / "shop_app" / "recovery" / "outbox.py"
SOURCE_PACKAGES = ("shop_app", "jobs", "webhooks", "admin_ui", "storefront", "bench")
NOW = datetime(2026, 3, 2, 19, 0, tzinfo=UTC)


# -- nobody else writes a message's status -----------------------------------------------------


def _is_message(node: ast.expr) -> bool:
    name = node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else ""
    return name == "Message"


def _names_a_message(node: ast.expr) -> bool:
    """`message`, `msg`, `self.message`, `rows[0]`…: an expression that names a message row."""
    text = ast.unparse(node).lower()
    return "message" in text or "msg" in text


def _status_targets(target: ast.expr) -> list[ast.Attribute]:
    if isinstance(target, ast.Tuple | ast.List):
        return [found for element in target.elts for found in _status_targets(element)]
    if isinstance(target, ast.Attribute) and target.attr == "status" and _names_a_message(target.value):
        return [target]
    return []


def _call_writes(node: ast.Call) -> str | None:
    called = ast.unparse(node.func).rsplit(".", 1)[-1]
    if called in {"update", "insert"} and node.args and _is_message(node.args[0]):
        return f"{called}(Message)"
    if _is_message(node.func):
        return "Message(...) outside the outbox"
    args = node.args
    if called == "setattr" and len(args) >= 2 and _names_a_message(args[0]) and ast.unparse(args[1]) == "'status'":
        return "setattr(…, 'status', …)"
    return None


#: Raw SQL that sets the messages' `status` column (not delivery_status or another *_status).
_RAW_STATUS_WRITE = re.compile(r"update\s+messages\s+set\b.*?(?<![\w.])status\s*=", re.I | re.S)


def status_writes(source: str) -> list[str]:
    """Every place in `source` that could write a message's status: an UPDATE or INSERT of the
    Message table, a Message(...) built by hand, `message.status = …`, setattr, or raw SQL."""
    found = []
    for node in ast.walk(ast.parse(source)):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Call) and (write := _call_writes(node)):
            found.append(f"line {line}: {write}")
        elif isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            found += [f"line {line}: {ast.unparse(t)} = …" for target in targets for t in _status_targets(target)]
        elif isinstance(node, ast.Constant) and _RAW_STATUS_WRITE.search(str(node.value)):
            found.append(f"line {line}: raw SQL updating messages")
    return found


def test_no_module_but_the_outbox_writes_a_message_status():
    offenders = {
        str(path.relative_to(ROOT)): problems
        for package in SOURCE_PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        if path != OUTBOX and (problems := status_writes(path.read_text(encoding="utf-8")))
    }
    assert offenders == {}


@pytest.mark.parametrize(
    "source",
    [
        "session.execute(update(Message).where(Message.id == 1).values(status='sent'))",
        "sa.insert(tables.Message).values(status='sent')",
        "session.add(Message(shop_id=1, status='scheduled'))",
        "message.status = 'sent'",
        "message.status, message.reason = 'skipped', 'why'",
        "self.message.status = 'failed'",
        "setattr(message, 'status', 'sent')",
        "conn.exec_driver_sql('UPDATE  messages SET status = 1')",
    ],
)
def test_the_ownership_check_catches_every_way_of_writing(source):
    assert len(status_writes(source)) == 1


@pytest.mark.parametrize(
    "source",
    [
        "journey.status = 'stopped'",
        "delivery.status, delivery.reason = 'processed', None",
        "select(Message.status).where(Message.id == 1)",
        "shop.status = 'installed'",
        "op.execute(\"UPDATE messages SET delivery_status = 'clicked' WHERE id = 1\")",
    ],
)
def test_other_statuses_and_reads_are_not_flagged(source):
    assert status_writes(source) == []


# -- guarded, one-way moves --------------------------------------------------------------------


def _first_message(store) -> int:
    store.deliver("checkouts/create", store.checkout("c1", "2026-03-02T19:00:00+01:00"))
    return store.message(step="first")["id"]


def test_a_move_the_domain_does_not_allow_is_refused_before_touching_the_row(store):
    message_id = _first_message(store)
    illegal = [(old, new) for old in Status for new in Status if new not in TRANSITIONS[old] and new is not old]
    for old, new in illegal:
        with transaction(store.rt.sessions) as session, pytest.raises(outbox.IllegalTransition):
            outbox.transition(session, message_id, [old], new)
    assert store.message(step="first")["status"] == "scheduled"


def test_a_guard_that_no_longer_holds_changes_nothing(store):
    message_id = _first_message(store)
    with transaction(store.rt.sessions) as session:
        assert outbox.queue(session, message_id, "job-1", NOW) is True
        assert outbox.queue(session, message_id, "job-2", NOW) is False  # already queued
        assert outbox.postpone(session, message_id, "job-2", NOW, "another job's row") is False
        assert outbox.settle(session, message_id, "job-1", Status.SKIPPED, "x" * 5000) is True
        assert outbox.settle(session, message_id, "job-1", Status.CANCELLED, "too late") is False
    message = store.message(step="first")
    assert (message["status"], len(message["reason"])) == ("skipped", outbox.MAX_REASON)


def test_a_claim_needs_the_holding_job_and_counts_the_attempt(store):
    message_id = _first_message(store)
    with transaction(store.rt.sessions) as session:
        outbox.queue(session, message_id, "job-1", NOW)
        fields = {"recipient": "ana@example.com", "subject": "s", "body": "b", "note": None}
        assert outbox.claim(session, message_id, "job-2", NOW, **fields) is False
        assert outbox.claim(session, message_id, "job-1", NOW, **fields) is True
        assert outbox.claim(session, message_id, "job-1", NOW, **fields) is False
    with transaction(store.rt.sessions) as session:
        row = session.get_one(Message, message_id)
        assert (row.status, row.attempts, row.sending_at) == ("sending", 1, NOW)


def test_an_attribute_write_of_the_status_is_refused(store):
    message_id = _first_message(store)
    with (
        pytest.raises(ValueError, match="status changes go through shop_app/recovery/outbox.py"),
        transaction(store.rt.sessions) as session,
    ):
        session.get_one(Message, message_id).status = "queued"
    assert store.message(step="first")["status"] == "scheduled"
