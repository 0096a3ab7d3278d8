"""Rules the tables enforce themselves."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from shop_app.storage.database import insert_new, transaction
from shop_app.storage.tables import Message, MessageEvent, Shop


def test_a_message_status_only_moves_one_way(store):
    store.deliver("checkouts/create", store.checkout("c1", "2026-03-02T19:00:00+01:00"))
    store.tick("2026-03-02T19:00:00+00:00")
    with (
        pytest.raises(ValueError, match="may not move from sent to scheduled"),
        transaction(store.rt.sessions) as session,
    ):
        message = session.get(Message, store.message(step="first")["id"])
        message.status = "scheduled"
    assert store.message(step="first")["status"] == "sent"


def test_insert_new_keeps_the_first_row_and_says_whether_it_was_new(store):
    with transaction(store.rt.sessions) as session:
        shop_id = session.scalars(select(Shop.id).where(Shop.domain == store.domain)).one()
        event = {"shop_id": shop_id, "provider": "twilio", "provider_id": "SM1", "event": "delivered"}
        assert insert_new(session, MessageEvent, **event, detail="first") is True
        assert insert_new(session, MessageEvent, **event, detail="second") is False
        assert insert_new(session, MessageEvent, **{**event, "event": "read"}) is True
    with transaction(store.rt.sessions) as session:
        details = session.scalars(select(MessageEvent.detail).order_by(MessageEvent.id)).all()
    assert details == ["first", None]
