"""Discount memory (issue 12, offer discipline): a person who received a recovery code lately gets
no new one. Pure.

A customer who abandons again and again must not be handed a new discount every time (product.md
§8, anti-gaming). So when the same person (customer id, email or phone) was sent a message carrying
a recovery code within the shop's `recovery.discount_memory_days` (default 30, 0 turns the memory
off), the steps of their other journeys go out without a code: the texts' no-offer variant, no code
created through the Admin API, and the reason on the message. The steps of the journey that sent
the code keep theirs: the WhatsApp reminder and Prime belong to the same offer.
"""

from __future__ import annotations

from datetime import datetime, timedelta


def withheld_reason(last_code_sent_at: datetime | None, memory_days: int, now: datetime) -> str | None:
    """Why this step offers no new code, or None when it offers what the settings say.

    `last_code_sent_at` is when a message carrying a recovery code last went to this person from
    another journey (None: never). The reason names no person: only how long ago it was.
    """
    if last_code_sent_at is None or memory_days <= 0:
        return None
    elapsed = max(now - last_code_sent_at, timedelta(0))
    if elapsed >= timedelta(days=memory_days):
        return None
    return f"no discount: one was sent to this customer {_ago(elapsed)} (discount memory: {memory_days} days)"


def _ago(elapsed: timedelta) -> str:
    days = elapsed.days  # whole days
    if days == 0:
        return "less than a day ago"
    return "1 day ago" if days == 1 else f"{days} days ago"
