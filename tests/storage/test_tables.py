"""Rules the tables enforce themselves."""

from __future__ import annotations

import pytest

from shop_app.storage.database import transaction
from shop_app.storage.tables import Message


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
