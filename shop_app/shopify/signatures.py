"""Small, pure checks of what arrives from Shopify: webhook HMACs and shop domains."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

from shop_app.errors import InvalidShopDomain

_SHOP_DOMAIN = re.compile(r"^[a-z0-9][a-z0-9-]*[a-z0-9]\.myshopify\.com$")


def webhook_hmac(body: bytes, secret: str) -> str:
    """Shopify's webhook signature: base64 of HMAC-SHA256 over the raw body."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def verify_webhook(body: bytes, signature: str | None, secrets: tuple[str, ...]) -> bool:
    """Constant-time check against the current secret and, during a rotation, the old one."""
    if not signature:
        return False
    given = signature.strip().encode()
    ok = False
    for secret in secrets:
        # Compare against every secret so timing does not reveal which one matched.
        ok |= hmac.compare_digest(webhook_hmac(body, secret).encode(), given)
    return ok


def clean_shop_domain(value: str | None) -> str:
    """Return the lower-cased `name.myshopify.com`, or raise InvalidShopDomain."""
    domain = (value or "").strip().lower()
    if len(domain) > 255 or not _SHOP_DOMAIN.match(domain):
        raise InvalidShopDomain(f"not a *.myshopify.com shop domain: {value!r}")
    return domain
