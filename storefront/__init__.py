"""The storefront side, reached through the Shopify app proxy (`/apps/reclaim/…` on the shop's domain)."""

from flask import Flask

from storefront.routes import bp


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)


__all__ = ["bp", "init_app"]
