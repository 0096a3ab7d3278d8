"""Inbound HTTP from Shopify and the channels: verify → record → enqueue → answer."""

from flask import Flask

from webhooks import clicks, routes, sendgrid_events, twilio_callbacks, unsubscribe


def init_app(app: Flask) -> None:
    """Shopify's webhooks, the providers' callbacks, and the links in our messages (/u/, /c/)."""
    for module in (routes, unsubscribe, clicks, sendgrid_events, twilio_callbacks):
        app.register_blueprint(module.bp)
    routes.init_cache(app)


__all__ = ["init_app"]
