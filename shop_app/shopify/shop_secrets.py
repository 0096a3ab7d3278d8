"""A merchant's custom app's own API secret, which signs that shop's webhooks (issue 14, item 2).

`reclaim shop install DOMAIN --token … --api-secret …` stores it, sealed with SecretBox like the
tokens, as the shop's `shopify` provider account (channel_connections: a shop's own provider
accounts, sealed secret; no schema change). Without one, the app's SHOPIFY_API_SECRET verifies
the shop's webhooks, as before. It stays after an uninstall: shop/redact comes 48 hours later,
signed with it; erasing the shop erases it.

The webhook route asks for it only when the app's own secrets did not match
(signatures.verify_shop_webhook), and each web process keeps the answer for CACHE_SECONDS, so a
secret changed by a new install applies within that time.
"""

from __future__ import annotations

import threading
import time

from sqlalchemy import select
from sqlalchemy.orm import Session

from shop_app.runtime import Runtime
from shop_app.storage.channel_tables import ChannelConnection
from shop_app.storage.database import transaction
from shop_app.storage.secret_box import SecretBox
from shop_app.storage.tables import Shop

PROVIDER = "shopify"
#: How long a web process keeps a shop's secret (or that it has none).
CACHE_SECONDS = 60.0
#: More shops than this asked in one process: the cache starts over.
MAX_CACHED = 10_000
#: What the row says it is (the admin never lists it: channels read their own providers only).
_CONFIG = {"what": "the custom app's API secret, for its webhooks' HMAC"}

_cache: dict[str, tuple[float, str | None]] = {}
_lock = threading.Lock()


def store_webhook_secret(session: Session, box: SecretBox, shop_id: int, secret: str) -> None:
    """Keep (or replace) the shop's own API secret, sealed."""
    row = session.scalar(
        select(ChannelConnection).where(ChannelConnection.shop_id == shop_id, ChannelConnection.provider == PROVIDER)
    )
    if row is None:
        session.add(
            ChannelConnection(shop_id=shop_id, provider=PROVIDER, config=dict(_CONFIG), secret=box.seal(secret))
        )
    else:
        row.config, row.secret = dict(_CONFIG), box.seal(secret)
    session.flush()


def has_webhook_secret(session: Session, shop_id: int) -> bool:
    return (
        session.scalar(
            select(ChannelConnection.id).where(
                ChannelConnection.shop_id == shop_id, ChannelConnection.provider == PROVIDER
            )
        )
        is not None
    )


def own_webhook_secret(runtime: Runtime, domain: str) -> str | None:
    """The shop's own API secret (opened), or None when it has none; cached per process."""
    now = time.monotonic()
    kept = _cache.get(domain)
    if kept is not None and kept[0] > now:
        return kept[1]
    with transaction(runtime.sessions) as session:
        sealed = session.scalar(
            select(ChannelConnection.secret)
            .join(Shop, Shop.id == ChannelConnection.shop_id)
            .where(Shop.domain == domain, ChannelConnection.provider == PROVIDER)
        )
    secret = runtime.box.open(sealed) if sealed is not None else None
    with _lock:
        if len(_cache) >= MAX_CACHED:
            _cache.clear()
        _cache[domain] = (now + CACHE_SECONDS, secret)
    return secret


def forget_cached(domain: str | None = None) -> None:
    """Drop what this process kept (one shop's, or all): a new install here applies at once."""
    with _lock:
        if domain is None:
            _cache.clear()
        else:
            _cache.pop(domain, None)
