"""The holdout group (issue 12, product.md §8): a share of new recovery journeys gets no message,
so the report can compare them with the treated ones and show the *incremental* recovered revenue.

Which journeys are control is decided by a keyed hash of the checkout token, not by a random draw:
the same token always lands on the same side (a replayed or repeated webhook cannot move it), and
without the server's secret nobody can tell or steer which checkouts go unmessaged. The journey
stores the answer when it is created and keeps it; a later change of the share moves no journey.

The share (`measurement.holdout_percent`): an explicit 0–50 always applies; none set means 10 during
the validation cycle (the first 15 days after install, the product's recommended proving period)
and 0 outside it. The cycle is judged by when the checkout was abandoned, as the report's ranges
are: a webhook processed late, or replayed, lands in the cycle it was abandoned in. A checkout
abandoned before the install (an update that arrives afterwards) is not in it.

Pure: standard library only, times passed in.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta

#: Why every message of a control journey is skipped (the send gates record it on the row).
REASON = "holdout (control group)"
VALIDATION_DAYS = 15
VALIDATION_PERCENT = 10
MAX_PERCENT = 50
_BYTES = 8
_SPAN = 1 << (8 * _BYTES)  # hash points fall in [0, _SPAN)


def holdout_percent(setting: int | None, installed_at: datetime, abandoned_at: datetime) -> int:
    """The share of new journeys held out, in percent: the merchant's setting when given, else
    the default for a checkout abandoned at `abandoned_at` in a shop installed at `installed_at`."""
    if setting is not None:
        return setting
    in_cycle = installed_at <= abandoned_at < installed_at + timedelta(days=VALIDATION_DAYS)
    return VALIDATION_PERCENT if in_cycle else 0


def in_control(secret_key: str, checkout_token: str, percent: int) -> bool:
    """Whether the journey of `checkout_token` belongs to the control group when `percent` of
    journeys are held out. `secret_key` is the app's server-side secret (RECLAIM_SECRET_KEY)."""
    if percent <= 0:
        return False
    digest = hmac.new(_key(secret_key), checkout_token.encode("utf-8"), hashlib.sha256).digest()
    point = int.from_bytes(digest[:_BYTES], "big")  # uniform on [0, _SPAN)
    # point / _SPAN < percent / 100, in whole numbers: no rounding, no modulo bias.
    return point * 100 < percent * _SPAN


def _key(secret_key: str) -> bytes:
    """A key of this purpose's own, so the hash says nothing about the app's other keyed values."""
    return hashlib.sha256(b"reclaim-holdout:" + secret_key.encode("utf-8")).digest()
