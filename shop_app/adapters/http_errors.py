"""What an HTTP failure tells a sender: did the request reach the provider, and when to try again.

A request that never left (connection refused, name not resolved, connect timeout) is safe
to send again. A timeout or reset after the request was written may have been acted on:
resending it could text or push the customer twice, so the send job records `unknown`.
"""

from __future__ import annotations

import time
from email.utils import parsedate_to_datetime

import requests
from urllib3.exceptions import NewConnectionError


def never_reached(exc: requests.RequestException) -> bool:
    """True when no byte of the request can have reached the provider."""
    if isinstance(exc, (requests.ConnectTimeout, requests.exceptions.ProxyError)):
        return True
    if not isinstance(exc, requests.ConnectionError):
        return False
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, NewConnectionError)  # refused, unreachable, name not resolved


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Retry-After as seconds: a number of seconds or an HTTP date (RFC 9110 §10.2.3).

    None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))
