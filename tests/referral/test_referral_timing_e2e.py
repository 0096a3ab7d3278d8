"""When the referral steps go (issue 11, point 3), through the real webhook routes, dispatcher, send job
and simulated time: the review 3 days after the order's fulfilment (orders/fulfilled; fulfillments/create is not
routed), not after its payment; social and invite each 2 days later; an order not
fulfilled within 30 days skips the review with its reason and plans nothing after; the merchant's
cadence in hours; SMS and WhatsApp steps due at night wait for the delivery window (09:00-21:00 in
Madrid), the advocate's reward too; an uninstall cancels what is pending, as for recovery."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from tests.jobs import test_twilio_channel
from tests.jobs.test_twilio_channel import approve_all_templates
from tests.referral.e2e import (
    ANA,
    PHONE,
    ana_advocates,
    ana_pays,
    friend_order,
    next_madrid,
    reason_of,
    reclaim,
    referral_journeys,
    steps,
)

twilio_store = test_twilio_channel.twilio_store  # the demo shop with its Twilio account (a fixture)


def _due(store) -> dict[str, str]:
    return {step: m["due_at"] for step, m in steps(store).items()}


def _statuses(store) -> dict[str, str]:
    return {step: m["status"] for step, m in steps(store).items()}


# --- the review counts from the fulfilment --------------------------------------------------------


def test_the_review_goes_3_days_after_orders_fulfilled_then_social_and_invite_2_days_apart(store) -> None:
    ana_pays(store)  # paid 2 March 18:00 UTC, not fulfilled yet: only the review waits, until the deadline
    assert _due(store) == {"review": "2026-04-01T18:00:00+00:00"}
    store.tick("2026-03-05T18:01:00+00:00")  # 3 days after the payment: nothing, the order has not shipped
    assert _statuses(store) == {"review": "scheduled"} and store.outbox() == []

    store.deliver("orders/fulfilled", {"id": 9001, "updated_at": "2026-03-05T12:00:00Z"})
    assert _due(store) == {
        "review": "2026-03-08T12:00:00+00:00",
        "social": "2026-03-10T12:00:00+00:00",
        "invite": "2026-03-12T12:00:00+00:00",
    }
    store.tick("2026-03-08T11:59:00+00:00")
    assert set(_statuses(store).values()) == {"scheduled"}
    store.tick("2026-03-08T12:01:00+00:00")
    assert _statuses(store) == {"review": "sent", "social": "scheduled", "invite": "scheduled"}
    store.tick("2026-03-10T12:01:00+00:00")
    assert _statuses(store) == {"review": "sent", "social": "sent", "invite": "scheduled"}
    store.tick("2026-03-12T12:01:00+00:00")
    assert set(_statuses(store).values()) == {"sent"}
    assert [m["to"] for m in store.outbox()] == [ANA, ANA, ANA]


def test_fulfillments_create_is_not_heard_orders_fulfilled_alone_starts_the_cadence(store) -> None:
    """fulfillments/create would need the read_fulfillments scope for what orders/fulfilled already
    says: it has no route (a signed delivery is a 404) and plans nothing."""
    ana_pays(store)
    fulfillment = {"id": 4401, "order_id": 9001, "status": "success", "created_at": "2026-03-05T12:00:00Z",
                   "updated_at": "2026-03-05T12:00:00Z", "tracking_number": "1Z999"}  # fmt: skip
    assert store.post("fulfillments/create", fulfillment).status_code == 404
    store.drain()
    assert _due(store) == {"review": "2026-04-01T18:00:00+00:00"}  # still waiting for the fulfilment
    store.deliver("orders/fulfilled", {"id": 9001, "updated_at": "2026-03-05T12:00:00Z"})
    assert _due(store)["review"] == "2026-03-08T12:00:00+00:00"


def test_an_order_fulfilled_on_day_29_still_gets_its_review_3_days_later(store) -> None:
    ana_pays(store, fulfilled="2026-03-31T10:00:00Z")  # within the 30 days; the review falls after them
    store.tick("2026-04-01T18:01:00+00:00")  # the deadline passes: the fulfilment came in time
    assert _statuses(store)["review"] == "scheduled"
    store.tick("2026-04-03T10:01:00+00:00")
    assert _statuses(store)["review"] == "sent"


def test_not_fulfilled_within_30_days_skips_the_review_and_a_late_fulfilment_plans_nothing(store) -> None:
    ana_pays(store)
    store.tick("2026-04-01T17:59:00+00:00")
    assert _statuses(store) == {"review": "scheduled"}
    store.tick("2026-04-01T18:01:00+00:00")  # 30 days after the payment
    review = steps(store)["review"]
    assert (review["status"], review["reason"]) == ("skipped", "the order was not fulfilled within 30 days")

    store.deliver("orders/fulfilled", {"id": 9001, "updated_at": "2026-04-03T10:00:00Z"}, webhook_id="late")
    assert "fulfilled after the review's deadline; nothing planned" in reason_of(store, "late")
    for day in ("2026-04-06", "2026-04-08", "2026-04-10", "2026-05-01"):
        store.tick(f"{day}T10:01:00+00:00")
    assert _statuses(store) == {"review": "skipped"} and store.outbox() == []


def test_a_fulfilment_after_the_deadline_but_before_any_tick_plans_nothing(store) -> None:
    ana_pays(store)
    store.deliver("orders/fulfilled", {"id": 9001, "updated_at": "2026-04-02T09:00:00Z"})  # day 31
    store.tick("2026-04-05T10:00:00+00:00")
    assert _statuses(store) == {"review": "skipped"}
    assert "not fulfilled within 30 days" in steps(store)["review"]["reason"]
    assert store.outbox() == []


# --- the merchant's cadence -----------------------------------------------------------------------


def test_a_cadence_in_hours_set_with_reclaim_settings_is_followed(store, tmp_path) -> None:
    document = json.loads(reclaim("settings", "show", store.domain).output)
    document["referral"]["review"]["delay"] = {"value": 36, "unit": "hours"}
    document["referral"]["social"]["delay"] = {"value": 12, "unit": "hours"}
    document["referral"]["invite"]["delay"] = {"value": 1, "unit": "days"}
    path = tmp_path / "settings.json"
    path.write_text(json.dumps(document))
    saved = reclaim("settings", "set", store.domain, str(path))
    assert saved.exit_code == 0, saved.output

    ana_pays(store, fulfilled="2026-03-03T06:00:00Z")
    assert _due(store) == {
        "review": "2026-03-04T18:00:00+00:00",  # 36 hours after the fulfilment
        "social": "2026-03-05T06:00:00+00:00",  # 12 hours after the review
        "invite": "2026-03-06T06:00:00+00:00",  # a day after the social mention
    }
    store.tick("2026-03-04T18:01:00+00:00")
    store.tick("2026-03-05T06:01:00+00:00")
    assert _statuses(store) == {"review": "sent", "social": "sent", "invite": "scheduled"}
    store.tick("2026-03-06T06:01:00+00:00")
    assert _statuses(store)["invite"] == "sent"


def test_a_disabled_step_keeps_its_place_in_the_cadence(store) -> None:
    store.set_settings({"referral": {"social": {"enabled": False}}})
    ana_pays(store, fulfilled="2026-03-03T10:00:00Z")
    assert _due(store) == {"review": "2026-03-06T10:00:00+00:00", "invite": "2026-03-10T10:00:00+00:00"}


# --- delivery windows -----------------------------------------------------------------------------


def test_a_whatsapp_review_due_at_night_waits_for_the_window(twilio_store, twilio_api) -> None:
    store = twilio_store
    store.set_settings({"referral": {"review": {"channels": ["whatsapp"]}, "social": {"enabled": False},
                                     "invite": {"enabled": False}}})  # fmt: skip
    approve_all_templates(store, twilio_api)
    ana_pays(store, fulfilled="2026-03-03T20:30:00Z")  # the review is due 6 March 21:30 in Madrid
    store.tick("2026-03-06T20:31:00+00:00")
    review = store.message(flow="referral", step="review", channel="whatsapp")
    assert review["status"] == "scheduled" and "outside delivery window" in review["reason"], review
    store.tick("2026-03-07T07:59:00+00:00")  # 08:59 in Madrid
    assert store.message(flow="referral", step="review")["status"] == "scheduled"
    assert twilio_api.messages == []
    store.tick("2026-03-07T08:01:00+00:00")  # 09:01 in Madrid
    assert store.message(flow="referral", step="review")["status"] == "sent"
    [sent] = twilio_api.messages
    assert sent.params["To"] == f"whatsapp:{PHONE}"


def test_an_sms_review_due_at_night_waits_for_the_window(twilio_store, twilio_api) -> None:
    store = twilio_store
    store.set_settings({"referral": {"review": {"channels": ["sms"]}}})
    ana_pays(store, fulfilled="2026-03-03T21:00:00Z")  # due 6 March 22:00 in Madrid; Ana ticked the SMS box
    store.tick("2026-03-06T21:01:00+00:00")
    review = store.message(flow="referral", step="review", channel="sms")
    assert review["status"] == "scheduled" and "outside delivery window" in review["reason"], review
    store.tick("2026-03-07T08:01:00+00:00")
    assert store.message(flow="referral", step="review", channel="sms")["status"] == "sent"
    [sms] = twilio_api.messages
    assert sms.resource["to"] == PHONE


def test_a_reward_by_sms_waits_for_the_window(twilio_store, twilio_api) -> None:
    store = twilio_store
    store.set_settings({"referral": {"invite": {"channels": ["sms"]}}})
    code = _sms_advocate(store)
    store.deliver("orders/paid", friend_order(store, 9501, "bea@example.com", 7501, code))
    night = next_madrid(23, datetime.now(UTC) + timedelta(minutes=1))  # the reward is due: it is night
    store.tick(night)
    reward = store.message(flow="referral", step="reward")
    assert (reward["channel"], reward["status"]) == ("sms", "scheduled") and "outside delivery window" in (
        reward["reason"] or ""
    ), reward
    sent_before = len(twilio_api.messages)
    store.tick(next_madrid(10, night))
    assert store.message(flow="referral", step="reward")["status"] == "sent"
    assert len(twilio_api.messages) == sent_before + 1 and twilio_api.messages[-1].resource["to"] == PHONE


def _sms_advocate(store) -> str:
    ana_pays(store, fulfilled="2026-03-03T10:00:00Z")
    for day in ("2026-03-06", "2026-03-08", "2026-03-10"):
        store.tick(f"{day}T10:01:00+00:00")
    assert store.message(flow="referral", step="invite", channel="sms")["status"] == "sent"
    [code] = [d.input["code"] for d in store.admin_api.discounts(store.domain)]
    return code


# --- uninstall ------------------------------------------------------------------------------------


def test_an_uninstall_cancels_the_pending_steps_and_stops_the_journey(store) -> None:
    ana_pays(store, fulfilled="2026-03-03T10:00:00Z")
    store.tick("2026-03-06T10:01:00+00:00")
    store.deliver("app/uninstalled", {"id": 1, "myshopify_domain": store.domain})
    rows = steps(store)
    assert rows["review"]["status"] == "sent"
    assert {(rows[s]["status"], rows[s]["reason"]) for s in ("social", "invite")} == {("cancelled", "app uninstalled")}
    [journey] = referral_journeys(store)
    assert (journey.status, journey.stop_reason) == ("stopped", "app uninstalled")
    store.tick("2026-03-10T10:01:00+00:00")
    assert len(store.outbox()) == 1


def test_an_advocate_with_a_pending_reward_gets_nothing_after_the_uninstall(store, admin_api) -> None:
    code = ana_advocates(store)
    store.deliver("orders/paid", friend_order(store, 9501, "bea@example.com", 7501, code))
    assert store.message(flow="referral", step="reward")["status"] == "scheduled"
    store.deliver("app/uninstalled", {"id": 1, "myshopify_domain": store.domain})
    sent = len(store.outbox())
    store.tick(datetime.now(UTC) + timedelta(minutes=1))
    reward = store.message(flow="referral", step="reward")
    assert (reward["status"], reward["reason"]) == ("cancelled", "app uninstalled")
    assert len(store.outbox()) == sent
