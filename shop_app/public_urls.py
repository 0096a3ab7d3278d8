"""The app's public URLs that leave it: in messages, in provider callbacks, in the merchant's
provider settings. Built here, from SHOPIFY_APP_URL, so the routes and the links agree.

The routes themselves live in `webhooks/` (Twilio callbacks, /u/ unsubscribe, /c/ clicks).
"""

from __future__ import annotations


def _base(app_url: str) -> str:
    return app_url.rstrip("/")


def twilio_status_callback(app_url: str, message_id: int) -> str:
    """Where Twilio reports one message's delivery status (signed by the shop's auth token)."""
    return f"{_base(app_url)}/webhooks/twilio/status/{message_id}"


def twilio_inbound(app_url: str, shop_domain: str) -> str:
    """The Messaging webhook URL a merchant sets on their Twilio number or Messaging Service."""
    return f"{_base(app_url)}/webhooks/twilio/inbound/{shop_domain}"


def unsubscribe(app_url: str, token: str) -> str:
    """The one-click unsubscribe link (List-Unsubscribe and the visible footer link)."""
    return f"{_base(app_url)}/u/{token}"


def tracked_click(app_url: str, token: str) -> str:
    """A link that counts the click, then redirects to the signed target."""
    return f"{_base(app_url)}/c/{token}"
