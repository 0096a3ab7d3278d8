"""Shopify session tokens (App Bridge ID tokens): pure verification, no Flask, no clock.

App Bridge gives the frontend a one-minute JWT, HS256-signed with the app's client secret; it comes
back as `Authorization: Bearer <jwt>` or, on the first document load, as `id_token`. Every rule is
a named check below: three base64url segments, `alg` HS256 and no `crit`, the signature under the
current (or, during a rotation, the previous) secret, the REQUIRED_CLAIMS, `aud` the API key,
`exp`/`nbf` with LEEWAY_SECONDS, and `iss` and `dest` on the same `*.myshopify.com` shop.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from shop_app.errors import InvalidSessionToken, InvalidShopDomain
from shop_app.shopify.signatures import clean_shop_domain

#: The only signing algorithm Shopify uses for session tokens, and the only one accepted.
ALGORITHM = "HS256"
#: Clock skew tolerated on `exp` and `nbf` (both Shopify libraries use 10 s).
LEEWAY_SECONDS = 10
#: Claims a session token must carry (the shopify_python_api list plus `aud` and `exp`,
#: which are checked below and must not be skippable by leaving them out).
REQUIRED_CLAIMS = ("iss", "dest", "aud", "sub", "exp", "jti", "sid")
#: Real tokens are well under 1 KiB; anything far larger is refused before any work.
MAX_TOKEN_CHARS = 8192

_SEGMENT = re.compile(r"^[A-Za-z0-9_-]+$")
#: Control characters, and halves of UTF-16 pairs that JSON's \uD800 escapes can leave alone:
#: no database column or log line takes them, so no identity claim may hold them.
_NOT_TEXT = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")
#: A decoded JSON object: the header or the claims.
_Claims = dict[str, Any]


@dataclass(frozen=True)
class SessionToken:
    """What a verified token tells us: which shop, which staff user, which admin session."""

    shop: str  # the cleaned `name.myshopify.com` from `dest`
    user_id: str  # `sub`
    session_id: str  # `sid`
    expires_at: datetime  # `exp`, aware UTC


def verify_session_token(
    token: str,
    *,
    api_key: str,
    secrets: Iterable[str | None],
    now: datetime,
    leeway: int = LEEWAY_SECONDS,
) -> SessionToken:
    """Return the verified token's facts, or raise InvalidSessionToken with the reason.

    `secrets` is the current app secret, then the previous one while a rotation settles;
    empty entries are ignored.
    """
    keys = _keys(secrets, api_key, now)
    header_b64, payload_b64, signature = _split(token)
    _check_header(_json_object(header_b64, "header"))
    _check_signature(f"{header_b64}.{payload_b64}".encode("ascii"), signature, keys)
    claims = _json_object(payload_b64, "payload")
    missing = [name for name in REQUIRED_CLAIMS if name not in claims]
    if missing:
        raise InvalidSessionToken("missing claim(s): " + ", ".join(missing))
    if claims["aud"] != api_key:  # the API key is public: a plain comparison, whatever `aud` holds
        raise InvalidSessionToken("audience (aud) is not this app's API key")
    expires = _check_lifetime(claims, now.timestamp(), leeway)
    user_id = _text(claims, "sub")
    session_id = _text(claims, "sid")
    _text(claims, "jti")
    shop = _shop(claims)
    try:
        expires_at = datetime.fromtimestamp(expires, UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise InvalidSessionToken("claim exp is out of range") from exc
    return SessionToken(shop=shop, user_id=user_id, session_id=session_id, expires_at=expires_at)


def _keys(secrets: Iterable[str | None], api_key: str, now: datetime) -> tuple[str, ...]:
    """The usable secrets; a ValueError for a caller's mistake (not the token's)."""
    keys = tuple(s for s in secrets if s)
    if not keys:
        raise ValueError("verify_session_token needs at least one app secret")
    if not api_key:
        raise ValueError("verify_session_token needs the app's API key")
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return keys


def _check_header(header: _Claims) -> None:
    alg = header.get("alg")
    if alg != ALGORITHM:
        raise InvalidSessionToken(f"algorithm {alg!r} is not accepted; session tokens are {ALGORITHM}")
    if "crit" in header:
        raise InvalidSessionToken("header extensions ('crit') are not supported")


def _check_signature(signing_input: bytes, signature: bytes, keys: tuple[str, ...]) -> None:
    matched = False
    for key in keys:  # every key is tried, so timing does not tell which one matched
        expected = hmac.new(key.encode(), signing_input, hashlib.sha256).digest()
        matched |= hmac.compare_digest(expected, signature)
    if not matched:
        raise InvalidSessionToken("signature does not match the app secret")


def _check_lifetime(claims: _Claims, at: float, leeway: int) -> float:
    """`exp` (returned) and, when present, `nbf` hold at `at`, give or take `leeway` seconds."""
    expires = _number(claims, "exp")
    if at > expires + leeway:
        raise InvalidSessionToken(f"expired at {_iso(expires)} (now {_iso(at)}, leeway {leeway} s)")
    if "nbf" in claims:
        not_before = _number(claims, "nbf")
        if not_before > at + leeway:
            raise InvalidSessionToken(f"not valid before {_iso(not_before)} (now {_iso(at)}, leeway {leeway} s)")
    return expires


def _shop(claims: _Claims) -> str:
    """The shop both `iss` and `dest` name."""
    issuer_shop = _shop_of(claims, "iss")
    dest_shop = _shop_of(claims, "dest")
    if issuer_shop != dest_shop:
        raise InvalidSessionToken(f"iss ({issuer_shop}) and dest ({dest_shop}) name different shops")
    return dest_shop


def _split(token: Any) -> tuple[str, str, bytes]:
    if not isinstance(token, str) or not token:
        raise InvalidSessionToken("no token given")
    if len(token) > MAX_TOKEN_CHARS:
        raise InvalidSessionToken(f"token longer than {MAX_TOKEN_CHARS} characters")
    parts = token.split(".")
    if len(parts) != 3:
        raise InvalidSessionToken("not a JWT: expected three dot-separated segments")
    if not all(_SEGMENT.match(part) for part in parts):
        raise InvalidSessionToken("not a JWT: segments must be non-empty unpadded base64url")
    return parts[0], parts[1], _b64decode(parts[2], "signature")


def _b64decode(segment: str, what: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError) as exc:
        raise InvalidSessionToken(f"{what} is not valid base64url") from exc


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> _Claims:
    result: _Claims = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _json_object(segment: str, what: str) -> _Claims:
    raw = _b64decode(segment, what)
    try:
        value = json.loads(raw.decode("utf-8"), object_pairs_hook=_reject_duplicates, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise InvalidSessionToken(f"{what} is not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise InvalidSessionToken(f"{what} must be a JSON object")
    return value


def _number(claims: _Claims, name: str) -> float:
    value = claims[name]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidSessionToken(f"claim {name} must be a number of seconds since the epoch")
    try:
        seconds = float(value)  # JSON integers have no bound; floats stop near 1.8e308
    except OverflowError:
        raise InvalidSessionToken(f"claim {name} is out of range") from None
    if not math.isfinite(seconds):
        raise InvalidSessionToken(f"claim {name} must be a number of seconds since the epoch")
    return seconds


def _text(claims: _Claims, name: str) -> str:
    value = claims[name]
    if not isinstance(value, str) or not value or _NOT_TEXT.search(value):
        raise InvalidSessionToken(f"claim {name} must be a non-empty string of printable characters")
    return value


def _shop_of(claims: _Claims, name: str) -> str:
    """The shop domain that is the host of an https URL claim (`iss` or `dest`)."""
    value = claims[name]
    if not isinstance(value, str):
        raise InvalidSessionToken(f"claim {name} must be a URL string")
    try:
        parts = urlsplit(value)
    except ValueError as exc:
        raise InvalidSessionToken(f"claim {name} is not a URL: {value!r}") from exc
    if parts.scheme != "https":
        raise InvalidSessionToken(f"claim {name} must be an https URL: {value!r}")
    try:
        # netloc, not hostname: a port or user info makes it fail the shop-domain rule.
        return clean_shop_domain(parts.netloc)
    except InvalidShopDomain as exc:
        raise InvalidSessionToken(f"claim {name} is not on a *.myshopify.com shop: {value!r}") from exc


def _iso(timestamp: float) -> str:
    try:
        return datetime.fromtimestamp(timestamp, UTC).isoformat()
    except (OverflowError, OSError, ValueError):
        return str(timestamp)
