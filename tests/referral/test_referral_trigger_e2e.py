"""The referral trigger and what a merchant reads of it (issue 11, points 1, 2 and the Tests paragraph),
through the real webhook routes, worker and `reclaim` commands: a profile's origin decides (captured by
a customers/create after install, imported by one from before, and imported stays imported through a
later checkout); a repeat order, a test order, an order without contact details and a flow turned off
start nothing, each delivery saying why; `reclaim messages --json` lists the referral rows with their
steps, statuses and reasons, the triggering order's checkout token, and the order they belong to."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from shop_app.storage.database import transaction
from shop_app.storage.tables import Profile
from tests.referral.e2e import (
    ANA,
    PAID_AT,
    ana_pays,
    messages_json,
    reason_of,
    reclaim,
    referral_journeys,
)

NOT_CAPTURED = "no referral flow: the customer was imported, not captured by the store"


def _origin(store, email: str) -> tuple[str, str | None]:
    with transaction(store.rt.sessions) as session:
        profile = session.scalars(select(Profile).where(Profile.email == email)).one()
        return profile.origin, profile.captured_by


def _customer(customer_id: int, email: str, created_at: datetime) -> dict:
    return {"id": customer_id, "email": email, "first_name": "Ana", "created_at": created_at.isoformat()}


# --- origin ---------------------------------------------------------------------------------------


def test_a_customer_created_after_the_install_is_captured_and_her_first_order_starts_the_flow(store) -> None:
    after_install = datetime.now(UTC) + timedelta(minutes=1)
    store.deliver("customers/create", _customer(7001, ANA, after_install), webhook_id="signup")
    assert reason_of(store, "signup").endswith(": captured")
    assert _origin(store, ANA) == ("captured", "customer")
    store.deliver("orders/paid", store.order(None, PAID_AT, id=9001, name="#1001"), webhook_id="paid")
    [journey] = referral_journeys(store)
    assert f"referral journey #{journey.id} started" in reason_of(store, "paid")


def test_an_imported_customer_stays_imported_through_a_later_checkout_and_starts_nothing(store) -> None:
    store.deliver("customers/create", _customer(7001, ANA, datetime(2020, 1, 1, tzinfo=UTC)), webhook_id="old")
    assert reason_of(store, "old").endswith(": imported")
    store.deliver("checkouts/create", store.checkout("c1", "2026-03-02T18:00:00+01:00", email=ANA))
    assert _origin(store, ANA) == ("imported", None)  # a checkout does not make her captured
    store.deliver("orders/paid", store.order("c1", PAID_AT, id=9001, name="#1001"), webhook_id="paid")
    assert NOT_CAPTURED in reason_of(store, "paid")
    assert referral_journeys(store) == [] and store.messages(flow="referral") == []
    store.deliver("orders/fulfilled", {"id": 9001, "updated_at": "2026-03-03T10:00:00Z"})
    store.tick("2026-03-10T10:01:00+00:00")
    assert store.messages(flow="referral") == []


def test_an_order_of_a_customer_shopify_created_before_the_install_starts_nothing(store) -> None:
    order = store.order(None, PAID_AT, id=9001, name="#1001")
    order["customer"] = _customer(7001, ANA, datetime(2020, 1, 1, tzinfo=UTC))
    store.deliver("orders/paid", order, webhook_id="paid")
    assert _origin(store, ANA)[0] == "imported"
    assert NOT_CAPTURED in reason_of(store, "paid") and referral_journeys(store) == []


# --- what starts nothing, and why -----------------------------------------------------------------


def test_a_repeat_order_starts_nothing_and_says_so(store) -> None:
    store.set_settings({"referral": {"enabled": False}})
    ana_pays(store)  # her first order, while the flow was off
    store.set_settings({"referral": {"enabled": True}})
    second = store.order(None, "2026-03-09T12:00:00+01:00", id=9002, name="#1002")
    store.deliver("orders/paid", second, webhook_id="second")
    assert "no referral flow: a repeat order (the customer had ordered before)" in reason_of(store, "second")
    assert referral_journeys(store) == []


def test_the_flow_turned_off_starts_nothing_and_says_so(store) -> None:
    store.set_settings({"referral": {"enabled": False}})
    store.deliver("checkouts/create", store.checkout("c1", "2026-03-02T18:00:00+01:00", email=ANA))
    store.deliver("orders/paid", store.order("c1", PAID_AT, id=9001, name="#1001"), webhook_id="paid")
    assert "no referral flow: the flow is turned off in the settings" in reason_of(store, "paid")
    assert referral_journeys(store) == []


def test_a_test_order_starts_nothing_and_a_real_first_order_of_another_buyer_still_does(store) -> None:
    store.deliver("checkouts/create", store.checkout("c1", "2026-03-02T18:00:00+01:00", email=ANA))
    store.deliver("orders/paid", store.order("c1", PAID_AT, id=9001, name="#1001", test=True), webhook_id="test")
    assert "no referral flow: a test order" in reason_of(store, "test") and referral_journeys(store) == []
    bea = store.order(None, PAID_AT, id=9002, name="#1002", email="bea@example.com")
    bea["customer"] = {"id": 7002, "email": "bea@example.com", "first_name": "Bea"}
    store.deliver("orders/paid", bea, webhook_id="bea")
    assert "started" in reason_of(store, "bea") and len(referral_journeys(store)) == 1


def test_an_order_without_contact_details_starts_nothing_and_says_so(store) -> None:
    order = store.order(None, PAID_AT, id=9001, name="#1001", email=None, phone=None, customer=None)
    store.deliver("orders/paid", order, webhook_id="anonymous")
    assert "no referral flow: the order has no contact details" in reason_of(store, "anonymous")
    assert referral_journeys(store) == []


def test_the_same_order_paid_twice_starts_one_journey_and_the_second_delivery_says_why(store) -> None:
    ana_pays(store)
    again = store.order("c1", PAID_AT, id=9001, name="#1001")
    store.deliver("orders/paid", again, webhook_id="again")
    assert "no referral flow: this customer already has a referral journey" in reason_of(store, "again")
    assert len(referral_journeys(store)) == 1 and len(store.messages(flow="referral")) == 1


# --- reclaim messages -----------------------------------------------------------------------------


def test_reclaim_messages_json_lists_the_referral_rows_with_the_orders_checkout_token(store) -> None:
    store.deliver("checkouts/create", store.checkout("rec-1", "2026-03-02T17:00:00+01:00", email=ANA))
    ana_pays(store, checkout="c-ana-1001", fulfilled="2026-03-03T10:00:00Z")
    store.tick("2026-03-06T10:01:00+00:00")
    store.deliver("orders/cancelled", {"id": 9001, "cancelled_at": "2026-03-07T10:00:00Z"})
    rows = [r for r in messages_json(store) if r["flow"] == "referral"]
    assert [(r["step"], r["channel"], r["status"]) for r in rows] == [
        ("review", "email", "sent"),
        ("social", "email", "cancelled"),
        ("invite", "email", "cancelled"),
    ]
    assert [r["reason"] for r in rows[1:]] == ["order #1001 cancelled"] * 2
    assert {r["checkout_token"] for r in rows} == {"c-ana-1001"}  # the paid checkout's, not her other one
    assert all(r["shop"] == store.domain and r["due_at"] for r in rows)
    assert rows[0]["sent_at"] and ANA not in (rows[1]["reason"] or "")


def test_a_referral_row_in_reclaim_messages_json_names_its_order(store) -> None:
    ana_pays(store, fulfilled="2026-03-03T10:00:00Z")
    [review] = [r for r in messages_json(store) if r["flow"] == "referral" and r["step"] == "review"]
    named = {key for key, value in review.items() if key != "body" and "#1001" in str(value)}
    assert named == {"order"}, review


def test_reclaim_messages_lists_a_referral_row_whose_order_had_no_checkout(store) -> None:
    store.deliver("orders/paid", store.order(None, PAID_AT, id=9001, name="#1001"))  # captured by her order
    [row] = [r for r in messages_json(store) if r["flow"] == "referral"]
    assert (row["checkout_token"], row["order"], row["step"]) == (None, "#1001", "review")
    listed = reclaim("messages", "--shop", store.domain)
    assert listed.exit_code == 0 and "review" in listed.output and "#1001" in listed.output, listed.output
