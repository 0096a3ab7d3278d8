"""Tracked links: `{SHOPIFY_APP_URL}/c/<token>` counts the click, then sends the customer on.

The token carries the message id and the target URL, signed (HMAC-SHA256, 96-bit tag) under a key
derived from RECLAIM_SECRET_KEY with its own label, so nobody can mint one for a URL of their choosing
and /c/ is no open redirect. Signed rather than stored or encrypted: the customer reaches the cart
even after the message row is gone, and the link stays short. Tokens never expire; rotating the key
invalidates them. Clicks are counted once per message, in one MessageEvent row ("clicked", clicks=N).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import struct
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shop_app import public_urls
from shop_app.domain.delivery import advance
from shop_app.errors import ReclaimError
from shop_app.storage.tables import Message, MessageEvent

PROVIDER = "reclaim"
EVENT = "clicked"
TAG_BYTES = 12
MAX_TARGET_LENGTH = 2048
#: base64 of version + id + the longest target + tag, with room to spare.
MAX_TOKEN_LENGTH = 4 * (1 + 8 + MAX_TARGET_LENGTH + TAG_BYTES) // 3 + 4
_VERSION = 1
_HEADER = struct.Struct(">BQ")  # version, message id
_TOKEN_CHARS = re.compile(r"^[A-Za-z0-9_-]+$")
_UNSAFE = re.compile(r"[\x00-\x20\x7f\\]")  # whitespace, controls, and backslashes browsers read as slashes


class BadClickToken(ReclaimError, ValueError):
    """The token was not issued by us with this key, or was altered."""


@dataclass(frozen=True)
class ClickTarget:
    message_id: int
    url: str


def check_target(url: str) -> str:
    """The URL itself when it is an absolute http(s) URL with a host; ValueError otherwise."""
    if not isinstance(url, str) or not url or len(url) > MAX_TARGET_LENGTH:
        raise ValueError(f"a tracked link target must be a URL of at most {MAX_TARGET_LENGTH} characters")
    if _UNSAFE.search(url):
        raise ValueError("a tracked link target may not contain spaces, control characters or backslashes")
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError("a tracked link target must be an absolute http(s) URL with a host")
    return url


def _key(secret_key: str) -> bytes:
    return hashlib.sha256(b"reclaim-click:" + secret_key.encode()).digest()


def _tag(secret_key: str, signed: bytes) -> bytes:
    return hmac.new(_key(secret_key), signed, hashlib.sha256).digest()[:TAG_BYTES]


def click_token(secret_key: str, message_id: int, target_url: str) -> str:
    if not isinstance(message_id, int) or not 0 < message_id < 2**63:
        raise ValueError("message_id must be a positive row id")
    signed = _HEADER.pack(_VERSION, message_id) + check_target(target_url).encode("utf-8")
    return base64.urlsafe_b64encode(signed + _tag(secret_key, signed)).decode().rstrip("=")


def read_click_token(secret_key: str, token: str) -> ClickTarget:
    if not token or len(token) > MAX_TOKEN_LENGTH or not _TOKEN_CHARS.match(token):
        raise BadClickToken("click token missing, too long or not base64url")
    try:
        blob = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except ValueError as exc:
        raise BadClickToken("click token is not base64url") from exc
    if base64.urlsafe_b64encode(blob).decode().rstrip("=") != token:  # one token per payload, no spare bits
        raise BadClickToken("click token is not in canonical form")
    if len(blob) <= _HEADER.size + TAG_BYTES:
        raise BadClickToken("click token is too short")
    signed, tag = blob[:-TAG_BYTES], blob[-TAG_BYTES:]
    if not hmac.compare_digest(tag, _tag(secret_key, signed)):
        raise BadClickToken("click token does not carry our signature")
    version, message_id = _HEADER.unpack_from(signed)
    try:
        url = check_target(signed[_HEADER.size :].decode("utf-8"))
    except ValueError as exc:  # cannot happen for a token we minted; refuse rather than redirect
        raise BadClickToken("click token target is not an http(s) URL") from exc
    if version != _VERSION or message_id == 0:
        raise BadClickToken("click token has an unexpected payload")
    return ClickTarget(message_id, url)


def tracked_url(secret_key: str, app_url: str, message_id: int, target_url: str) -> str:
    """`{app_url}/c/<token>`; raises ValueError for a target that is not an absolute http(s) URL."""
    return public_urls.tracked_click(app_url, click_token(secret_key, message_id, target_url))


def record_click(session: Session, target: ClickTarget, at: datetime) -> int | None:
    """Count one click on the message; the running count, or None when the message is gone.

    The message row is locked first, so concurrent clicks on one message queue up instead
    of racing for the first insert; the savepoint covers databases without row locks.
    """
    message = session.get(Message, target.message_id, with_for_update=True)
    if message is None:
        return None
    provider_id = str(message.id)
    row = _click_row(session, provider_id)
    if row is None:
        first = {"clicks": 1, "first_at": at.isoformat(), "last_at": at.isoformat(), "last_url": target.url}
        try:
            with session.begin_nested():
                session.add(
                    MessageEvent(
                        shop_id=message.shop_id,
                        message_id=message.id,
                        provider=PROVIDER,
                        provider_id=provider_id,
                        event=EVENT,
                        detail="clicked 1 time",
                        raw=first,
                    )
                )
        except IntegrityError:  # a concurrent first click won the insert: count on top of it
            row = _click_row(session, provider_id)
    count = 1
    if row is not None:
        raw = dict(row.raw or {})
        count = int(raw.get("clicks") or 0) + 1
        raw.update(clicks=count, last_at=at.isoformat(), last_url=target.url)
        row.raw, row.detail = raw, f"clicked {count} times"
    moved = advance(message.delivery_status, EVENT)
    if moved is not None:
        message.delivery_status, message.delivery_detail = moved, "the customer followed a link in the message"
    return count


def _click_row(session: Session, provider_id: str) -> MessageEvent | None:
    return session.scalar(
        select(MessageEvent).where(
            MessageEvent.provider == PROVIDER, MessageEvent.provider_id == provider_id, MessageEvent.event == EVENT
        )
    )
