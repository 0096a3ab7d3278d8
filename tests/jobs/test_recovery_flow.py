"""The recovery spine end to end: signed webhooks over the real routes, real Redis,
a real database, and simulated time driven through the dispatcher tick."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from jobs.dispatch import dispatch
from shop_app.storage.database import transaction
from shop_app.storage.tables import CheckoutRow, Journey, Message, Suppression, WebhookDelivery

ABANDONED = "2026-03-02T19:00:00+01:00"  # a Monday evening in Madrid


def test_first_stimulus_sends_email_after_one_hour_with_link_and_cart(store):
    store.deliver("checkouts/create", store.checkout("c1", ABANDONED))
    planned = store.messages()
    assert {(m["step"], m["channel"]) for m in planned} == {
        ("first", "email"),
        ("whatsapp", "whatsapp"),
        ("prime", "sms"),
        ("prime", "whatsapp"),
    }
    assert store.message(step="first")["due_at"] == "2026-03-02T19:00:00+00:00"  # 19:00 UTC = 20:00 Madrid

    store.tick("2026-03-02T18:59:00+00:00")
    assert store.outbox() == []
    store.tick("2026-03-02T19:00:00+00:00")
    sent = store.outbox()
    assert [m["channel"] for m in sent] == ["email"]
    assert sent[0]["to"] == "ana@example.com"
    assert "Demo Shop" in sent[0]["subject"]
    assert store.links(sent[0]["body"]) == ["https://demo-shop.myshopify.com/71234/checkouts/ac/c1/recover?key=k1"]
    assert "- 1 x Linen shirt (49.90 EUR)" in sent[0]["body"] and "Total: 84.90 EUR" in sent[0]["body"]
    assert store.message(step="first")["status"] == "sent"


LATE = "2026-03-02T21:30:00+01:00"  # 21:30 Madrid: WhatsApp falls due at 23:30, outside 09:00–21:00


def every_final_row_has_a_reason(store) -> None:
    for row in store.messages():
        if row["status"] in ("skipped", "cancelled", "unknown", "failed"):
            assert row["reason"], row


def test_orders_paid_before_prime_cancels_prime_with_the_reason(store):
    store.deliver("checkouts/create", store.checkout("c1", ABANDONED))
    store.tick("2026-03-02T19:00:00+00:00")  # first reminder goes out
    store.deliver("orders/paid", store.order("c1", "2026-03-02T22:00:00+01:00", name="#1001"))

    prime = store.messages(step="prime")
    assert {m["status"] for m in prime} == {"cancelled"}
    for m in prime:
        assert m["reason"].startswith("paid: order #1001 placed 2026-03-02 21:00 UTC, paid")
    store.tick("2026-03-04T12:00:00+00:00")  # long after every step was due
    assert [m["channel"] for m in store.outbox()] == ["email"]
    with transaction(store.rt.sessions) as session:
        # The paid order of this captured customer also starts a referral journey: read the recovery one.
        journey = session.scalar(select(Journey).where(Journey.flow == "recovery"))
        assert journey.status == "converted" and str(journey.recovered_revenue) == "84.90"
    every_final_row_has_a_reason(store)


def test_an_order_that_arrives_before_the_checkout_webhook_means_nothing_is_planned(store):
    store.deliver("orders/paid", store.order("c1", "2026-03-02T19:30:00+01:00"))
    store.deliver("checkouts/update", store.checkout("c1", ABANDONED))
    assert store.messages(flow="recovery") == []
    with transaction(store.rt.sessions) as session:
        reasons = [d.reason for d in session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id))]
    assert reasons[1].startswith("paid: order #1001")


def test_the_same_customer_paying_by_another_checkout_stops_the_journey(store):
    store.deliver("checkouts/create", store.checkout("c1", ABANDONED))
    store.deliver("orders/create", store.order("other-checkout", "2026-03-02T19:40:00+01:00", name="#1002"))
    assert {m["status"] for m in store.messages(flow="recovery")} == {"cancelled"}
    store.tick("2026-03-04T12:00:00+00:00")
    assert store.outbox() == []


def test_payment_known_locally_is_checked_again_at_send_time(store):
    """An order recorded without converting the journey (e.g. matched only at send time)."""
    store.deliver("checkouts/create", store.checkout("c1", ABANDONED))
    with transaction(store.rt.sessions) as session:  # simulate an order stored by a crashed ingest
        from shop_app.domain.payloads import parse_order
        from shop_app.recovery.orders import store_order
        from shop_app.shopify.shops import get_shop

        store_order(
            session, get_shop(session, store.domain), parse_order(store.order("c1", "2026-03-02T19:10:00+01:00"))
        )
    store.tick("2026-03-02T19:00:00+00:00")
    assert store.outbox() == []
    assert store.message(step="first")["status"] == "skipped"  # refused by the payment gate
    assert store.message(step="first")["reason"].startswith("paid: order #1001")
    assert {m["status"] for m in store.messages(step="prime")} == {"cancelled"}  # the journey stopped


def test_whatsapp_due_at_night_waits_for_the_window_and_is_sent_at_nine(store):
    store.deliver("checkouts/create", store.checkout("night", LATE))
    whatsapp = store.message(step="whatsapp")
    assert whatsapp["due_at"] == "2026-03-02T22:30:00+00:00"  # 23:30 in Madrid

    store.tick("2026-03-02T22:30:00+00:00")
    whatsapp = store.message(step="whatsapp")
    assert whatsapp["status"] == "scheduled"
    assert whatsapp["due_at"] == "2026-03-03T08:00:00+00:00"  # 09:00 in Madrid
    assert whatsapp["reason"] == "outside delivery window; postponed to Tue 2026-03-03 09:00 Europe/Madrid"
    assert [m["channel"] for m in store.outbox()] == ["email"]  # email is not windowed

    store.tick("2026-03-03T07:59:00+00:00")
    assert store.message(step="whatsapp")["status"] == "scheduled"
    store.tick("2026-03-03T08:00:00+00:00")
    assert store.message(step="whatsapp")["status"] == "sent"
    assert [m["channel"] for m in store.outbox()] == ["email", "whatsapp"]


def test_a_postponed_message_runs_every_gate_again_when_released(store):
    store.deliver("checkouts/create", store.checkout("paid-overnight", LATE))
    store.deliver(
        "checkouts/create", store.checkout("stop-overnight", LATE, email="bo@example.com", phone="+34600999888")
    )
    store.tick("2026-03-02T22:30:00+00:00")
    assert {m["status"] for m in store.messages(step="whatsapp")} == {"scheduled"}

    # Overnight: one customer pays, the other texts STOP (suppressed).
    store.deliver("orders/paid", store.order("paid-overnight", "2026-03-03T02:00:00+01:00"))
    with transaction(store.rt.sessions) as session:
        shop_id = session.scalar(select(CheckoutRow.shop_id).limit(1))
        session.add(Suppression(shop_id=shop_id, channel="whatsapp", address="+34600999888", reason="replied STOP"))

    store.tick("2026-03-03T08:00:00+00:00")
    paid = store.message(step="whatsapp", checkout_token="paid-overnight")
    stopped = store.message(step="whatsapp", checkout_token="stop-overnight")
    assert paid["status"] == "cancelled" and paid["reason"].startswith("paid:")
    assert stopped["status"] == "skipped" and stopped["reason"] == "suppressed: replied STOP"
    assert [m["channel"] for m in store.outbox()] == ["email", "email"]


def test_repeated_checkout_updates_give_one_journey_and_move_unsent_steps(store):
    store.deliver("checkouts/create", store.checkout("c1", ABANDONED))
    store.deliver("checkouts/update", store.checkout("c1", "2026-03-02T19:20:00+01:00"))
    store.deliver("checkouts/update", store.checkout("c1", "2026-03-02T19:40:00+01:00"))
    with transaction(store.rt.sessions) as session:
        assert len(session.scalars(select(Journey)).all()) == 1
    rows = store.messages()
    assert len(rows) == 4
    assert store.message(step="first")["due_at"] == "2026-03-02T19:40:00+00:00"
    assert store.message(step="first")["reason"] == "rescheduled: the checkout was updated"

    store.tick("2026-03-02T19:40:00+00:00")
    store.deliver("checkouts/update", store.checkout("c1", "2026-03-02T21:00:00+01:00"))
    assert store.message(step="first")["status"] == "sent"  # a sent step never moves or repeats
    assert store.message(step="whatsapp")["due_at"] == "2026-03-02T22:00:00+00:00"
    for now in ("2026-03-02T22:00:00+00:00", "2026-03-03T08:00:00+00:00", "2026-03-03T12:00:00+00:00"):
        store.tick(now)
    assert [(m["channel"]) for m in store.outbox()] == ["email", "whatsapp", "sms", "whatsapp"]
    assert {m["status"] for m in store.messages()} == {"sent"}


def test_an_older_update_never_overwrites_newer_checkout_state(store):
    store.deliver("checkouts/update", store.checkout("c1", "2026-03-02T19:40:00+01:00", email="new@example.com"))
    store.deliver("checkouts/update", store.checkout("c1", ABANDONED, email="old@example.com"))
    with transaction(store.rt.sessions) as session:
        row = session.scalar(select(CheckoutRow))
        assert row.email == "new@example.com"
        assert row.shopify_updated_at == datetime(2026, 3, 2, 18, 40, tzinfo=UTC)
        last = session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id.desc())).first()
        assert last.reason.startswith("stale: updated_at 2026-03-02 18:00:00 is older than the stored")
    assert store.message(step="first")["due_at"] == "2026-03-02T19:40:00+00:00"


def test_two_dispatcher_ticks_racing_give_one_send(store):
    for n in range(10):
        store.deliver("checkouts/create", store.checkout(f"c{n}", ABANDONED, email=f"c{n}@example.com"))
    now = datetime(2026, 3, 2, 19, 0, tzinfo=UTC)
    reports, barrier = [], threading.Barrier(2)

    def racer():
        barrier.wait()
        reports.append(dispatch(now).dispatched)

    threads = [threading.Thread(target=racer) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(reports) == 10
    # Even a duplicated send job for every batch sends nothing twice.
    with transaction(store.rt.sessions) as session:
        queued = session.execute(select(Message.id, Message.job_id).where(Message.status == "queued")).all()
    groups: dict[str, list[int]] = {}
    for message_id, job_id in queued:
        groups.setdefault(job_id, []).append(message_id)
    store.rt.queue.enqueue_sends(list(groups.items()), now)
    store.drain()
    sent = store.outbox()
    assert len(sent) == 10 and len({m["message_id"] for m in sent}) == 10


def test_a_row_just_queued_is_given_a_grace_period_before_its_job_counts_as_lost(store):
    """The reconciler leaves a row queued in the last 30 s alone (its enqueue may be on its way),
    then hands it to a new job; the jobs' statuses are read in one Redis round trip."""
    store.deliver("checkouts/create", store.checkout("c1", ABANDONED))
    dispatch(datetime(2026, 3, 2, 19, 0, tzinfo=UTC))
    store.rt.redis.flushdb()
    assert "re-enqueued 0 message(s)" in store.tick("2026-03-02T19:00:20+00:00")
    assert store.outbox() == []
    assert "re-enqueued 1 message(s)" in store.tick("2026-03-02T19:00:31+00:00")
    assert [m["to"] for m in store.outbox()] == ["ana@example.com"]


def test_flushall_mid_journey_loses_nothing_and_duplicates_nothing(store):
    """Redis loses everything the app keeps there, three times. FLUSHDB, not FLUSHALL: the app has one
    Redis database, and a FLUSHALL would also empty the other pytest-xdist workers' (it once lost
    another worker's ingest job mid-test); tests/faults/test_redis_faults.py runs a real FLUSHALL on a
    redis-server of its own."""
    store.deliver("checkouts/create", store.checkout("c1", ABANDONED))
    store.deliver("checkouts/create", store.checkout("c2", ABANDONED, email="b@example.com", phone="+34600000002"))
    dispatch(datetime(2026, 3, 2, 19, 0, tzinfo=UTC))  # two rows queued, jobs in Redis
    store.rt.redis.flushdb()
    store.drain()  # nothing left to run
    assert store.outbox() == []

    store.tick("2026-03-02T19:00:30+00:00")  # the reconciler re-enqueues the queued rows
    assert sorted(m["to"] for m in store.outbox()) == ["ana@example.com", "b@example.com"]
    store.tick("2026-03-03T08:00:00+00:00")  # WhatsApp, held overnight by the window
    store.rt.redis.flushdb()
    store.tick("2026-03-03T10:00:00+00:00")  # Prime
    store.rt.redis.flushdb()
    store.tick("2026-03-03T10:00:30+00:00")
    sent = store.outbox()
    assert len(sent) == len({(m["message_id"]) for m in sent}) == 8
    assert {m["status"] for m in store.messages()} == {"sent"}


class Crash(BaseException):
    """Stands for the worker dying between the claim and the provider's answer."""


def test_a_row_left_in_sending_becomes_unknown_and_is_never_resent(store, monkeypatch):
    store.deliver("checkouts/create", store.checkout("c1", ABANDONED))

    class CrashingTransport:
        esp_name = "crashing"

        def send(self, message):
            raise Crash()

    monkeypatch.setattr(store.rt.transports, "transport", lambda session, shop_id, channel: CrashingTransport())
    with pytest.raises(Crash):
        from jobs.send import send_message

        dispatch(datetime(2026, 3, 2, 19, 0, tzinfo=UTC))
        with transaction(store.rt.sessions) as session:
            message_id, job_id = session.execute(
                select(Message.id, Message.job_id).where(Message.status == "queued")
            ).one()
        send_message(message_id, job_id, "2026-03-02T19:00:00+00:00")
    monkeypatch.undo()
    store.rt.redis.flushdb()
    assert store.message(step="first")["status"] == "sending"

    store.tick("2026-03-02T19:04:00+00:00")  # inside the lease: left alone
    assert store.message(step="first")["status"] == "sending"
    store.tick("2026-03-02T19:05:01+00:00")
    first = store.message(step="first")
    assert first["status"] == "unknown"
    assert first["reason"] == "unknown: no provider answer within 300 s; not resent"
    store.tick("2026-03-05T00:00:00+00:00")
    assert "email" not in [m["channel"] for m in store.outbox()]


def test_sms_without_consent_is_skipped_with_a_reason(store):
    store.deliver("checkouts/create", store.checkout("c1", ABANDONED, buyer_accepts_sms_marketing=False))
    store.tick("2026-03-03T10:00:00+00:00")
    sms = store.message(channel="sms")
    assert sms["status"] == "skipped" and sms["reason"] == "no consent: no SMS marketing consent"
    every_final_row_has_a_reason(store)


def test_checkout_without_contact_details_plans_nothing(store):
    store.deliver(
        "checkouts/create",
        store.checkout("anon", ABANDONED, email=None, phone=None, sms_marketing_phone=None, customer=None),
    )
    assert store.messages() == []


def test_completed_and_deleted_checkouts_cancel_pending_messages_with_reasons(store):
    store.deliver("checkouts/create", store.checkout("done", ABANDONED))
    store.deliver("checkouts/create", store.checkout("gone", ABANDONED, name="#42"))
    store.deliver(
        "checkouts/update",
        store.checkout("done", "2026-03-02T19:10:00+01:00", completed_at="2026-03-02T19:10:00+01:00"),
    )
    store.deliver("checkouts/delete", {"id": 42, "cart_token": "unrelated"})
    assert {m["reason"] for m in store.messages(checkout_token="done")} == {"checkout completed"}
    assert {m["reason"] for m in store.messages(checkout_token="gone")} == {"checkout deleted in Shopify"}
    assert {m["status"] for m in store.messages()} == {"cancelled"}


def test_app_uninstalled_cancels_everything_pending(store):
    store.deliver("checkouts/create", store.checkout("c1", ABANDONED))
    store.tick("2026-03-02T19:00:00+00:00")
    store.deliver("app/uninstalled", {"id": 1, "domain": store.domain})
    pending = [m for m in store.messages() if m["status"] != "sent"]
    assert pending and {(m["status"], m["reason"]) for m in pending} == {("cancelled", "app uninstalled")}
    # Later deliveries for the uninstalled shop are acknowledged and dropped.
    response = store.post("checkouts/create", store.checkout("c2", ABANDONED))
    assert response.get_json()["status"] == "ignored"


def test_first_incentive_code_is_in_the_link_and_the_text(store):
    store.set_settings({"recovery": {"first": {"incentive": {"type": "percentage", "value": 10, "code": "WELCOME10"}}}})
    store.deliver("checkouts/create", store.checkout("c1", ABANDONED))
    store.tick("2026-03-02T19:00:00+00:00")
    [email] = store.outbox()
    assert "Use code WELCOME10 for 10% off." in email["body"]
    assert store.links(email["body"]) == [
        "https://demo-shop.myshopify.com/discount/WELCOME10?redirect=%2F71234%2Fcheckouts%2Fac%2Fc1%2Frecover%3Fkey%3Dk1"
    ]


def test_late_delivery_sends_only_the_latest_due_step(store):
    """A webhook a day late: the first reminder is superseded by Prime, not sent with it."""
    store.deliver("checkouts/create", store.checkout("c1", ABANDONED))
    store.tick("2026-03-03T10:00:00+00:00")  # first, whatsapp and prime all due at once
    assert store.message(step="first")["status"] == "skipped"
    assert store.message(step="first")["reason"] == "superseded: the later 'prime' step has already started"
    assert sorted(m["channel"] for m in store.outbox()) == ["sms", "whatsapp"]


def test_a_whatsapp_message_the_window_postponed_goes_at_the_opening_with_prime(store):
    """The 6 h WhatsApp step of a checkout abandoned at 16:00 falls due at 22:00 and Prime (16 h)
    at 08:00: both wait for the 09:00 opening. The WhatsApp message is sent then, not superseded:
    a postponed message is never dropped (product.md §2)."""
    store.set_settings({"recovery": {"whatsapp": {"enabled": True, "delay_minutes": 360}}})
    store.deliver("checkouts/create", store.checkout("c1", "2026-03-02T16:00:00+01:00"))  # Mon 16:00 Madrid
    store.tick("2026-03-02T15:00:00+00:00")  # the first email
    store.tick("2026-03-02T21:00:00+00:00")  # 22:00 Madrid: WhatsApp waits for the window
    assert store.message(step="whatsapp")["reason"].startswith("outside delivery window; postponed to Tue")
    store.tick("2026-03-03T07:00:00+00:00")  # 08:00 Madrid: Prime waits too
    store.tick("2026-03-03T08:00:00+00:00")  # 09:00 Madrid: the window opens
    assert store.message(step="whatsapp")["status"] == "sent"
    assert sorted((m["step"], m["channel"]) for m in store.messages() if m["status"] == "sent") == [
        ("first", "email"),
        ("prime", "sms"),
        ("prime", "whatsapp"),
        ("whatsapp", "whatsapp"),
    ]


def test_transient_failures_are_retried_with_backoff_and_permanent_ones_fail(store, monkeypatch):
    from shop_app.adapters.outgoing import OutboxFileTransport, SendResult, SendStatus

    real = OutboxFileTransport(store.rt.settings.outbox_file)
    answers = {
        "email": [SendResult(SendStatus.FAILED_TRANSIENT, detail="429 slow down")],
        "whatsapp": [SendResult(SendStatus.FAILED_PERMANENT, detail="21211 invalid number")],
    }

    class Flaky:
        esp_name = "flaky"

        def send(self, message):
            queue = answers.get(message.channel)
            return queue.pop(0) if queue else real.send(message)

    monkeypatch.setattr(store.rt.transports, "transport", lambda session, shop_id, channel: Flaky())
    store.deliver("checkouts/create", store.checkout("c1", "2026-03-02T10:00:00+01:00"))
    store.tick("2026-03-02T10:00:00+00:00")
    first = store.message(step="first")
    assert first["status"] == "scheduled"
    assert first["due_at"] == "2026-03-02T10:01:00+00:00"
    assert first["reason"] == "transient failure (429 slow down); retry at 2026-03-02 10:01 UTC"
    store.tick("2026-03-02T10:01:00+00:00")
    assert store.message(step="first")["status"] == "sent"

    store.tick("2026-03-02T11:00:00+00:00")
    whatsapp = store.message(step="whatsapp")
    assert (whatsapp["status"], whatsapp["reason"]) == ("failed", "failed: 21211 invalid number")
    assert [m["channel"] for m in store.outbox()] == ["email"]


def test_a_shared_code_is_recorded_once_per_journey_step(store):
    from shop_app.domain.settings import Incentive
    from shop_app.recovery.discounts import StepCode, StepOffer, code_for
    from shop_app.storage.tables import Discount

    store.deliver("checkouts/create", store.checkout("c1", ABANDONED))
    with transaction(store.rt.sessions) as session:
        journey = session.scalar(select(Journey))
    offer = StepOffer(
        journey.shop_id, journey.id, "first", "c1", None, Incentive("percentage", 10, "shared", "WELCOME10")
    )
    now = datetime(2026, 3, 2, 19, 0, tzinfo=UTC)
    # The merchant's own code, with no expiry of ours, each time.
    assert [code_for(store.rt.sessions, None, offer, now) for _ in range(3)] == [StepCode("WELCOME10", None)] * 3
    with transaction(store.rt.sessions) as session:
        assert len(session.scalars(select(Discount)).all()) == 1
