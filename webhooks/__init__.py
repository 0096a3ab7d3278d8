"""Inbound HTTP from Shopify: verify → record → enqueue → answer. Nothing else happens here."""

from webhooks.routes import bp

__all__ = ["bp"]
