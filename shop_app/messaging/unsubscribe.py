"""Opaque unsubscribe tokens: `{SHOPIFY_APP_URL}/u/{token}` carries (shop id, channel, address).

Encrypted, not only signed (Fernet under a key derived from RECLAIM_SECRET_KEY with its own label), so
the customer's address is not readable in links that scanners, proxies and forwards see; stateless, so
it costs no row per email and outlives pruned messages. Tokens never expire (RFC 8058 and Gmail expect
the link to keep working); rotating the key invalidates them (they answer 400).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from shop_app import public_urls
from shop_app.config import Settings
from shop_app.errors import ReclaimError
from shop_app.storage.secret_box import SecretBox

#: Fernet tokens for our payloads are ~200 characters; anything far longer is junk.
MAX_TOKEN_LENGTH = 1024
_VERSION = 1


class BadUnsubscribeToken(ReclaimError, ValueError):
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
    return public_urls.unsubscribe(settings.shopify_app_url, token)
