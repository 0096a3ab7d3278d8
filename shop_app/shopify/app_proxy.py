"""Shopify app-proxy signatures: the only proof a storefront request came through Shopify.

Shopify forwards `https://{shop}/{prefix}/{subpath}/…` here and adds `shop`, `logged_in_customer_id`,
`path_prefix`, `timestamp` and `signature` to the query. The signature (`canonical`) is the lower-case
hex HMAC-SHA256 of every other parameter, sorted, written `key=value` (repeated values joined with
",") with no separator: not the OAuth HMAC. Repeated SINGLE parameters and a timestamp more than
MAX_CLOCK_SKEW_SECONDS away are refused, so a captured URL cannot be replayed later.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterable
from dataclasses import dataclass

from shop_app.errors import ReclaimError

#: How far the proxy's `timestamp` may be from our clock (Shopify's JS library uses 90 s).
MAX_CLOCK_SKEW_SECONDS = 90
#: Parameters that must appear once: a second copy would change what was signed.
SINGLE = ("shop", "timestamp", "signature", "path_prefix", "logged_in_customer_id")


class ProxyRequestRejected(ReclaimError):
    """An app-proxy request without a valid, fresh Shopify signature; `reason` says why."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ProxyRequest:
    """What a verified proxy request tells us."""

    shop: str  # as Shopify sent it; the caller still checks it is a shop installed here
    path_prefix: str  # e.g. "/apps/reclaim": where the storefront reaches us now
    logged_in_customer_id: str | None
    timestamp: int


def _grouped(pairs: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for key, value in pairs:
        grouped.setdefault(key, []).append(value)
    return grouped


def canonical(pairs: Iterable[tuple[str, str]]) -> str:
    """The signed message for query parameters given as (key, value) pairs, in URL order."""
    grouped = _grouped(pairs)
    return "".join(f"{key}={','.join(grouped[key])}" for key in sorted(grouped) if key != "signature")


def proxy_signature(pairs: Iterable[tuple[str, str]], secret: str) -> str:
    return hmac.new(secret.encode(), canonical(pairs).encode(), hashlib.sha256).hexdigest()


def signed_query(params: dict[str, str], secret: str) -> dict[str, str]:
    """`params` plus the signature Shopify would add: for tests and local tools."""
    return {**params, "signature": proxy_signature(params.items(), secret)}


def _signature_ok(pairs: list[tuple[str, str]], given: str, secrets: tuple[str, ...]) -> bool:
    ok = False
    for secret in secrets:  # compare with every secret so timing does not reveal which matched
        ok |= hmac.compare_digest(proxy_signature(pairs, secret).encode(), given.encode())
    return ok


def verify_proxy_request(
    pairs: Iterable[tuple[str, str]], secrets: tuple[str, ...], now: float | None = None
) -> ProxyRequest:
    """Check a forwarded request's query; raise ProxyRequestRejected unless Shopify signed it just now.

    `pairs` is every query parameter in order (werkzeug: `request.args.items(multi=True)`);
    `secrets` is the current API secret and, during a rotation, the previous one.
    """
    pairs = list(pairs)
    grouped = _grouped(pairs)
    repeated = [key for key in SINGLE if len(grouped.get(key, ())) > 1]
    if repeated:
        raise ProxyRequestRejected(f"parameter given more than once: {', '.join(repeated)}")
    given = grouped.get("signature", [""])[0]
    if not given:
        raise ProxyRequestRejected("missing app-proxy signature")
    if not given.isascii() or not _signature_ok(pairs, given.lower(), secrets):
        raise ProxyRequestRejected("app-proxy signature does not match")
    try:
        timestamp = int(grouped.get("timestamp", [""])[0])
    except ValueError:
        raise ProxyRequestRejected("missing or malformed timestamp") from None
    now = time.time() if now is None else now
    if abs(now - timestamp) > MAX_CLOCK_SKEW_SECONDS:
        raise ProxyRequestRejected("stale app-proxy request (timestamp too far from now)")
    return ProxyRequest(
        shop=grouped.get("shop", [""])[0],
        path_prefix=grouped.get("path_prefix", [""])[0],
        logged_in_customer_id=grouped.get("logged_in_customer_id", [""])[0] or None,
        timestamp=timestamp,
    )
