"""The webhook endpoint's cache of installed shops: its TTL, its hold and its size bound."""

from __future__ import annotations

from shop_app.shopify import shop_cache
from shop_app.shopify.shop_cache import HOLD_SECONDS, TTL_SECONDS, ShopCache


class Clock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


def test_a_kept_shop_is_answered_until_its_ttl_ends():
    clock = Clock()
    cache = ShopCache(clock=clock)
    assert 5 <= TTL_SECONDS <= 30  # the documented staleness bound
    cache.keep("a.myshopify.com", 7)
    clock.now += TTL_SECONDS - 0.01
    assert cache.get("a.myshopify.com") == 7
    clock.now += 0.01
    assert cache.get("a.myshopify.com") is None
    assert cache.get("a.myshopify.com") is None  # and gone, not revived


def test_forget_drops_a_shop_at_once():
    cache = ShopCache(clock=Clock())
    cache.keep("a.myshopify.com", 7)
    cache.forget("a.myshopify.com")
    assert cache.get("a.myshopify.com") is None


def test_a_held_shop_is_not_kept_until_the_hold_ends():
    clock = Clock()
    cache = ShopCache(clock=clock)
    cache.keep("a.myshopify.com", 7)
    cache.hold("a.myshopify.com")
    assert cache.get("a.myshopify.com") is None
    cache.keep("a.myshopify.com", 7)  # read again while its uninstall is being processed
    assert cache.get("a.myshopify.com") is None
    clock.now += HOLD_SECONDS
    cache.keep("a.myshopify.com", 8)  # reinstalled: kept again
    assert cache.get("a.myshopify.com") == 8
    cache.keep("b.myshopify.com", 9)  # other shops are not held
    assert cache.get("b.myshopify.com") == 9


def test_the_cache_stays_bounded_and_keeps_the_newest(monkeypatch):
    monkeypatch.setattr(shop_cache, "MAX_SHOPS", 10)
    clock = Clock()
    cache = ShopCache(clock=clock)
    for n in range(25):
        clock.now += 0.01
        cache.keep(f"s{n}.myshopify.com", n)
    kept = [n for n in range(25) if cache.get(f"s{n}.myshopify.com") is not None]
    assert len(kept) <= 10 and 24 in kept and 0 not in kept
