"""Every send outcome is one log line whose extra keys say what happened (event, shop, message,
job, channel, outcome, the stored reason), with no address, name or token in it."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import jobs.send

T0 = datetime(2026, 3, 2, 18, 0, tzinfo=UTC)
EMAIL = "lena.logs@example.com"
KEYS = ("event", "shop", "message_id", "job_id", "channel", "outcome", "reason")


def send_records(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if getattr(r, "event", None) in ("send", "skip", "wait", "failure")]


def facts(record: logging.LogRecord) -> dict:
    return {key: getattr(record, key) for key in KEYS}


def test_a_sent_message_logs_one_send_line(rt, store, caplog):
    caplog.set_level(logging.INFO)
    store.deliver("checkouts/create", store.checkout("log-1", T0.isoformat(), email=EMAIL, phone=None))
    store.tick(T0 + timedelta(hours=1, minutes=1))
    message = store.message(step="first")
    assert message["status"] == "sent"
    [record] = send_records(caplog)
    assert record.levelno == logging.INFO
    assert facts(record) == {
        "event": "send", "shop": store.domain, "message_id": message["id"], "job_id": record.job_id,
        "channel": "email", "outcome": "sent", "reason": None,
    }  # fmt: skip
    assert record.job_id.startswith("send-")
    assert EMAIL not in caplog.text


def test_a_skip_a_wait_and_a_broken_run_each_log_their_line(rt, store, caplog, monkeypatch):
    caplog.set_level(logging.INFO)
    store.deliver("checkouts/create", store.checkout("log-2", T0.isoformat(), email=EMAIL, phone=None))
    store.admin_api.add_order(store.domain, checkout_token="log-2", email=EMAIL, created_at=T0 + timedelta(minutes=5))
    store.tick(T0 + timedelta(hours=1, minutes=1))
    [paid] = send_records(caplog)
    assert (paid.event, paid.outcome, paid.getMessage()) == (
        "skip",
        "skipped",
        f"message {paid.message_id}: paid elsewhere",
    )
    assert paid.reason == store.message(step="first")["reason"]

    caplog.clear()
    store.deliver("checkouts/create", store.checkout("log-3", T0.isoformat(), email="other@example.com", phone=None))

    def broken(*args, **kwargs):
        raise ZeroDivisionError(EMAIL)

    monkeypatch.setattr(jobs.send, "compose", broken)
    store.tick(T0 + timedelta(hours=1, minutes=2))
    [failure] = send_records(caplog)
    assert (failure.levelno, failure.event, failure.outcome, failure.channel) == (
        logging.WARNING, "failure", "scheduled", "email",
    )  # fmt: skip
    assert failure.reason.startswith("attempt 1 of") and failure.shop == store.domain
    assert EMAIL not in caplog.text
