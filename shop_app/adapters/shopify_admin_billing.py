"""The shop's app subscription and development-store flag, read through the Admin API (issue 14).

One registered document, `AppBillingState` (shopify_admin_documents.py), run by AdminClient:
- `currentAppInstallation.activeSubscriptions` — "the active application subscriptions billed to
  the shop on a recurring basis" (2026-07 SDL, AppInstallation); each AppSubscription has `id`,
  `name`, `status` (AppSubscriptionStatus: PENDING, ACTIVE, DECLINED, EXPIRED, FROZEN, CANCELLED;
  ACCEPTED deprecated), `test`, `currentPeriodEnd`, and `lineItems { plan { pricingDetails } }`,
  a union whose AppRecurringPricing member carries `planHandle`, the Partner Dashboard's plan
  handle under Shopify App Pricing (shopify.dev/changelog/new-planhandle-field-managed-pricing).
- `shop.plan.partnerDevelopment` — "whether the shop is a partner development shop for testing
  purposes" (2026-07 SDL, ShopPlan).
- `currentAppInstallation.app.publicCategory` — AppPublicCategory PUBLIC, CUSTOM, PRIVATE or OTHER:
  Shopify App Pricing is for public (App Store) apps; a merchant's custom app has no subscription
  to read and is not limited by the app's plans.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from shop_app.adapters.shopify_admin_operations import Operation
from shop_app.errors import AdminApiError

if TYPE_CHECKING:
    from shop_app.adapters.shopify_admin import AdminClient

OPERATION = "AppBillingState"


@dataclass(frozen=True)
class Subscription:
    id: str
    name: str
    status: str
    test: bool
    #: The Partner Dashboard's plan handle (None for a subscription made by the Billing API).
    plan_handle: str | None
    current_period_end: datetime | None


@dataclass(frozen=True)
class BillingState:
    subscriptions: tuple[Subscription, ...]
    development: bool
    #: AppPublicCategory of the installed app: PUBLIC, CUSTOM, PRIVATE or OTHER.
    app_category: str = "PUBLIC"


def billing_state_operation() -> Operation:
    return Operation(OPERATION, {})


def read_billing_state(client: AdminClient) -> BillingState:
    """The shop's active subscriptions and whether it is a development store."""
    return parse_billing_state(client.run(billing_state_operation()))


def parse_billing_state(data: dict[str, Any]) -> BillingState:
    try:
        nodes = data["currentAppInstallation"]["activeSubscriptions"]
        development = bool(data["shop"]["plan"]["partnerDevelopment"])
        category = str(data["currentAppInstallation"]["app"]["publicCategory"]).upper()
        subscriptions = tuple(_subscription(node) for node in nodes)
    except (KeyError, TypeError) as exc:
        raise AdminApiError(f"{OPERATION}: unexpected answer shape ({exc.__class__.__name__}: {exc})") from None
    return BillingState(subscriptions, development, category)


def _subscription(node: dict[str, Any]) -> Subscription:
    handles = [
        details.get("planHandle")
        for item in node.get("lineItems") or ()
        if (details := ((item or {}).get("plan") or {}).get("pricingDetails") or {}).get("planHandle")
    ]
    end = node.get("currentPeriodEnd")
    return Subscription(
        id=node["id"],
        name=node["name"],
        status=str(node["status"]).upper(),
        test=bool(node.get("test")),
        plan_handle=handles[0] if handles else None,
        current_period_end=datetime.fromisoformat(end) if end else None,
    )
