"""HTTP plumbing shared by the Shopify Admin API clients (OAuth grants and GraphQL).

Every call goes to `settings.shopify_admin_base_url` with `{shop}` replaced (tests and the
demo point it at shop_app.devtools.admin_api) and carries a timeout.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import requests

from shop_app.adapters import http_lean
from shop_app.config import Settings
from shop_app.errors import ConfigurationError
from shop_app.shopify.signatures import clean_shop_domain

#: Seconds to wait for an answer: (connect, read) or one number for both.
Timeout = tuple[float, float] | float

#: (connect, read) seconds for every HTTP call.
DEFAULT_TIMEOUT: Timeout = (5.0, 20.0)
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def shop_base_url(settings: Settings, domain: str) -> str:
    """`SHOPIFY_ADMIN_BASE_URL` for this shop; plain http only to this machine (tests, demo)."""
    base = settings.shopify_admin_base_url.replace("{shop}", clean_shop_domain(domain)).rstrip("/")
    parts = urlsplit(base)
    if parts.scheme != "https" and not (parts.scheme == "http" and parts.hostname in LOCAL_HOSTS):
        raise ConfigurationError(f"Admin API base URL must be https (http only for 127.0.0.1): {base}")
    return base


def post(
    session: requests.Session | None,
    url: str,
    *,
    json: Mapping[str, Any],
    headers: Mapping[str, str],
    timeout: Timeout,
) -> requests.Response:
    """POST a JSON body, on `session` when given (http_lean: without the per-call cookie, environment and
    redirect work), else on a session of its own."""
    if session is not None:
        return http_lean.send(session, "POST", url, json=json, headers=headers, timeout=timeout)
    with requests.Session() as own:
        return own.post(url, json=json, headers=headers, timeout=timeout)


def json_or_none(response: requests.Response) -> object:
    """The decoded JSON body, or None when the body is not JSON."""
    try:
        return response.json()
    except ValueError:
        return None


def require_aware(value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("times passed to the Shopify client must be timezone-aware")
