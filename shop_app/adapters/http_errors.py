"""What an HTTP failure tells a sender: did the request reach the provider, or not?

A request that never left (connection refused, name not resolved, connect timeout) is safe
to send again. A timeout or reset after the request was written may have been acted on:
resending it could text or push the customer twice, so the send job records `unknown`.
"""

from __future__ import annotations

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
