"""Browser push in the database: the app's VAPID keys and the shoppers' subscriptions.

The VAPID key pair is app-wide and made once: every browser subscription is bound to
the public key it was created with, so a second key would orphan all of them. The
private half is sealed with the runtime's SecretBox.

Subscriptions arrive from anonymous storefront visitors (storefront/routes.py), so
everything in them is checked before it is stored: the app later POSTs to the
endpoint and encrypts to the keys.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from typing import TypedDict
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from shop_app.adapters.webpush import generate_vapid_keys
from shop_app.compliance.consent_records import record_consent
from shop_app.errors import ReclaimError
from shop_app.storage.channel_tables import AppKey
from shop_app.storage.database import rows_changed, transaction
from shop_app.storage.secret_box import SecretBox
from shop_app.storage.tables import CheckoutRow, PushSubscription

VAPID_KEY_NAME = "vapid"
CHANNEL = "push"
CONSENT_SOURCE = "storefront"
#: Real endpoints (FCM, Mozilla autopush, Apple, WNS) are a few hundred characters.
MAX_ENDPOINT_LENGTH = 1024
#: PushSubscription.cart_token is a String(64).
MAX_CART_TOKEN_LENGTH = 64
#: Hosts an endpoint may use over plain http, for development and the test push service.
#: The push services browsers subscribe with (Chrome/Opera/Samsung: FCM; Firefox: Mozilla autopush;
#: Safari: Apple; Edge: Windows Push Notification Services). Nothing else is ever a push endpoint.
PUSH_SERVICE_HOSTS = frozenset({"fcm.googleapis.com", "android.googleapis.com"})
PUSH_SERVICE_SUFFIXES = (".push.services.mozilla.com", ".push.apple.com", ".notify.windows.com")
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
_B64URL = re.compile(r"^[A-Za-z0-9_-]+={0,2}$")
_CART_TOKEN = re.compile(r"^[\x21-\x7e]+$")  # Shopify: "treat it as an opaque identifier"


class InvalidSubscription(ReclaimError, ValueError):
    """A push subscription (or cart token) from the storefront that cannot be stored."""


class SubscriptionJson(TypedDict):
    """A browser's PushSubscription.toJSON(): where to POST, and the keys to encrypt to."""

    endpoint: str
    keys: dict[str, str]  # p256dh, auth: unpadded base64url


@dataclass(frozen=True)
class VapidKeys:
    private: str  # opened: the base64url P-256 scalar PushTransport takes
    public: str  # the application server key the storefront script subscribes with


# --- the VAPID key pair ---------------------------------------------------------------------------
def _stored_keys(sessions: sessionmaker[Session]) -> AppKey | None:
    with transaction(sessions) as session:
        return session.get(AppKey, VAPID_KEY_NAME)


def vapid_keys(sessions: sessionmaker[Session], box: SecretBox) -> VapidKeys:
    """The app's VAPID keys, generated on first use and the same forever after.

    Race-safe: the insert runs in its own transaction, and a process that loses the
    race to the primary key reads the winner's pair instead of its own.
    """
    row = _stored_keys(sessions)
    if row is None:
        private, public = generate_vapid_keys()
        try:
            with transaction(sessions) as session:
                session.add(AppKey(name=VAPID_KEY_NAME, private=box.seal(private), public=public))
        except IntegrityError:
            pass  # another process stored its pair first: use that one
        row = _stored_keys(sessions)
        if row is None:
            raise RuntimeError("the VAPID key pair is missing right after it was stored")
    return VapidKeys(private=box.open(row.private), public=row.public)


# --- checking what the storefront sent --------------------------------------------------------------
def _decode_key(value: object, name: str) -> bytes:
    if not isinstance(value, str) or not value or len(value) > 128 or not _B64URL.match(value):
        raise InvalidSubscription(f"keys.{name} must be a base64url string")
    bare = value.rstrip("=")
    try:
        return base64.urlsafe_b64decode(bare + "=" * (-len(bare) % 4))
    except (binascii.Error, ValueError) as exc:
        raise InvalidSubscription(f"keys.{name} is not valid base64url") from exc


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _check_endpoint(endpoint: object, allow_local: bool) -> str:
    if not isinstance(endpoint, str) or not endpoint:
        raise InvalidSubscription("endpoint must be a URL string")
    if len(endpoint) > MAX_ENDPOINT_LENGTH:
        raise InvalidSubscription(f"endpoint is longer than {MAX_ENDPOINT_LENGTH} characters")
    if any(ord(ch) < 0x21 or ord(ch) > 0x7E for ch in endpoint):
        raise InvalidSubscription("endpoint must be a plain ASCII URL without spaces")
    try:
        parts = urlsplit(endpoint)
        host = (parts.hostname or "").lower()
        _ = parts.port  # raises ValueError for a port that is not a number
    except ValueError as exc:
        raise InvalidSubscription("endpoint is not a valid URL") from exc
    if parts.scheme not in ("https", "http") or not host:
        raise InvalidSubscription("endpoint must be an https URL")
    if parts.username is not None or parts.password is not None or parts.fragment:
        raise InvalidSubscription("endpoint must not carry credentials or a fragment")
    local = host in LOCAL_HOSTS
    if parts.scheme == "http" and not local:
        raise InvalidSubscription("endpoint must use https")
    if not allow_local and not _known_push_service(host):
        # Anyone can post a subscription through the storefront, and the worker then POSTs to it:
        # only the browsers' push services are accepted, so nobody can aim our requests inside.
        raise InvalidSubscription("endpoint is not a known browser push service")
    return endpoint


def _known_push_service(host: str) -> bool:
    return host in PUSH_SERVICE_HOSTS or any(host.endswith(suffix) for suffix in PUSH_SERVICE_SUFFIXES)


def _check_p256dh(value: object) -> str:
    raw = _decode_key(value, "p256dh")
    if len(raw) != 65 or raw[0] != 0x04:
        raise InvalidSubscription("keys.p256dh must be a 65-octet uncompressed P-256 public key")
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)
    except ValueError as exc:
        raise InvalidSubscription("keys.p256dh is not a point on the P-256 curve") from exc
    return _b64url(raw)


def _check_auth(value: object) -> str:
    raw = _decode_key(value, "auth")
    if len(raw) != 16:
        raise InvalidSubscription("keys.auth must decode to a 16-octet secret")
    return _b64url(raw)


def clean_subscription(subscription: object, *, allow_local: bool = True) -> SubscriptionJson:
    """The browser's PushSubscription.toJSON(), checked and normalized (unpadded base64url keys).

    `allow_local` admits http://127.0.0.1 / localhost endpoints (development and tests);
    the storefront route turns it off outside development.
    """
    if not isinstance(subscription, dict):
        raise InvalidSubscription("subscription must be an object with endpoint and keys")
    keys = subscription.get("keys")
    if not isinstance(keys, dict):
        raise InvalidSubscription("subscription.keys must be an object with p256dh and auth")
    return {
        "endpoint": _check_endpoint(subscription.get("endpoint"), allow_local),
        "keys": {"p256dh": _check_p256dh(keys.get("p256dh")), "auth": _check_auth(keys.get("auth"))},
    }


def clean_cart_token(cart_token: object) -> str:
    """The cart token without the `?key=…` Shopify appends in the Ajax API since 2024-06.

    The key lets its holder change the cart; we only need the token to find the checkout,
    so the key is never stored.
    """
    return _bare_cart_token(_given_cart_token(cart_token))


def _given_cart_token(cart_token: object) -> str:
    if not isinstance(cart_token, str) or not cart_token:
        raise InvalidSubscription("cart_token must be a non-empty string (from /cart.js)")
    return cart_token


def _bare_cart_token(cart_token: str) -> str:
    token = cart_token.split("?", 1)[0]
    if not token or len(token) > MAX_CART_TOKEN_LENGTH or not _CART_TOKEN.match(token):
        raise InvalidSubscription(f"cart_token must be at most {MAX_CART_TOKEN_LENGTH} visible ASCII characters")
    return token


def endpoint_hash(endpoint: str) -> str:
    """SHA-256 hex of the endpoint: the unique key, and the consent address (endpoints can exceed 320 chars)."""
    return hashlib.sha256(endpoint.encode()).hexdigest()


# --- subscriptions ------------------------------------------------------------------------------------
def _checkout_profile(session: Session, shop_id: int, cart_tokens: set[str]) -> int | None:
    """The profile of the newest checkout made from this cart, if one arrived already.

    Both spellings are tried: the bare token, and the Ajax API's `token?key=…`, in case
    a webhook ever carries the latter.
    """
    return session.scalar(
        select(CheckoutRow.profile_id)
        .where(CheckoutRow.shop_id == shop_id, CheckoutRow.cart_token.in_(sorted(cart_tokens)))
        .order_by(CheckoutRow.shopify_updated_at.desc(), CheckoutRow.id.desc())
        .limit(1)
    )


def _by_endpoint(session: Session, shop_id: int, digest: str) -> PushSubscription | None:
    return session.scalar(
        select(PushSubscription).where(PushSubscription.shop_id == shop_id, PushSubscription.endpoint_hash == digest)
    )


def save_subscription(
    session: Session,
    shop_id: int,
    cart_token: object,
    subscription: object,
    now: datetime,
    *,
    allow_local: bool = True,
) -> PushSubscription:
    """Store (or refresh) a browser's subscription for a cart, and record its push consent.

    One row per (shop, endpoint): the same browser subscribing again, or for a new cart,
    updates its row. `cart_token` and `subscription` are what the storefront sent: raises
    InvalidSubscription for anything that is not a usable subscription.
    """
    clean = clean_subscription(subscription, allow_local=allow_local)
    given = _given_cart_token(cart_token)
    token = _bare_cart_token(given)
    digest = endpoint_hash(clean["endpoint"])
    profile_id = _checkout_profile(session, shop_id, {token, given})
    row = _by_endpoint(session, shop_id, digest)
    if row is None:
        try:
            with session.begin_nested():
                row = PushSubscription(
                    shop_id=shop_id,
                    endpoint=clean["endpoint"],
                    endpoint_hash=digest,
                    p256dh=clean["keys"]["p256dh"],
                    auth=clean["keys"]["auth"],
                    cart_token=token,
                    profile_id=profile_id,
                    created_at=now,
                )
                session.add(row)
        except IntegrityError:  # the same browser posted twice at once
            row = _by_endpoint(session, shop_id, digest)
            if row is None:  # the row that won the insert is gone again
                raise
    row.p256dh, row.auth, row.cart_token = clean["keys"]["p256dh"], clean["keys"]["auth"], token
    if profile_id is not None:
        row.profile_id = profile_id
    record_consent(
        session, shop_id, CHANNEL, digest, granted=True, source=CONSENT_SOURCE, at=now, profile_id=row.profile_id
    )
    session.flush()
    return row


def subscription_for(session: Session, shop_id: int, cart_token: str | None) -> SubscriptionJson | None:
    """The newest subscription for a cart, as PushSubscription.toJSON() (what PushTransport sends to)."""
    try:
        token = clean_cart_token(cart_token)
    except InvalidSubscription:
        return None
    row = session.scalar(
        select(PushSubscription)
        .where(PushSubscription.shop_id == shop_id, PushSubscription.cart_token == token)
        .order_by(PushSubscription.created_at.desc(), PushSubscription.id.desc())
        .limit(1)
    )
    if row is None:
        return None
    return {"endpoint": row.endpoint, "keys": {"p256dh": row.p256dh, "auth": row.auth}}


def forget_subscription(
    session: Session, shop_id: int, endpoint: str, *, now: datetime | None = None, source: str = "provider"
) -> bool:
    """Delete a subscription (the push service said 404/410, or the shopper unsubscribed).

    With `now`, its push consent is recorded as revoked too. False when there was none.
    """
    digest = endpoint_hash(endpoint)
    removed = rows_changed(
        session,
        delete(PushSubscription).where(PushSubscription.shop_id == shop_id, PushSubscription.endpoint_hash == digest),
    )
    if removed and now is not None:
        record_consent(session, shop_id, CHANNEL, digest, granted=False, source=source, at=now)
    return removed > 0
