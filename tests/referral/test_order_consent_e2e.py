"""The order's email box is a consent statement of its own (audit bug 4): the newest statement for the
address decides, so the box as the buyer left it when she paid outweighs what checkouts/create said
of it earlier, either way; but an order's tick never takes back the customer's own opt-out (product
§6: "suppressions are honoured by every later send"; §7.4). Through the real webhook routes, the
one-click unsubscribe link, the setup job's import, the dispatcher and the send job."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import select

from shop_app.shopify.post_install import enqueue_setup
from shop_app.storage.database import transaction
from shop_app.storage.tables import Consent, Shop
from tests.referral.e2e import ANA, ana_pays, reason_of, steps

ONE_CLICK = {"data": "List-Unsubscribe=One-Click", "content_type": "application/x-www-form-urlencoded"}
SUBSCRIBERS_ONLY = {"consent": {"email": "subscribers_only"}}
UNSUBSCRIBED = "suppressed: unsubscribed by one-click link"


def _email_consent(store) -> tuple[str, str]:
    with transaction(store.rt.sessions) as session:
        record = session.scalars(select(Consent).where(Consent.channel == "email", Consent.address == ANA)).one()
        return record.state, record.source


def test_a_box_unticked_before_paying_outweighs_the_tick_checkouts_create_saw(store) -> None:
    store.set_settings(SUBSCRIBERS_ONLY)
    ticked = store.checkout("c1", "2026-03-02T18:00:00+01:00", email=ANA, buyer_accepts_marketing=True)
    store.deliver("checkouts/create", ticked)
    ana_pays(store, checkout=None, checkout_token="c1", fulfilled="2026-03-03T10:00:00Z", buyer_accepts_marketing=False)
    assert _email_consent(store) == ("revoked", "order")
    store.tick("2026-03-06T10:01:00+00:00")
    review = steps(store)["review"]
    assert (review["status"], review["reason"]) == (
        "skipped",
        "no consent: not subscribed to email marketing (shop sends to subscribers only)",
    )
    assert store.outbox() == []


def test_a_one_click_unsubscribe_is_not_undone_by_a_later_order_with_the_box_ticked(store, client) -> None:
    ana_pays(store, fulfilled="2026-03-03T10:00:00Z")
    store.tick("2026-03-06T10:01:00+00:00")
    [review] = store.outbox()
    assert client.post(urlsplit(review["unsubscribe_url"]).path, **ONE_CLICK).status_code == 200
    again = store.order(None, "2026-03-07T12:00:00+01:00", id=9002, name="#1002", email=ANA)
    again["buyer_accepts_marketing"] = True  # she ticks the box as she pays her second order
    store.deliver("orders/paid", again, webhook_id="again")
    assert "already has a referral journey" in reason_of(store, "again")
    assert _email_consent(store) == ("granted", "order")  # her box, newer than the checkout's
    store.tick("2026-03-08T10:01:00+00:00")
    store.tick("2026-03-10T10:01:00+00:00")
    rows = steps(store)
    for step in ("social", "invite"):
        assert (rows[step]["status"], rows[step]["reason"]) == ("skipped", UNSUBSCRIBED)
    assert len(store.outbox()) == 1


def test_the_customers_own_opt_out_outlives_a_later_order_with_the_box_ticked(store) -> None:
    """Shopify says she unsubscribed (the setup job's import records it, source "customer"); her
    later order with the box ticked does not bring email back, so the recovery email of a checkout
    she leaves after that order is skipped. Times are after the import's (wall-clock) statement."""
    assert store.admin_api is not None
    store.admin_api.add_customer(
        store.domain, email=ANA, email_marketing_state="UNSUBSCRIBED", created_at=datetime(2020, 1, 1, tzinfo=UTC)
    )
    with transaction(store.rt.sessions) as session:
        shop = session.scalars(select(Shop).where(Shop.domain == store.domain)).one()
        shop.setup_completed_at, shop_id = None, shop.id
    enqueue_setup(store.rt, shop_id)  # the setup job imports Shopify's customers
    store.drain()
    assert _email_consent(store) == ("revoked", "customer")

    paid_at = datetime.now(UTC) + timedelta(hours=1)
    order = store.order(None, paid_at.isoformat(), id=9001, name="#1001", email=ANA)
    order["buyer_accepts_marketing"] = True
    store.deliver("orders/paid", order)
    assert _email_consent(store) == ("revoked", "customer")

    left_at = paid_at + timedelta(hours=1)
    checkout = store.checkout("c2", left_at.isoformat(), email=ANA)
    del checkout["buyer_accepts_marketing"]  # this checkout says nothing of the box
    store.deliver("checkouts/create", checkout)
    store.tick(left_at + timedelta(minutes=61))
    first = store.message(checkout_token="c2", step="first", channel="email")
    assert (first["status"], first["reason"]) == ("skipped", "no consent: withdrawn (customer)")
    assert store.outbox() == []


def test_the_order_box_is_recorded_at_the_orders_time_and_an_older_checkout_update_changes_nothing(store) -> None:
    store.set_settings(SUBSCRIBERS_ONLY)
    ana_pays(store, fulfilled="2026-03-03T10:00:00Z")  # unticked at checkouts/create (18:00), ticked at 19:00
    late = store.checkout("c1", "2026-03-02T18:30:00+01:00", email=ANA, buyer_accepts_marketing=False)
    store.deliver("checkouts/update", late)  # delivered late: it says what the box was before she paid
    assert _email_consent(store) == ("granted", "order")
    store.tick("2026-03-06T10:01:00+00:00")
    assert steps(store)["review"]["status"] == "sent"
