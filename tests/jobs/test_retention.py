"""Retention (issue 13, point 7; jobs/retention.py): after RECLAIM_RETENTION_DAYS the reconciler
purges processed webhook deliveries, message events and finished messages' content, in batches,
and keeps what the report and the one-send-per-step rule read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

import jobs.retention
from jobs.retention import Purged, purge
from shop_app.config import ConfigurationError, Settings
from shop_app.storage.database import transaction
from shop_app.storage.tables import Message, MessageEvent, WebhookDelivery
from tests.webhooks.test_clicks import path_for


def counts(rt) -> dict[str, int]:
    with transaction(rt.sessions) as session:
        return {
            "deliveries": session.scalar(select(func.count()).select_from(WebhookDelivery)),
            "events": session.scalar(select(func.count()).select_from(MessageEvent)),
            "with content": session.scalar(select(func.count()).where(Message.body.is_not(None))),
            "messages": session.scalar(select(func.count()).select_from(Message)),
        }


def send_first_email_now(store) -> int:
    """A checkout abandoned 90 minutes ago, its first email sent now (the wall clock's: deliveries
    and events are dated by it). The first step only: a WhatsApp or Prime message would be sent at
    whichever later tick falls in the shop's window, adding events the test does not expect."""
    store.set_settings({"recovery": {"whatsapp": {"enabled": False}, "prime": {"enabled": False}}})
    now = datetime.now(UTC).replace(microsecond=0)
    store.deliver("checkouts/create", store.checkout("c1", (now - timedelta(minutes=90)).isoformat()))
    store.tick(now)
    row = store.message(step="first", channel="email")
    assert (row["status"], row["reason"]) == ("sent", None)
    return row["id"]


def test_the_reconciler_purges_old_rows_and_keeps_what_the_report_reads(store, client, rt, monkeypatch):
    message_id = send_first_email_now(store)
    assert client.get(path_for(rt, message_id)).status_code == 302  # a click row
    before = counts(rt)
    assert before["deliveries"] == 1 and before["events"] == 1 and before["with content"] == 1  # the click

    store.tick(datetime.now(UTC) + timedelta(days=89))  # within 90 days of everything: nothing goes
    assert counts(rt) == before

    monkeypatch.setattr(jobs.retention, "BATCH", 1)  # a full batch per table, so the pass asks again
    store.tick(datetime.now(UTC) + timedelta(days=91))
    assert counts(rt) == {"deliveries": 0, "events": 0, "with content": 0, "messages": before["messages"]}
    row = store.message(step="first", channel="email")
    assert (row["status"], row["delivery_status"]) == ("sent", "clicked")  # what the report counts stays
    with transaction(rt.sessions) as session:
        emptied = session.get(Message, message_id)
        assert (emptied.recipient, emptied.subject, emptied.body) == (None, None, None)


def test_a_delivery_waiting_for_its_order_and_scheduled_messages_are_kept(store, rt):
    store.deliver("checkouts/create", store.checkout("c1", "2026-03-02T19:00:00+01:00"))
    store.deliver("refunds/create", {"id": 1, "order_id": 4242, "transactions": []})  # waits for order 4242
    with transaction(rt.sessions) as session:
        assert session.scalar(select(func.count()).where(WebhookDelivery.waiting_for == "4242")) == 1
    purged = purge(rt.sessions, 90, datetime.now(UTC) + timedelta(days=400))
    assert purged == Purged(deliveries=1)  # the processed checkouts/create; the waiting refund stays
    with transaction(rt.sessions) as session:
        assert session.scalars(select(WebhookDelivery.topic)).all() == ["refunds/create"]
        assert session.scalar(select(func.count()).where(Message.status == "scheduled")) > 0


def test_zero_keeps_everything(store, rt):
    send_first_email_now(store)
    before = counts(rt)
    assert purge(rt.sessions, 0, datetime.now(UTC) + timedelta(days=4000)) == Purged()
    assert counts(rt) == before


@pytest.mark.parametrize("value", ["-1", "ninety", "3651"])
def test_a_bad_retention_setting_is_refused_by_name(value):
    with pytest.raises(ConfigurationError, match="RECLAIM_RETENTION_DAYS must be a whole number"):
        Settings.from_env({"RECLAIM_RETENTION_DAYS": value})


def test_the_setting_is_read_from_the_environment():
    assert Settings.from_env({"RECLAIM_RETENTION_DAYS": "30"}).retention_days == 30
    assert Settings.from_env({}).retention_days == 90
