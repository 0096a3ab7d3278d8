"""Pure pieces every recovery message uses: amounts in the checkout's currency and the link
that restores the checkout (with the discount applied when there is one). The texts
themselves are templates (shop_app/messaging/defaults.py, rendered by shop_app/messaging/texts.py)."""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import quote, urlsplit

from shop_app.domain.models import Checkout


def money(amount: Decimal, currency: str) -> str:
    return f"{amount.quantize(Decimal('0.01')):,} {currency}"


def recovery_link(checkout: Checkout, shop_domain: str, code: str | None) -> str:
    """The checkout's own recovery URL; with a code, Shopify's /discount/{code} applies it first."""
    url = checkout.abandoned_checkout_url or f"https://{shop_domain}/cart"
    if not code:
        return url
    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    return f"https://{shop_domain}/discount/{quote(code, safe='')}?redirect={quote(target, safe='')}"
