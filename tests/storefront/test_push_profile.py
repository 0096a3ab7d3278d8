"""A storefront push subscription captures the logged-in customer's profile (issue 11, profile
origin), through the real app-proxy route signed as Shopify signs it."""

from __future__ import annotations

import json
import time
from urllib.parse import urlencode

import pytest
from sqlalchemy import select

from shop_app.shopify.app_proxy import signed_query
from shop_app.storage.database import transaction
from shop_app.storage.tables import Journey, Profile, PushSubscription
from tests.push_peer import Browser

ENDPOINT = "https://fcm.googleapis.com/fcm/send/dGVzdC1lbmRwb2ludA:APA91b-example"


def subscribe(store, customer_id: str = "", *, claims: dict | None = None):
    """POST /proxy/subscribe as Shopify's proxy forwards it, `customer_id` the signed
    logged_in_customer_id (empty: nobody is logged in), `claims` more fields in the body."""
    params = {
        "shop": store.domain,
        "logged_in_customer_id": customer_id,
        "path_prefix": "/apps/reclaim",
        "timestamp": str(int(time.time())),
    }
    query = urlencode(signed_query(params, store.rt.settings.shopify_api_secret))
    payload = {"subscription": Browser(ENDPOINT).subscription, "cart_token": "cart-1?key=k", **(claims or {})}
    return store.client.post(
        f"/proxy/subscribe?{query}", data=json.dumps(payload), headers={"Content-Type": "application/json"}
    )


def profiles(store) -> list[tuple[str | None, str, str | None, str | None]]:
    """(customer id, origin, captured by, email) of every profile."""
    with transaction(store.rt.sessions) as session:
        found = session.scalars(select(Profile).order_by(Profile.id))
        return [(p.customer_id, p.origin, p.captured_by, p.email) for p in found]


def linked_profiles(store) -> list[int | None]:
    with transaction(store.rt.sessions) as session:
        return list(session.scalars(select(PushSubscription.profile_id).order_by(PushSubscription.id)))


def test_a_logged_in_customer_who_subscribes_is_captured_by_push(store) -> None:
    assert subscribe(store, "7001").status_code == 201
    assert profiles(store) == [("7001", "captured", "push", None)]
    with transaction(store.rt.sessions) as session:
        profile_id = session.scalar(select(Profile.id))
    assert linked_profiles(store) == [profile_id]
    assert subscribe(store, "7001").status_code == 201  # subscribing again makes no second profile
    assert len(profiles(store)) == 1


def test_an_imported_customer_stays_imported(store) -> None:
    before_install = {"id": 7001, "email": "ana@example.com", "created_at": "2020-01-01T00:00:00Z"}
    store.deliver("customers/create", before_install)
    assert subscribe(store, "7001").status_code == 201
    assert profiles(store) == [("7001", "imported", None, "ana@example.com")]
    assert linked_profiles(store) != [None]


def test_a_profile_the_checkout_captured_keeps_its_origin(store) -> None:
    store.deliver("checkouts/create", store.checkout("c1", "2026-03-02T18:00:00+01:00", email="ana@example.com"))
    assert subscribe(store, "7001").status_code == 201  # the checkout fixture's customer
    assert profiles(store) == [("7001", "captured", "checkout", "ana@example.com")]


def test_without_a_logged_in_customer_the_subscription_names_nobody(store) -> None:
    # The body is anyone's to write: an email or customer id in it is not an identity.
    claimed = {"email": "ana@example.com", "customer_id": "7001", "logged_in_customer_id": "7001"}
    assert subscribe(store, "", claims=claimed).status_code == 201
    assert profiles(store) == []
    assert linked_profiles(store) == [None]


@pytest.mark.parametrize("customer_id", ["0", "-1", "9" * 40, "7001\n", "abc", "७००१"])
def test_a_logged_in_id_that_is_not_a_customer_id_captures_nothing(store, customer_id: str) -> None:
    assert subscribe(store, customer_id).status_code == 201
    assert profiles(store) == []


def test_a_push_captured_customer_s_first_order_starts_the_referral_flow(store, admin_api) -> None:
    admin_api.set_order_count(store.domain, "7001", 1)
    assert subscribe(store, "7001").status_code == 201
    order = store.order(None, "2026-03-02T19:00:00+01:00", id=9001, name="#1001")  # customer 7001
    store.deliver("orders/paid", order)
    with transaction(store.rt.sessions) as session:
        journey = session.scalars(select(Journey).where(Journey.flow == "referral")).one()
        assert journey.status == "active"
        assert session.get_one(Profile, journey.profile_id).captured_by == "push"
