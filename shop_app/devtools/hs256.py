"""HS256 JSON Web Tokens, written out for the development Admin API server.

App Bridge session tokens (shopify.dev: how session tokens work) are HS256 JWTs signed with the app's
client secret. The development server verifies them with this module, deliberately
independent of the app's own checks, and tests and the demo mint them with it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from urllib.parse import urlsplit

from shop_app.errors import ReclaimError

LEEWAY_SECONDS = 10  # both Shopify libraries allow 10 s of clock skew
SESSION_TOKEN_LIFETIME = 60


class InvalidToken(ReclaimError, ValueError):
    """A token that is malformed, wrongly signed, expired or for someone else."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as exc:
        raise InvalidToken("token part is not base64url") from exc


def encode(claims: dict, secret: str, header: dict | None = None) -> str:
    head = _b64(json.dumps(header or {"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    body = _b64(json.dumps(claims, separators=(",", ":")).encode())
    signature = hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{_b64(signature)}"


def decode(token: str, secret: str, *, audience: str, now: float, leeway: int = LEEWAY_SECONDS) -> dict:
    """The claims of a valid token; InvalidToken otherwise. Only HS256 is accepted."""
    parts = token.split(".")
    if len(parts) != 3:
        raise InvalidToken("a JWT has three parts")
    try:
        header = json.loads(_unb64(parts[0]))
        claims = json.loads(_unb64(parts[1]))
    except ValueError as exc:  # not UTF-8, or not JSON
        raise InvalidToken("token part is not JSON") from exc
    if not isinstance(header, dict) or header.get("alg") != "HS256":
        raise InvalidToken("only HS256 is accepted")
    expected = hmac.new(secret.encode(), f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(expected, _unb64(parts[2])):
        raise InvalidToken("bad signature")
    if not isinstance(claims, dict):
        raise InvalidToken("claims are not an object")
    aud = claims.get("aud")
    if aud != audience and not (isinstance(aud, list) and audience in aud):
        raise InvalidToken("wrong audience")
    for name in ("exp", "nbf"):
        if not isinstance(claims.get(name), (int, float)):
            raise InvalidToken(f"claim {name} missing")
    if now > claims["exp"] + leeway:
        raise InvalidToken("expired")
    if now < claims["nbf"] - leeway:
        raise InvalidToken("not yet valid")
    return claims


def mint_session_token(
    shop: str, *, api_key: str, api_secret: str, now: float, lifetime: int = SESSION_TOKEN_LIFETIME, **overrides
) -> str:
    """A session token as App Bridge would send it for `shop` (iss, dest, aud, sub, exp, nbf, iat, jti, sid)."""
    claims = {
        "iss": f"https://{shop}/admin",
        "dest": f"https://{shop}",
        "aud": api_key,
        "sub": "1",
        "exp": int(now) + lifetime,
        "nbf": int(now),
        "iat": int(now),
        "jti": str(uuid.uuid4()),
        "sid": uuid.uuid4().hex,
    }
    claims.update(overrides)
    return encode(claims, api_secret)


def host_of(url: object) -> str | None:
    if not isinstance(url, str):
        return None
    return urlsplit(url).hostname
