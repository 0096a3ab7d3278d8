"""What is ingested for a shop that is not installed, and which uninstall ends an install (found by a
review). A webhook another web process accepted just after app/uninstalled (its shop cache keeps an
installed shop for up to 10 s, shop_cache.py), or one recorded before the uninstall and run after,
is recorded as ignored and sends nothing: an orders/paid in that gap used to start a referral
journey whose review email went out for the uninstalled shop. An app/uninstalled Shopify delivers
late, after the merchant installed again, does not end the new install and drop its token."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from shop_app import create_app
from shop_app.storage.database import transaction
from shop_app.storage.tables import Shop, WebhookDelivery
from tests.referral.e2e import ANA, PAID_AT, PHONE, steps
from tests.support import ShopifyStore


def test_a_late_order_of_an_uninstalled_shop_is_ignored_and_sends_nothing(store, rt, admin_api):
    other = ShopifyStore(rt, create_app(runtime=rt).test_client(), store.domain, admin_api)  # a 2nd web process
    other.deliver("checkouts/create", store.checkout("c1", "2026-03-02T18:00:00+01:00", email=ANA, phone=PHONE))
    store.deliver("app/uninstalled", {"id": 1, "myshopify_domain": store.domain})
    payload = store.order("c1", PAID_AT, id=9001, name="#1001", email=ANA, phone=PHONE)
    payload["buyer_accepts_marketing"] = True
    payload["customer"] = {"id": 7001, "email": ANA, "phone": PHONE, "first_name": "Ana"}
    assert other.post("orders/paid", payload).get_json() == {"status": "accepted"}  # its cache still has the shop
    other.drain()
    with transaction(rt.sessions) as session:
        last = session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id.desc())).first()
        assert (last.topic, last.status, last.reason) == ("orders/paid", "processed", "shop not installed: ignored")
    store.tick("2026-03-06T10:01:00+00:00")
    assert steps(store) == {} and store.outbox() == []


def uninstall_then_reinstall(store, client, admin_api, triggered: datetime) -> None:
    """app/uninstalled is recorded; before its ingest runs the merchant opens the app again."""
    response = store.post(
        "app/uninstalled", {"id": 1, "myshopify_domain": store.domain},
        headers={"X-Shopify-Triggered-At": triggered.isoformat()},
    )  # fmt: skip
    assert response.status_code == 200
    browser = {"Accept": "text/html,application/xhtml+xml"}
    assert client.get(f"/?id_token={admin_api.session_token(store.domain)}", headers=browser).status_code == 200
    store.drain()


def shop_row(rt, domain: str) -> tuple[str, bool]:
    with transaction(rt.sessions) as session:
        shop = session.scalar(select(Shop).where(Shop.domain == domain))
        return shop.status, shop.access_token is not None


def test_an_uninstall_from_before_the_current_install_does_not_end_it(rt, client, admin_api):
    admin_api.add_shop("newcomer.myshopify.com")
    store = ShopifyStore(rt, client, "newcomer.myshopify.com")
    browser = {"Accept": "text/html,application/xhtml+xml"}
    assert client.get(f"/?id_token={admin_api.session_token(store.domain)}", headers=browser).status_code == 200
    store.drain()
    uninstall_then_reinstall(store, client, admin_api, datetime.now(UTC) - timedelta(days=2))
    assert shop_row(rt, store.domain) == ("installed", True)
    assert store.post("checkouts/create", store.checkout("c9", "2026-03-02T18:00:00+01:00")).get_json() == {
        "status": "accepted"
    }
    store.deliver("app/uninstalled", {"id": 1, "myshopify_domain": store.domain})  # a real one, now
    assert shop_row(rt, store.domain) == ("uninstalled", False)
