"""Offline access tokens: stored sealed, refreshed before use, rotated atomically.

Shopify's expiring offline tokens last an hour; the refresh token rotates on every
refresh, so two workers refreshing at once would burn it. Callers therefore take a
write lock on the shop row before looking at the token, and the second one finds
the fresh token the first one stored.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from shop_app.adapters.shopify_admin import AdminClient
from shop_app.adapters.shopify_oauth import OAuthClient, OfflineToken
from shop_app.config import Settings
from shop_app.errors import ShopNotConnected
from shop_app.storage.database import transaction
from shop_app.storage.secret_box import SecretBox
from shop_app.storage.tables import Shop

#: Refresh this long before the access token expires, so a call never starts with a dying token.
REFRESH_MARGIN = timedelta(minutes=5)


def store_token(shop: Shop, token: OfflineToken, box: SecretBox) -> None:
    shop.access_token = box.seal(token.access_token)
    shop.access_token_expires_at = token.expires_at
    shop.refresh_token = box.seal(token.refresh_token) if token.refresh_token else None
    shop.refresh_token_expires_at = token.refresh_token_expires_at
    shop.scope = token.scope


def forget_token(shop: Shop) -> None:
    shop.access_token = shop.access_token_expires_at = None
    shop.refresh_token = shop.refresh_token_expires_at = None


def open_admin_client(
    sessions: sessionmaker[Session],
    box: SecretBox,
    settings: Settings,
    shop_id: int,
    now: datetime,
    sleep: Callable[[float], None] = time.sleep,
) -> AdminClient:
    """An Admin API client for the shop with a usable token. Close it (or use `with`)."""
    domain, token = access_token(sessions, box, OAuthClient(settings), shop_id, now)
    return AdminClient(settings, domain, token, sleep=sleep)


def access_token(
    sessions: sessionmaker[Session], box: SecretBox, oauth: OAuthClient, shop_id: int, now: datetime
) -> tuple[str, str]:
    """(shop domain, a usable Admin API token), refreshed first when it is about to expire.

    Most calls only read. Inside the refresh margin, a no-op write takes the row lock
    (PostgreSQL) or the write lock (SQLite) first, so concurrent refreshers queue and the
    second finds the token the first one stored."""
    with transaction(sessions) as session:
        shop = _connected(session, shop_id)
        if _usable(shop, now):
            return shop.domain, box.open(shop.access_token or "")
        session.execute(update(Shop).where(Shop.id == shop_id).values(scope=Shop.scope))
        shop = _connected(session, shop_id, populate_existing=True)
        if _usable(shop, now):  # another worker refreshed it while we waited for the lock
            return shop.domain, box.open(shop.access_token or "")
        if shop.refresh_token is None or (
            shop.refresh_token_expires_at is not None and shop.refresh_token_expires_at <= now
        ):
            raise ShopNotConnected("the access token expired and cannot be refreshed; the merchant must open the app")
        fresh = oauth.refresh(shop.domain, box.open(shop.refresh_token), now=now)
        store_token(shop, fresh, box)
        return shop.domain, fresh.access_token


def _connected(session: Session, shop_id: int, *, populate_existing: bool = False) -> Shop:
    shop = session.get(Shop, shop_id, populate_existing=populate_existing)
    if shop is None or shop.access_token is None:
        raise ShopNotConnected("the shop has no Admin API token (not installed, or uninstalled)")
    return shop


def _usable(shop: Shop, now: datetime) -> bool:
    expires_at = shop.access_token_expires_at
    return expires_at is None or expires_at - now > REFRESH_MARGIN
