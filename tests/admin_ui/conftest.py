"""Two installed shops with messages of their own, and session tokens signed like App Bridge's."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.support import ShopifyStore
from tests.tokens import session_token

ABANDONED = "2026-03-02T19:00:00+01:00"
SHOP_A = "demo-shop.myshopify.com"
SHOP_B = "other-shop.myshopify.com"


@dataclass
class Shops:
    a: ShopifyStore
    b: ShopifyStore
    a_message_ids: list[int]
    b_message_ids: list[int]


@pytest.fixture
def sign_in(rt):
    """A valid session token for a shop, made with this runtime's API key and secret."""

    def make(shop: str = SHOP_A, **overrides) -> str:
        overrides.setdefault("api_key", rt.settings.shopify_api_key)
        overrides.setdefault("secret", rt.settings.shopify_api_secret)
        return session_token(shop, **overrides)

    return make


@pytest.fixture
def bearer(sign_in):
    def make(shop: str = SHOP_A, **overrides) -> dict:
        return {"Authorization": f"Bearer {sign_in(shop, **overrides)}"}

    return make


@pytest.fixture
def shops(rt, client, store) -> Shops:
    """Shop A (the `store` fixture) and shop B, each with one abandoned checkout's messages."""
    other = ShopifyStore.install(rt, client, SHOP_B)
    store.deliver("checkouts/create", store.checkout("a-checkout-1", ABANDONED))
    other.deliver(
        "checkouts/create",
        other.checkout(
            "b-private-checkout",
            ABANDONED,
            abandoned_checkout_url="https://other-shop.myshopify.com/1/checkouts/ac/b-private-checkout/recover?key=k",
        ),
    )
    a_ids = [m["id"] for m in store.messages()]
    b_ids = [m["id"] for m in other.messages()]
    assert a_ids and b_ids, "the checkout webhooks should have planned messages for both shops"
    return Shops(store, other, a_ids, b_ids)
