"""Small, pure checks of what arrives from Shopify: webhook HMACs and shop domains."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Callable

from shop_app.errors import InvalidShopDomain

_SHOP_DOMAIN = re.compile(r"^[a-z0-9][a-z0-9-]*[a-z0-9]\.myshopify\.com$")
#: Topics only Shopify sends about the app itself, signed with the app's secret: a shop's own
#: custom-app secret is the merchant's, and must not let the merchant sign their own plan change.
APP_ONLY_TOPICS = frozenset({"app_subscriptions/update"})


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


def verify_shop_webhook(
    body: bytes,
    signature: str | None,
    app_secrets: tuple[str, ...],
    domain: str | None,
    own_secret: Callable[[str], str | None],
    topic: str | None = None,
) -> bool:
    """A webhook signed with the app's secret (or the old one during a rotation), or with the
    shop's own custom-app API secret when `reclaim shop install --api-secret` stored one.

    Either is accepted for such a shop: the app's secret is trusted for every shop already, and
    the common case (a shop of the public app) stays a pure check with no lookup. `own_secret`
    (the shop's domain → its secret or None) is asked only when the app's secrets do not match,
    and never for `topic`s of APP_ONLY_TOPICS (billing: the merchant holds their own secret)."""
    if verify_webhook(body, signature, app_secrets):
        return True
    if not signature or topic in APP_ONLY_TOPICS:
        return False
    try:
        shop = clean_shop_domain(domain)
    except InvalidShopDomain:
        return False
    secret = own_secret(shop)
    return secret is not None and verify_webhook(body, signature, (secret,))
