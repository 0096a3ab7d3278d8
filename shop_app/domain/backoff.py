"""How long something retried against Shopify waits after failing (pure): 1 minute after the
first failure, doubling with each one after, at most 6 hours. Used where a pass tries a shop's
work again on its own schedule: the plan re-read (billing/refresh.py) and the deletion of an
erased customer's codes (referral/removals.py)."""

from __future__ import annotations

FIRST_BACKOFF_SECONDS = 60
MAX_BACKOFF_SECONDS = 6 * 3600


def backoff_seconds(failures: int) -> int:
    """How long to wait after the `failures`-th failure in a row."""
    return min(MAX_BACKOFF_SECONDS, FIRST_BACKOFF_SECONDS << min(max(failures - 1, 0), 20))
