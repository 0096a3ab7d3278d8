"""What providers say happened to a message after we handed it over. Pure.

Callbacks arrive late, twice and out of order (Twilio says so; SendGrid batches
events). A message's delivery status therefore only moves forward along this
order; a `sent` arriving after `delivered` changes nothing. Failure is final at
its rank: `undelivered` after `delivered` would be a provider bug, and is ignored.
"""

from __future__ import annotations

#: The closed vocabulary of delivery statuses, each with its rank.
RANK: dict[str, int] = {
    "accepted": 0,
    "scheduled": 0,
    "queued": 1,
    "sending": 2,
    "deferred": 2,  # email: the receiving server asked to try later
    "sent": 3,
    "delivered": 4,
    "undelivered": 4,
    "failed": 4,
    "bounced": 4,
    "dropped": 4,
    "read": 5,  # WhatsApp read receipts
    "opened": 5,  # email opens
    "clicked": 6,
}

#: Statuses that mean the message did not reach the person.
NOT_DELIVERED = frozenset({"undelivered", "failed", "bounced", "dropped"})


def advance(current: str | None, incoming: str) -> str | None:
    """The status to keep: `incoming` if it moves forward, else None (keep `current`)."""
    if incoming not in RANK:
        return None
    if current is None or current not in RANK:
        return incoming
    if current in NOT_DELIVERED:
        return None  # a failure is the end of that message's story
    return incoming if RANK[incoming] > RANK[current] else None
