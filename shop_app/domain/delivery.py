"""What providers say happened to a message after we handed it over. Pure.

Callbacks arrive late, twice and out of order (Twilio says so; SendGrid batches
events). A message's delivery status therefore only moves forward along this
order; a `sent` arriving after `delivered` changes nothing. Failure is final at
its rank: `undelivered` after `delivered` would be a provider bug, and is ignored. Only a click
moves a failed message on: the customer followed its link, so it did reach them. So a message's
status is `clicked` exactly when a link of it was followed (our tracked link, messaging/links.py,
or the email provider's click tracking): what the results report counts as clicked.
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

#: A tracked link in the message was followed (messaging/links.py): the furthest a message goes.
CLICKED = "clicked"
#: Statuses that mean the message did not reach the person.
NOT_DELIVERED = frozenset({"undelivered", "failed", "bounced", "dropped"})


def advance(current: str | None, incoming: str) -> str | None:
    """The status to keep: `incoming` if it moves forward, else None (keep `current`)."""
    if incoming not in RANK:
        return None
    if current is None or current not in RANK:
        return incoming
    if current in NOT_DELIVERED:
        # A failure is the end of the provider's story; a followed link is the customer's word that
        # it reached them after all (a carrier's late "undelivered", a forwarded email).
        return incoming if incoming == CLICKED else None
    return incoming if RANK[incoming] > RANK[current] else None
