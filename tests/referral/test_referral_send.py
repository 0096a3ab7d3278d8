"""Referral messages sent through the real routes, dispatcher and send job (issue 11)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from click.testing import CliRunner
from sqlalchemy import select, update

from shop_app.cli.commands import main
from shop_app.compliance.consent_records import record_consent
from shop_app.compliance.suppressions import suppress
from shop_app.shopify.shops import get_shop
from shop_app.storage.database import transaction
from shop_app.storage.referral_tables import ReferralAdvocate, ReferralReward
from shop_app.storage.tables import OrderRow
from tests.jobs.test_twilio_channel import twilio_store  # noqa: F401  (a fixture)

STATUS_URL = "https://demo-shop.myshopify.com/123/orders/abc/authenticate?key=k"
PHONE = "+34600111222"


def _start(store, *, email: str | None = "ana@example.com", phone: str | None = None, fulfilled: str | None,
           sms_consent: bool = True) -> None:  # fmt: skip
    """Ana, captured by her checkout, pays her first order (#1001); it is fulfilled at `fulfilled`."""
    checkout = store.checkout("c1", "2026-03-02T18:00:00+01:00", email=email, phone=phone)
    checkout["buyer_accepts_sms_marketing"] = sms_consent
    store.deliver("checkouts/create", checkout)
    order = store.order("c1", "2026-03-02T19:00:00+01:00", id=9001, name="#1001", order_status_url=STATUS_URL)
    order.update(email=email, phone=phone, buyer_accepts_marketing=True)
    if email is None:
        order["customer"] = {"id": 7001, "first_name": "Ana", "phone": phone}
    store.deliver("orders/paid", order)
    if fulfilled:
        store.deliver("orders/fulfilled", {"id": 9001, "updated_at": fulfilled})


def _referral(store) -> dict[str, dict]:
    return {m["step"]: m for m in store.messages(flow="referral")}


def _sent_to(store, address: str) -> list[dict]:
    return [m for m in store.outbox() if m["to"] == address]


def test_a_first_time_buyer_gets_review_social_and_invite_then_a_reward(store, admin_api) -> None:
    _start(store, fulfilled="2026-03-03T10:00:00Z")
    store.tick("2026-03-06T09:59:00+00:00")
    assert {m["status"] for m in store.messages(flow="referral")} == {"scheduled"}
    store.tick("2026-03-06T10:01:00+00:00")  # 3 days after the fulfilment
    assert _referral(store)["review"]["status"] == "sent"
    [review] = _sent_to(store, "ana@example.com")
    assert "Ana" in review["body"] and STATUS_URL in review["body"] + (review.get("html") or "")
    store.tick("2026-03-08T10:01:00+00:00")
    assert _referral(store)["social"]["status"] == "sent" and _referral(store)["invite"]["status"] == "scheduled"
    store.tick("2026-03-10T10:01:00+00:00")
    assert _referral(store)["invite"]["status"] == "sent"
    [code] = [d.input["code"] for d in admin_api.discounts(store.domain)]
    invite = _sent_to(store, "ana@example.com")[-1]
    assert code.startswith("ANA-") and code in invite["body"]
    assert f"https://{store.domain}/discount/{code}" in invite["body"]
    assert "their first order" in invite["body"]

    # A friend buys with Ana's code: Ana's reward goes out by the invite's channel, with its own code.
    friend = store.order(None, "2026-03-11T12:00:00+01:00", id=9501, name="#1501", email="bea@example.com")
    friend.update(customer={"id": 7501, "email": "bea@example.com"}, discount_codes=[{"code": code}])
    store.deliver("orders/paid", friend)
    store.tick(datetime.now(UTC) + timedelta(minutes=1))  # the ingest plans it due at its wall-clock time
    assert _referral(store)["reward"]["status"] == "sent"
    reward_codes = [d.input["code"] for d in admin_api.discounts(store.domain) if d.input["code"] != code]
    assert len(reward_codes) == 1 and reward_codes[0] in _sent_to(store, "ana@example.com")[-1]["body"]
    with transaction(store.rt.sessions) as session:
        assert session.scalars(select(ReferralReward.status)).all() == ["issued"]
        assert session.scalars(select(ReferralAdvocate.code)).all() == [code]


def test_the_invite_waits_when_shopify_cannot_make_the_code(store, admin_api) -> None:
    _start(store, fulfilled="2026-03-03T10:00:00Z")
    store.tick("2026-03-08T10:01:00+00:00")
    admin_api.inject_status(500, count=20)
    store.rt.admin_sleep = (waits := []).append  # the client's backoff, recorded rather than slept
    store.tick("2026-03-10T10:01:00+00:00")
    assert waits, "the client retried the 500s before the invite gave up waiting"
    invite = _referral(store)["invite"]
    assert invite["status"] == "scheduled" and "waiting for the referral code" in invite["reason"]


def test_an_order_never_fulfilled_skips_the_review_after_30_days(store) -> None:
    _start(store, fulfilled=None)
    store.tick("2026-04-01T17:00:00+00:00")
    assert _referral(store)["review"]["status"] == "scheduled"
    store.tick("2026-04-01T18:01:00+00:00")  # 30 days after payment
    review = _referral(store)["review"]
    assert review["status"] == "skipped" and "not fulfilled within 30 days" in review["reason"]
    assert store.outbox() == []


def test_a_suppressed_address_is_skipped_with_its_reason(store) -> None:
    _start(store, fulfilled="2026-03-03T10:00:00Z")
    with transaction(store.rt.sessions) as session:
        shop = get_shop(session, store.domain)
        suppress(session, store.rt.settings.secret_key, shop.id, "email", "ana@example.com", "bounced")
    store.tick("2026-03-06T10:01:00+00:00")
    review = _referral(store)["review"]
    assert review["status"] == "skipped" and review["reason"].startswith("suppressed")
    assert store.outbox() == []


def test_a_triggering_order_our_records_know_as_refunded_cancels_a_due_step(store) -> None:
    _start(store, fulfilled="2026-03-03T10:00:00Z")
    with transaction(store.rt.sessions) as session:  # as an order update would record it
        session.execute(update(OrderRow).where(OrderRow.shopify_id == "9001").values(financial_status="refunded"))
    store.tick("2026-03-06T10:01:00+00:00")
    review = _referral(store)["review"]
    assert review["status"] == "cancelled" and "refunded" in review["reason"]


def test_sms_needs_sms_consent_and_waits_for_the_window(twilio_store, twilio_api) -> None:  # noqa: F811
    store = twilio_store
    store.set_settings({"referral": {"review": {"channels": ["sms"]}, "social": {"channels": ["sms", "email"]}}})
    _start(store, email="ana@example.com", phone=PHONE, fulfilled="2026-03-03T20:30:00Z", sms_consent=False)
    store.tick("2026-03-06T20:31:00+00:00")  # 21:31 in Madrid: outside the 09:00-21:00 window
    review = store.message(flow="referral", step="review")
    assert review["status"] == "skipped" and review["reason"] == "no consent: no SMS marketing consent"

    with transaction(store.rt.sessions) as session:
        shop = get_shop(session, store.domain)
        at = datetime.fromisoformat("2026-03-06T21:00:00+00:00")
        record_consent(session, shop.id, "sms", PHONE, granted=True, source="checkout", at=at)
    store.tick("2026-03-08T20:31:00+00:00")
    social = store.message(flow="referral", step="social", channel="sms")
    assert social["status"] == "scheduled" and "outside delivery window" in social["reason"]
    store.tick("2026-03-09T08:01:00+00:00")  # 09:01 in Madrid
    assert store.message(flow="referral", step="social", channel="sms")["status"] == "sent"
    [sms] = twilio_api.messages
    assert sms.resource["to"] == PHONE


def test_a_cancelled_order_cancels_the_steps_not_yet_sent(store) -> None:
    _start(store, fulfilled="2026-03-03T10:00:00Z")
    store.tick("2026-03-06T10:01:00+00:00")
    store.deliver("orders/cancelled", {"id": 9001, "cancelled_at": "2026-03-07T10:00:00Z"})
    store.tick("2026-03-10T10:01:00+00:00")
    steps = {step: (m["status"], m["reason"] or "") for step, m in _referral(store).items()}
    assert steps["review"][0] == "sent"
    assert {steps["social"][0], steps["invite"][0]} == {"cancelled"} and "cancelled" in steps["invite"][1]
    assert len(store.outbox()) == 1


def test_reclaim_messages_json_shows_the_referral_rows(store) -> None:
    _start(store, fulfilled=None)
    store.tick("2026-04-01T18:01:00+00:00")
    result = CliRunner().invoke(main, ["messages", "--shop", store.domain, "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    rows = [r for r in json.loads(result.output) if r["flow"] == "referral"]
    assert [(r["step"], r["status"]) for r in rows] == [("review", "skipped")]
    assert "not fulfilled" in rows[0]["reason"]
