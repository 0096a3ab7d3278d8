"""The Shopify webhook topics the app subscribes to and receives, by what they are for. Stdlib only:
the webhook routes (webhooks/routes.py), the ingest (jobs/ingest.py) and the custom app's
subscriptions (shopify/custom_app.py) read the same lists."""

from __future__ import annotations

RECOVERY_TOPICS = (
    "checkouts/create",
    "checkouts/update",
    "checkouts/delete",
    "orders/create",
    "orders/paid",
)
#: The Referral Generation Flow's (issue 11): capture, fulfilment, cancellation and refunds.
REFERRAL_TOPICS = ("customers/create", "orders/fulfilled", "orders/cancelled", "refunds/create")
#: The topics whose delivery keeps its checkout's token (WebhookDelivery.subject).
CHECKOUT_TOPICS = ("checkouts/create", "checkouts/update")
LIFECYCLE_TOPICS = ("app/uninstalled",)
#: Billing (issue 14): the shop's subscription under Shopify App Pricing changed (shop_app/billing).
BILLING_TOPICS = ("app_subscriptions/update",)
COMPLIANCE_TOPICS = ("customers/data_request", "customers/redact", "shop/redact")
TOPICS = RECOVERY_TOPICS + REFERRAL_TOPICS + BILLING_TOPICS + LIFECYCLE_TOPICS + COMPLIANCE_TOPICS
#: Topics still accepted after uninstall (shop/redact arrives 48 h later).
AFTER_UNINSTALL = LIFECYCLE_TOPICS + COMPLIANCE_TOPICS
#: Topics that end a shop's install: this process stops caching the shop when one arrives.
ENDING_TOPICS = ("app/uninstalled", "shop/redact")
