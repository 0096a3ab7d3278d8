"""Opaque, signed unsubscribe tokens: `{SHOPIFY_APP_URL}/u/{token}`.

A token carries (shop id, channel, address), encrypted and authenticated with a key
derived from RECLAIM_SECRET_KEY (Fernet: AES-128-CBC + HMAC-SHA256). Why encrypted
and not only signed: a signed-only token (itsdangerous) is base64 of the payload, so
the customer's email address would be readable in every link a mail scanner, proxy
log or forwarded message sees. Why not a server-side token table: it would cost a row
per email sent and a migration, and a stateless token keeps working after the message
rows are pruned. The key is derived with its own label, so a token can never be
confused with a secret sealed at rest by SecretBox. Tokens do not expire: RFC 8058
and Gmail expect the link to keep working. Rotating RECLAIM_SECRET_KEY invalidates
old links (they answer 400), like every other secret derived from it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from shop_app.config import Settings
from shop_app.storage.secret_box import SecretBox

#: Fernet tokens for our payloads are ~200 characters; anything far longer is junk.
MAX_TOKEN_LENGTH = 1024
_VERSION = 1


class BadUnsubscribeToken(ValueError):
    """The token was not issued by us with this key, or was altered."""


@dataclass(frozen=True)
class UnsubscribeTarget:
    shop_id: int
    channel: str
    address: str


class UnsubscribeTokens:
    def __init__(self, secret_key: str):
        self._box = SecretBox(secret_key, purpose="unsubscribe")

    def issue(self, target: UnsubscribeTarget) -> str:
        payload = json.dumps([_VERSION, target.shop_id, target.channel, target.address], separators=(",", ":"))
        return self._box.seal(payload).rstrip("=")  # padding adds nothing to a URL

    def read(self, token: str) -> UnsubscribeTarget:
        if not token or len(token) > MAX_TOKEN_LENGTH:
            raise BadUnsubscribeToken("unsubscribe token missing or too long")
        try:
            payload = json.loads(self._box.open(token + "=" * (-len(token) % 4)))
            version, shop_id, channel, address = payload
        except (ValueError, TypeError) as exc:  # SecretBox.open raises ValueError for a bad token
            raise BadUnsubscribeToken("unsubscribe token is not valid") from exc
        if (
            version != _VERSION
            or not isinstance(shop_id, int)
            or not isinstance(channel, str)
            or not isinstance(address, str)
            or not address
        ):
            raise BadUnsubscribeToken("unsubscribe token has an unexpected payload")
        return UnsubscribeTarget(shop_id, channel, address)


def unsubscribe_url(settings: Settings, shop_id: int, channel: str, address: str) -> str:
    """The link for List-Unsubscribe and for the visible footer link."""
    token = UnsubscribeTokens(settings.secret_key).issue(UnsubscribeTarget(shop_id, channel, address))
    return f"{settings.shopify_app_url}/u/{token}"
