"""App subscriptions for the development Admin API (admin_api.py), kept in memory (issue 14).

Shopify App Pricing runs the plan selection page and makes the subscriptions; here a test or the
demo says what the merchant chose (`subscribe`, `cancel`) and whether the store is a partner
development store. admin_api.py answers `currentAppInstallation` and `shop.plan` from this,
validated against the 2026-07 schema like every other request, and `webhook_payload` gives the
body Shopify would send to `app_subscriptions/update` for the same change.

Shapes (2026-07 SDL): AppInstallation.activeSubscriptions: [AppSubscription!]! (the ACTIVE ones);
AppSubscription { id name status test trialDays createdAt currentPeriodEnd returnUrl lineItems };
AppSubscriptionLineItem { id plan: AppPlanV2 { pricingDetails: AppRecurringPricing | AppUsagePricing } };
ShopPlan { partnerDevelopment publicDisplayName shopifyPlus }. The webhook body follows Shopify's
sample for the topic: `{"app_subscription": {admin_graphql_api_id, name, status,
admin_graphql_api_shop_id, created_at, updated_at, currency, capped_amount, price, interval,
plan_handle}}` (shopify.dev webhooks reference, app_subscriptions/update; `plan_handle` since 2025-04).
"""

from __future__ import annotations

import itertools
import threading
import weakref
import zlib
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

ENDED = ("CANCELLED", "DECLINED", "EXPIRED")


@dataclass(frozen=True)
class DevSubscription:
    id: str
    name: str
    status: str
    plan_handle: str | None
    price: Decimal
    currency: str
    created_at: datetime
    updated_at: datetime
    test: bool = True


@dataclass
class _ShopBilling:
    development: bool = True  # the development server stands in for a development store
    app_category: str = "PUBLIC"  # AppPublicCategory; CUSTOM for a merchant's custom app
    subscriptions: list[DevSubscription] = field(default_factory=list)


class DevBilling:
    """The subscriptions of every shop of one development Admin API."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._ids = itertools.count(7001)
        self._shops: dict[str, _ShopBilling] = {}

    def reset(self) -> None:
        with self._lock:
            self._shops.clear()

    def _shop(self, domain: str) -> _ShopBilling:
        return self._shops.setdefault(domain, _ShopBilling())

    # --- arranging (tests, demo) ---------------------------------------------------------------

    def set_development(self, domain: str, development: bool) -> None:
        with self._lock:
            self._shop(domain).development = development

    def set_app_category(self, domain: str, category: str) -> None:
        with self._lock:
            self._shop(domain).app_category = category

    def subscribe(
        self,
        domain: str,
        name: str,
        plan_handle: str | None,
        *,
        price: Decimal = Decimal("29.00"),
        currency: str = "USD",
        at: datetime | None = None,
        status: str = "ACTIVE",
    ) -> DevSubscription:
        """The merchant chose a plan on Shopify's page: the new subscription replaces the active one
        (which becomes CANCELLED, as Shopify does when a new one is activated)."""
        now = at or datetime.now(UTC)
        with self._lock:
            shop = self._shop(domain)
            if status == "ACTIVE":
                shop.subscriptions = [
                    replace(s, status="CANCELLED", updated_at=now) if s.status == "ACTIVE" else s
                    for s in shop.subscriptions
                ]
            created = DevSubscription(
                f"gid://shopify/AppSubscription/{next(self._ids)}",
                name,
                status,
                plan_handle,
                price,
                currency,
                now,
                now,
            )
            shop.subscriptions.append(created)
            return created

    def cancel(self, domain: str, *, at: datetime | None = None, status: str = "CANCELLED") -> DevSubscription | None:
        """The active subscription ends (CANCELLED, or FROZEN for non-payment); returns it as ended."""
        now = at or datetime.now(UTC)
        with self._lock:
            shop = self._shop(domain)
            for n, subscription in enumerate(shop.subscriptions):
                if subscription.status == "ACTIVE":
                    shop.subscriptions[n] = replace(subscription, status=status, updated_at=now)
                    return shop.subscriptions[n]
        return None

    def subscriptions(self, domain: str) -> list[DevSubscription]:
        with self._lock:
            return list(self._shop(domain).subscriptions)

    # --- answering (admin_api.py) --------------------------------------------------------------

    def installation(self, domain: str) -> dict:
        """`currentAppInstallation` for the shop."""
        with self._lock:
            active = [s for s in self._shop(domain).subscriptions if s.status == "ACTIVE"]
            category = self._shop(domain).app_category
        return {
            "__typename": "AppInstallation",
            "id": f"gid://shopify/AppInstallation/{zlib.crc32(domain.encode())}",
            "app": {"__typename": "App", "publicCategory": category, "handle": "reclaim"},
            "activeSubscriptions": [_subscription_node(s) for s in active],
        }

    def shop_plan(self, domain: str) -> dict:
        """`shop.plan` for the shop."""
        with self._lock:
            development = self._shop(domain).development
        return {
            "__typename": "ShopPlan",
            "partnerDevelopment": development,
            "publicDisplayName": "Development" if development else "Basic",
            "shopifyPlus": False,
        }

    def webhook_payload(self, domain: str, subscription: DevSubscription) -> dict:
        """The `app_subscriptions/update` body Shopify sends for this subscription's current state."""
        return {
            "app_subscription": {
                "admin_graphql_api_id": subscription.id,
                "name": subscription.name,
                "status": subscription.status,
                "admin_graphql_api_shop_id": f"gid://shopify/Shop/{zlib.crc32(domain.encode())}",
                "created_at": _iso(subscription.created_at),
                "updated_at": _iso(subscription.updated_at),
                "currency": subscription.currency,
                "capped_amount": None,
                "price": f"{subscription.price:.2f}",
                "interval": "every_30_days",
                "plan_handle": subscription.plan_handle,
            }
        }


#: Each development server's billing state (admin_api.py routes its fields here).
_kept: weakref.WeakKeyDictionary[Any, DevBilling] = weakref.WeakKeyDictionary()
_kept_lock = threading.Lock()


def billing_of(server: Any) -> DevBilling:
    """The subscriptions of this development server's shops (tests and the demo arrange them here)."""
    with _kept_lock:
        return _kept.setdefault(server, DevBilling())


def forget(server: Any) -> None:
    """Part of the server's reset()."""
    with _kept_lock:
        _kept.pop(server, None)


def installation(server: Any, domain: str) -> dict:
    """QueryRoot.currentAppInstallation."""
    return billing_of(server).installation(domain)


def shop_plan(server: Any, domain: str) -> dict:
    """Shop.plan."""
    return billing_of(server).shop_plan(domain)


def _subscription_node(subscription: DevSubscription) -> dict:
    money = {"__typename": "MoneyV2", "amount": f"{subscription.price:.2f}", "currencyCode": subscription.currency}
    pricing = {
        "__typename": "AppRecurringPricing",
        "planHandle": subscription.plan_handle,
        "interval": "EVERY_30_DAYS",
        "price": money,
        "discount": None,
    }
    return {
        "__typename": "AppSubscription",
        "id": subscription.id,
        "name": subscription.name,
        "status": subscription.status,
        "test": subscription.test,
        "trialDays": 0,
        "createdAt": _iso(subscription.created_at),
        "currentPeriodEnd": _iso(subscription.created_at + timedelta(days=30)),
        "returnUrl": "https://admin.shopify.com/",
        "lineItems": [
            {
                "__typename": "AppSubscriptionLineItem",
                "id": f"gid://shopify/AppSubscriptionLineItem/{subscription.id.rsplit('/', 1)[-1]}",
                "plan": {"__typename": "AppPlanV2", "pricingDetails": pricing},
            }
        ],
    }


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
