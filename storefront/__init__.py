"""The storefront side, reached through the Shopify app proxy (`/apps/reclaim/…` on the shop's domain)."""

from storefront.routes import bp

__all__ = ["bp"]
