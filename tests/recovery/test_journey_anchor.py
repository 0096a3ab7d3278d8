"""A journey's anchor (`journeys.first_due_at`, the report's conversion rule: domain/incremental.py)
is the earliest planned due time of its messages, kept by the outbox as the planner plans and
moves them; the report reads it instead of its messages (migration 0022)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from shop_app.storage.database import transaction
from shop_app.storage.tables import Journey, Message


def _anchor_and_earliest(store) -> tuple:
    with transaction(store.rt.sessions) as session:
        journey = session.scalars(select(Journey).where(Journey.flow == "recovery")).one()
        earliest = session.scalar(select(func.min(Message.due_at)).where(Message.journey_id == journey.id))
        return journey.first_due_at, earliest


def test_the_anchor_is_the_earliest_planned_message_and_follows_a_reschedule(store):
    store.deliver("checkouts/create", store.checkout("c1", "2026-03-02T10:00:00+01:00"))
    planned = store.messages()
    assert len(planned) > 1
    anchor, earliest = _anchor_and_earliest(store)
    assert anchor is not None and anchor == earliest == min(datetime.fromisoformat(m["due_at"]) for m in planned)

    # The checkout changes a day later: the planner moves the scheduled messages, and the anchor with them.
    store.deliver("checkouts/update", store.checkout("c1", "2026-03-03T10:00:00+01:00"))
    moved, _ = _anchor_and_earliest(store)
    assert moved == min(datetime.fromisoformat(m["due_at"]) for m in store.messages())
    assert moved > anchor
