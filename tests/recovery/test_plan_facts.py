"""A replan reads its facts in one statement and writes its journey once (issue 13, item 6:
recovery/plan_facts.py, plan_writes.py, journeys.replan). What it computes in memory must be what
the rows say: the journey's anchor is the earliest due time of its messages, and its conversion
is what recovery/conversion.refresh computes from the orders."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, update

from shop_app.recovery import conversion, plan_writes
from shop_app.storage.database import transaction
from shop_app.storage.tables import CheckoutRow, Journey, Message

T0 = "2026-03-02T10:00:00+01:00"
NEXT_DAY = "2026-03-03T10:00:00+01:00"
LATER = "2026-03-03T12:00:00+01:00"
#: The fixture's customer (id 7001), buying under another address: the payment rule (checkout,
#: email, phone) does not see her, the conversion rule (customer id too) does.
ELSEWHERE = {"customer": {"id": 7001, "email": "other@example.com"}, "email": "other@example.com", "phone": None}


def journey_of(store, token: str) -> tuple:
    """(conversion_days, first_due_at, earliest due time) as stored, then conversion_days as
    conversion.refresh computes it from the orders."""
    with transaction(store.rt.sessions) as session:
        journey = session.scalars(
            select(Journey).join(CheckoutRow, CheckoutRow.id == Journey.checkout_id).where(CheckoutRow.token == token)
        ).one()
        earliest = session.scalar(select(func.min(Message.due_at)).where(Message.journey_id == journey.id))
        stored = (journey.conversion_days, journey.first_due_at, earliest)
        conversion.refresh(session, journey.shop_id, [journey.id])
        session.refresh(journey)
        return stored, journey.conversion_days


def test_the_conversion_a_replan_writes_is_the_one_the_orders_give(store):
    store.deliver("checkouts/create", store.checkout("c1", T0))
    store.deliver("orders/paid", store.order(None, NEXT_DAY, id=8101, name="#8101", **ELSEWHERE))
    (days, first, earliest), recomputed = journey_of(store, "c1")
    assert days == recomputed == 1 and first == earliest  # a day after its first message was due

    # A checkout abandoned before that order, ingested after it: its new journey converts at once.
    store.deliver("checkouts/create", store.checkout("c2", T0))
    (days, anchor, earliest), recomputed = journey_of(store, "c2")
    assert days == recomputed == 1 and anchor == earliest

    # c1 is updated two hours on: its messages move, still before the order, which still converts it.
    store.deliver("checkouts/update", store.checkout("c1", "2026-03-02T12:00:00+01:00"))
    (days, moved, earliest), recomputed = journey_of(store, "c1")
    assert days == recomputed == 1 and moved == earliest > first

    # Then after the order: its messages move past it, and the journey no longer converts.
    store.deliver("checkouts/update", store.checkout("c1", LATER))
    (days, anchor, earliest), recomputed = journey_of(store, "c1")
    assert days is None and recomputed is None and anchor == earliest


def test_a_message_that_moved_on_since_it_was_read_is_left_alone_and_the_caller_told(store):
    store.deliver("checkouts/create", store.checkout("c1", T0))
    with transaction(store.rt.sessions) as reader:
        messages = list(reader.scalars(select(Message).order_by(Message.id)))
        assert len(messages) >= 2
        with transaction(store.rt.sessions) as other:  # as a dispatcher would, between the read and the write
            other.execute(update(Message).where(Message.id == messages[0].id).values(status="queued"))
        due = {m.id: m.due_at + timedelta(hours=1) for m in messages}
        abandoned = messages[0].journey_abandoned_at + timedelta(hours=1)
        first, others = messages[0].id, [m.id for m in messages[1:]]
        assert plan_writes.update_messages(reader, messages, due, abandoned, "moved") is False
    rows = {m["id"]: m for m in store.messages()}
    assert rows[first]["status"] == "queued" and rows[first]["reason"] != "moved"
    assert all(rows[i]["reason"] == "moved" for i in others)
