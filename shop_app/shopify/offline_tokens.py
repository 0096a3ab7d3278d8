"""Offline access tokens: stored sealed, refreshed before use, rotated atomically.

Shopify's expiring offline tokens last an hour; the refresh token rotates on every
refresh, so two workers refreshing at once would burn it. A caller inside the refresh
margin therefore takes a write lock on the shop row before looking at the token again,
and the second one finds the fresh token the first one stored. Outside the margin
nothing is locked: a token that does not expire, or expires later, is only read.

The send job reads the shop's sealed token with its other facts (`KnownToken`) and opens
a client without another read when the token is usable (issue 13). Opened tokens are kept
per process by their sealed form (a new token is a new sealed string), and every client a
thread opens shares one HTTP session, so the Admin API's connections (and their TLS
handshakes) are reused across sends. The session keeps no cookies.
"""

from __future__ import annotations

import os
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from http.cookiejar import DefaultCookiePolicy

import requests
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


@dataclass(frozen=True)
class KnownToken:
    """The shop's token as a caller just read it with the shop row: domain, sealed token, expiry."""

    domain: str
    sealed: str | None
    expires_at: datetime | None


def open_admin_client(
    sessions: sessionmaker[Session],
    box: SecretBox,
    settings: Settings,
    shop_id: int,
    now: datetime,
    sleep: Callable[[float], None] = time.sleep,
    known: KnownToken | None = None,
) -> AdminClient:
    """An Admin API client for the shop with a usable token. Close it (or use `with`). With
    `known` (read just now) and usable, the database is not asked again."""
    if known is not None and known.sealed is not None and _fresh(known.expires_at, now):
        domain, token = known.domain, opened(box, known.sealed)
    else:
        domain, token = access_token(sessions, box, OAuthClient(settings), shop_id, now)
    return AdminClient(settings, domain, token, sleep=sleep, session=http_session())


_local = threading.local()
_opened: dict[str, str] = {}  # sealed token -> token
MAX_OPENED = 10_000


def opened(box: SecretBox, sealed: str) -> str:
    """The sealed token, opened once per process."""
    token = _opened.get(sealed)
    if token is None:
        token = box.open(sealed)
        if len(_opened) >= MAX_OPENED:
            _opened.clear()
        _opened[sealed] = token
    return token


def http_session() -> requests.Session:
    """This thread's HTTP session for the Admin API (clients do not close a session given to them)."""
    session: requests.Session | None = getattr(_local, "session", None)
    if session is None:
        session = requests.Session()
        session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))  # no cookie from one shop to the next
        if not urllib.request.getproxies():
            # No proxy in the environment: requests need not scan it again on every call (about
            # 4 ms of each payment check). The CA bundle it would find there is set once instead.
            session.trust_env = False
            bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
            if bundle:
                session.verify = bundle
        _local.session = session
    return session


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
            return shop.domain, opened(box, shop.access_token or "")
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
    return _fresh(shop.access_token_expires_at, now)


def _fresh(expires_at: datetime | None, now: datetime) -> bool:
    """A token that does not expire, or not within the refresh margin."""
    return expires_at is None or expires_at - now > REFRESH_MARGIN
