"""The app's plans, as the Partner Dashboard defines them under Shopify App Pricing.

Shopify App Pricing (formerly "managed pricing"): the plans are defined in the Partner Dashboard
(Distribution → Manage listing → Pricing content), Shopify hosts the plan selection page and
bills the merchant; the app creates no charges. Each plan has a handle the developer chooses
there, which Shopify returns as `AppRecurringPricing.planHandle` (Admin API, 2025-04 on) and as
`plan_handle` in the `app_subscriptions/update` webhook
(https://shopify.dev/changelog/new-planhandle-field-managed-pricing,
https://shopify.dev/docs/apps/launch/billing/shopify-app-pricing).

So the handles and names below MUST be the ones typed in the Partner Dashboard: the app finds a
subscription's plan by handle, then by name. The Free plan is also what a shop with no active
subscription is on. Pure: no I/O.
"""

from __future__ import annotations

from shop_app.domain.plan_limits import PlanTerms

FREE = PlanTerms("free", "Free", 50)
GROWTH = PlanTerms("growth", "Growth", 1_000)
SCALE = PlanTerms("scale", "Scale", None)
PLANS: tuple[PlanTerms, ...] = (FREE, GROWTH, SCALE)

#: The app's handle: shopify.app.toml's `handle` (tests/billing checks they agree).
APP_HANDLE = "reclaim"
MYSHOPIFY_SUFFIX = ".myshopify.com"


def plan_selection_url(shop_domain: str, app_handle: str = APP_HANDLE) -> str:
    """Shopify's hosted plan selection page for this shop:
    `https://admin.shopify.com/store/{store_handle}/charges/{app_handle}/pricing_plans`, the store
    handle being the myshopify subdomain (shopify.dev/docs/apps/launch/billing/shopify-app-pricing,
    "Plan selection page"). It lives in the admin's top window, outside the app's iframe."""
    store_handle = shop_domain.removesuffix(MYSHOPIFY_SUFFIX)
    return f"https://admin.shopify.com/store/{store_handle}/charges/{app_handle}/pricing_plans"
