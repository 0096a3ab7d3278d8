"""Builds session tokens the way App Bridge does (HS256 JWTs), and lets a test bend any part."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from typing import Any

from shop_app.config import DEV_API_KEY, DEV_API_SECRET


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def segment(value: Any) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def sign(signing_input: str, secret: str) -> str:
    return b64url(hmac.new(secret.encode(), signing_input.encode("ascii"), hashlib.sha256).digest())


def encode(header: dict, claims: dict, secret: str) -> str:
    """An HS256 signature over whatever header and claims are given (even a lying header)."""
    signing_input = f"{segment(header)}.{segment(claims)}"
    return f"{signing_input}.{sign(signing_input, secret)}"


def claims_for(shop: str, *, now: float | None = None, api_key: str = DEV_API_KEY, **overrides: Any) -> dict:
    at = int(time.time() if now is None else now)
    claims = {
        "iss": f"https://{shop}/admin",
        "dest": f"https://{shop}",
        "aud": api_key,
        "sub": "42",
        "exp": at + 60,
        "nbf": at,
        "iat": at,
        "jti": str(uuid.uuid4()),
        "sid": "f3a6c0e2-session",
    }
    claims.update(overrides)
    return claims


def session_token(
    shop: str,
    *,
    now: float | None = None,
    secret: str = DEV_API_SECRET,
    api_key: str = DEV_API_KEY,
    header: dict | None = None,
    drop: tuple[str, ...] = (),
    **overrides: Any,
) -> str:
    claims = claims_for(shop, now=now, api_key=api_key, **overrides)
    for name in drop:
        claims.pop(name)
    return encode(header or {"alg": "HS256", "typ": "JWT"}, claims, secret)
