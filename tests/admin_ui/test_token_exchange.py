"""Shopify-managed install: the first document load's id_token is exchanged for an expiring
offline token; the setup job reads the shop and imports its existing customers; tokens are
refreshed before use, once, even when workers race. Shopify is the development Admin API."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from shop_app.adapters.shopify_oauth import OAuthClient
from shop_app.shopify.offline_tokens import REFRESH_MARGIN, access_token
from shop_app.storage.database import transaction
from shop_app.storage.tables import Profile, Shop
from tests.support import ShopifyStore

NEW = "newcomer.myshopify.com"
BROWSER = {"Accept": "text/html,application/xhtml+xml"}


def shop_row(rt, domain=NEW) -> Shop | None:
    with transaction(rt.sessions) as session:
        return session.scalar(select(Shop).where(Shop.domain == domain))


def test_first_document_load_installs_the_shop_by_token_exchange(rt, client, admin_api):
    admin_api.add_shop(NEW, name="Newcomer Goods", iana_timezone="America/Toronto", currency_code="CAD")
    admin_api.add_customer(NEW, first_name="Old", email="old@example.com", created_at=datetime(2025, 1, 1, tzinfo=UTC))
    response = client.get(f"/?id_token={admin_api.session_token(NEW)}", headers=BROWSER)
    assert response.status_code == 200

    shop = shop_row(rt)
    assert shop.status == "installed"
    token = rt.box.open(shop.access_token)
    assert token not in shop.access_token and shop.refresh_token and rt.box.open(shop.refresh_token)
    assert shop.access_token_expires_at is not None  # an expiring offline token
    [grant] = [r for r in admin_api.requests if r.path.endswith("/admin/oauth/access_token")]
    assert grant.body["grant_type"] == "urn:ietf:params:oauth:grant-type:token-exchange"
    assert grant.body["expiring"] == "1"

    ShopifyStore(rt, client, NEW).drain()  # the setup job
    shop = shop_row(rt)
    assert (shop.name, shop.timezone, shop.currency) == ("Newcomer Goods", "America/Toronto", "CAD")
    assert shop.setup_completed_at is not None
    with transaction(rt.sessions) as session:
        [profile] = session.scalars(select(Profile)).all()
        assert (profile.email, profile.origin) == ("old@example.com", "imported")
    from shop_app.shopify.shops import load_settings

    with transaction(rt.sessions) as session:
        assert load_settings(session, session.get(Shop, shop.id)).windows.timezone == "America/Toronto"


def test_an_exchange_that_fails_installs_nothing(rt, admin_api):
    """The session token is genuine, but Shopify cannot be reached: nothing is installed."""
    from shop_app import create_app, runtime

    offline = runtime.Runtime.build(rt.settings.with_overrides(shopify_admin_base_url="http://127.0.0.1:9/{shop}"))
    try:
        response = (
            create_app(runtime=offline).test_client().get(f"/?id_token={admin_api.session_token(NEW)}", headers=BROWSER)
        )
        assert response.status_code == 401
        assert "not installed" in response.get_data(as_text=True)
        assert shop_row(rt) is None
    finally:
        offline.close()
        runtime.install(rt)


def test_expiring_token_is_refreshed_once_when_workers_race(rt, client, admin_api):
    admin_api.add_shop(NEW)
    client.get(f"/?id_token={admin_api.session_token(NEW)}", headers=BROWSER)
    shop = shop_row(rt)
    first_token = rt.box.open(shop.access_token)
    # Just inside the refresh margin: every caller must refresh, but only one may spend the refresh token.
    soon = shop.access_token_expires_at - REFRESH_MARGIN + timedelta(seconds=1)
    admin_api.clear_requests()

    results, barrier = [], threading.Barrier(4)

    def worker():
        barrier.wait()
        results.append(access_token(rt.sessions, rt.box, OAuthClient(rt.settings), shop.id, soon))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    refreshes = [r for r in admin_api.requests if r.body and r.body.get("grant_type") == "refresh_token"]
    assert len(refreshes) == 1
    assert len({token for _, token in results}) == 1 and results[0][1] != first_token
    # The stored pair rotated: the new refresh token works, the new access token is usable now.
    shop = shop_row(rt)
    assert shop.access_token_expires_at > soon + REFRESH_MARGIN
    assert access_token(rt.sessions, rt.box, OAuthClient(rt.settings), shop.id, soon)[1] == results[0][1]


def test_a_token_that_cannot_be_refreshed_makes_messages_wait(store, admin_api):
    """No usable token: the payment check cannot run, so the message waits with a reason."""
    admin_api.revoke_tokens(store.domain)
    store.deliver("checkouts/create", store.checkout("c1", "2026-03-02T10:00:00+01:00"))
    store.tick("2026-03-02T10:00:00+00:00")
    first = store.message(step="first")
    assert first["status"] == "scheduled"
    assert first["reason"].startswith("waiting: the payment check could not reach Shopify")
    assert store.outbox() == []


def test_a_setup_lost_with_redis_is_queued_again_by_the_reconciler(rt, client, admin_api, monkeypatch):
    import jobs.dispatch

    admin_api.add_shop(NEW, name="Newcomer Goods", iana_timezone="Asia/Tokyo", currency_code="JPY")
    client.get(f"/?id_token={admin_api.session_token(NEW)}", headers=BROWSER)
    rt.redis.flushdb()  # the setup job is gone before any worker ran it
    store = ShopifyStore(rt, client, NEW)
    store.drain()
    assert shop_row(rt).setup_completed_at is None

    monkeypatch.setattr(jobs.dispatch, "INGEST_GRACE_SECONDS", 0)
    store.tick(datetime.now(UTC))
    shop = shop_row(rt)
    assert shop.setup_completed_at is not None and shop.timezone == "Asia/Tokyo"


def test_imported_customers_marketing_state_becomes_consent_records(rt, client, admin_api):
    from shop_app.storage.tables import Consent

    admin_api.add_shop(NEW, name="Newcomer Goods", iana_timezone="America/Toronto", currency_code="CAD")
    admin_api.add_customer(
        NEW,
        first_name="Sub",
        email="sub@example.com",
        email_marketing_state="SUBSCRIBED",
        phone="+14165550100",
        sms_marketing_state="UNSUBSCRIBED",
    )
    admin_api.add_customer(NEW, first_name="Quiet", email="quiet@example.com")  # NOT_SUBSCRIBED: no statement
    assert client.get(f"/?id_token={admin_api.session_token(NEW)}", headers=BROWSER).status_code == 200
    ShopifyStore(rt, client, NEW).drain()  # the setup job imports them
    with transaction(rt.sessions) as session:
        found = {(c.channel, c.address, c.state, c.source) for c in session.scalars(select(Consent))}
    assert found == {
        ("email", "sub@example.com", "granted", "customer"),
        ("sms", "+14165550100", "revoked", "customer"),
    }


def test_a_setup_that_keeps_failing_stops_after_bounded_attempts(rt, client, admin_api, monkeypatch):
    """Shopify refuses the token every time: the setup is tried MAX_JOB_ATTEMPTS times, with
    a backoff between runs, then left with its reason for the operator; never a loop."""
    import jobs.dispatch
    from shop_app.config import MAX_JOB_ATTEMPTS

    admin_api.add_shop(NEW, name="Newcomer Goods", iana_timezone="Asia/Tokyo", currency_code="JPY")
    client.get(f"/?id_token={admin_api.session_token(NEW)}", headers=BROWSER)
    admin_api.revoke_tokens(NEW)
    store = ShopifyStore(rt, client, NEW)
    store.drain()
    shop = shop_row(rt)
    assert (shop.setup_attempts, shop.setup_completed_at) == (1, None)
    assert shop.setup_error.startswith(f"attempt 1 of {MAX_JOB_ATTEMPTS} failed (")

    monkeypatch.setattr(jobs.dispatch, "INGEST_GRACE_SECONDS", 0)
    store.tick(datetime.now(UTC))  # within the backoff: not restarted
    assert shop_row(rt).setup_attempts == 1
    at = datetime.now(UTC)
    for _ in range(MAX_JOB_ATTEMPTS + 3):
        at += timedelta(hours=3)
        store.tick(at)
    shop = shop_row(rt)
    assert (shop.setup_attempts, shop.setup_completed_at) == (MAX_JOB_ATTEMPTS, None)
    assert shop.setup_error.startswith(f"gave up after {MAX_JOB_ATTEMPTS} failed attempts; last: ")
