"""What a fault test counts: the rows as the database holds them, the messages as the provider
received them, and the figures it prints."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

from sqlalchemy import func, select

from shop_app.storage.database import transaction
from shop_app.storage.tables import Message, WebhookDelivery

#: Rows in these statuses still have work ahead of them; a fault must not leave any behind.
NOT_FINAL = ("scheduled", "queued", "sending")


def delivery_statuses(rt) -> Counter[str]:
    with transaction(rt.sessions) as session:
        rows = session.execute(select(WebhookDelivery.status, func.count()).group_by(WebhookDelivery.status))
        return Counter({status: n for status, n in rows})


def message_statuses(rt, **where: str) -> Counter[str]:
    query = select(Message.status, func.count()).group_by(Message.status)
    for column, value in where.items():
        query = query.where(getattr(Message, column) == value)
    with transaction(rt.sessions) as session:
        return Counter({status: n for status, n in session.execute(query)})


def smtp_message_ids(mails) -> list[int]:
    """Our message row ids, read from the Message-ID headers (`<reclaim.{id}.…>`) the provider got."""
    ids = []
    for mail in mails:
        ours = re.match(r"<reclaim\.(\d+)\.", mail["Message-ID"])
        assert ours, f"not one of our emails: {mail['Message-ID']}"
        ids.append(int(ours.group(1)))
    return ids


def outbox_message_ids(lines: Iterable[dict]) -> list[int]:
    """Our message row ids, as the development transport (the outbox file) received them."""
    return [line["message_id"] for line in lines]


def duplicates(received: Iterable[int]) -> dict[int, int]:
    """Message ids the provider received more than once, with how often."""
    return {message_id: n for message_id, n in Counter(received).items() if n > 1}


def figures(title: str, **numbers: object) -> None:
    """One line of figures, printed for the CI log (`pytest -s`)."""
    print(f"\n[faults] {title}: " + ", ".join(f"{name.replace('_', ' ')} {value}" for name, value in numbers.items()))
