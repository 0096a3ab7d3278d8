"""The admin pages benchmark's shop: 30,000 journeys and 100,000 messages over 90 days, bulk inserted
(bench/admin_pages.py runs it). Deterministic: the same seed gives the same rows."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session

from shop_app.domain.incremental import conversion_days
from shop_app.storage.tables import CheckoutRow, Journey, Message, MessageEvent, OrderRow

JOURNEYS = 30_000
MESSAGES = 100_000
SPAN = timedelta(days=90)
CHUNK = 5_000
#: Each journey plans these three; every third journey also a push (a browser subscribed):
#: 3 x 30,000 + 10,000 = 100,000 messages.
STEPS = (
    ("first", "email", timedelta(hours=1)),
    ("whatsapp", "whatsapp", timedelta(hours=2)),
    ("prime", "sms", timedelta(hours=16)),
)
PUSH = ("first", "push", timedelta(hours=1))
#: step -> (share sent, share skipped); the rest is cancelled (the customer paid or the journey stopped).
OUTCOMES = {"email": (0.85, 0.15), "push": (0.7, 0.2), "whatsapp": (0.4, 0.4), "sms": (0.3, 0.2)}


@dataclass(frozen=True)
class Built:
    journeys: int
    messages: int
    events: int
    orders: int
    #: A converted journey with messages: the activity page's detail example.
    detail_journey_id: int


def build(session: Session, shop_id: int, now: datetime, seed: int = 42) -> Built:
    """Checkouts, orders, journeys, messages and events of one shop, in chunks of CHUNK rows."""
    rng = random.Random(seed)
    plans = [_plan(rng, n, now) for n in range(JOURNEYS)]
    checkout_ids = _insert(session, CheckoutRow, [_checkout(shop_id, n, p) for n, p in enumerate(plans)])
    paid = [(n, p) for n, p in enumerate(plans) if p["paid_at"] is not None]
    order_ids = dict(
        zip([n for n, _ in paid], _insert(session, OrderRow, [_order(shop_id, n, p) for n, p in paid]), strict=True)
    )
    journey_rows = [_journey(shop_id, checkout_ids[n], order_ids.get(n), p) for n, p in enumerate(plans)]
    journey_ids = _insert(session, Journey, journey_rows)
    messages = [
        _message(rng, shop_id, journey_ids[n], step, now, p)
        for n, p in enumerate(plans)
        for step in STEPS + ((PUSH,) if n % 3 == 0 else ())
    ]
    if len(messages) != MESSAGES:
        raise RuntimeError(f"{len(messages)} messages planned, not {MESSAGES}")
    message_ids = _insert(session, Message, messages)
    events = [e for mid, m in zip(message_ids, messages, strict=True) for e in _events(rng, shop_id, mid, m, now)]
    _insert(session, MessageEvent, events)
    detail = next(journey_ids[n] for n, p in enumerate(plans) if p["status"] == "converted")
    return Built(len(journey_ids), len(message_ids), len(events), len(order_ids), detail)


def _insert(session: Session, model: Any, rows: list[dict[str, Any]]) -> list[int]:
    """Insert `rows` with ids of our own, after the table's largest (RETURNING would make SQLite
    insert row by row); PostgreSQL's id sequence is moved past them. Returns the ids, in order."""
    table = model.__table__
    first = (session.scalar(select(func.max(table.c.id))) or 0) + 1
    ids = list(range(first, first + len(rows)))
    for row, row_id in zip(rows, ids, strict=True):
        row["id"] = row_id
    for start in range(0, len(rows), CHUNK):
        session.execute(insert(table), rows[start : start + CHUNK])
    if rows and session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), {ids[-1]})"))
    return ids


def _plan(rng: random.Random, n: int, now: datetime) -> dict[str, Any]:
    abandoned = now - SPAN * rng.random()
    roll = rng.random()
    status = "converted" if roll < 0.12 else "stopped" if roll < 0.42 else "active"
    paid_at = None
    if status == "converted":
        paid_at = min(abandoned + timedelta(hours=rng.uniform(2, 40)), now)
    return {"abandoned": abandoned, "status": status, "paid_at": paid_at, "reached": rng.random() < 2 / 3}


def _checkout(shop_id: int, n: int, plan: dict[str, Any]) -> dict[str, Any]:
    return {
        "shop_id": shop_id,
        "token": f"bench{n:06d}",
        "cart_token": f"cart-bench{n:06d}",
        "email": f"buyer{n}@example.com",
        "phone": f"+346{n:08d}",
        "first_name": "Ana",
        "currency": "EUR",
        "total_price": Decimal("76.50"),
        "line_items": [{"title": "Linen shirt", "quantity": 1, "price": "76.50"}],
        "accepts_sms_marketing": n % 2 == 0,
        "shopify_updated_at": plan["abandoned"],
        "shopify_created_at": plan["abandoned"],
    }


def _order(shop_id: int, n: int, plan: dict[str, Any]) -> dict[str, Any]:
    return {
        "shop_id": shop_id,
        "shopify_id": str(60_000_000 + n),
        "name": f"#{10_000 + n}",
        "checkout_token": f"bench{n:06d}",
        "email": f"buyer{n}@example.com",
        "financial_status": "paid",
        "currency": "EUR",
        "total_price": Decimal("76.50"),
        "shopify_created_at": plan["paid_at"],
    }


def _journey(shop_id: int, checkout_id: int, order_id: int | None, plan: dict[str, Any]) -> dict[str, Any]:
    reached = plan["status"] == "converted" and plan["reached"]
    anchor = plan["abandoned"] + min(delay for _, _, delay in STEPS)
    return {
        "shop_id": shop_id,
        "checkout_id": checkout_id,
        "flow": "recovery",
        "status": plan["status"],
        "abandoned_at": plan["abandoned"],
        "stop_reason": {"active": None, "stopped": "checkout deleted", "converted": "paid: order #10000"}[
            plan["status"]
        ],
        "order_id": order_id,
        "recovered_revenue": Decimal("76.50") if reached else None,
        "reached": True,  # every journey gets messages below, and outbox.add_planned would mark it
        "first_due_at": anchor,  # the earliest due time outbox.add_planned keeps
        # What recovery/conversion.py keeps: its own checkout's order is its one candidate.
        "conversion_days": conversion_days(anchor, [(plan["paid_at"], True)] if plan["paid_at"] else [], 30),
    }


def _message(
    rng: random.Random, shop_id: int, journey_id: int, step: tuple[str, str, timedelta], now: datetime, plan: dict
) -> dict[str, Any]:
    name, channel, delay = step
    due = plan["abandoned"] + delay
    sent_share, skipped_share = OUTCOMES[channel]
    roll = rng.random()
    if due > now:
        status, reason = "scheduled", None
    elif roll < sent_share:
        status, reason = "sent", None
    elif roll < sent_share + skipped_share:
        status, reason = "skipped", f"no {channel} consent"
    else:
        status, reason = "cancelled", "paid: order #10000"
    sent = status == "sent"
    return {
        "shop_id": shop_id,
        "journey_id": journey_id,
        "flow": "recovery",
        "step": name,
        "channel": channel,
        "status": status,
        "due_at": due,
        "reason": reason,
        "attempts": 1 if sent else 0,
        "sent_at": due if sent else None,
        "provider_id": f"bench-{channel}-{journey_id}" if sent else None,
        "delivery_status": "delivered" if sent else None,
        "recipient": "buyer@example.com" if channel == "email" else "+34600000000",
        "body": "Your cart is waiting: https://shop.example/recover",
        "journey_abandoned_at": plan["abandoned"],  # the copy outbox.add_planned keeps
    }


def _events(
    rng: random.Random, shop_id: int, message_id: int, message: dict[str, Any], now: datetime
) -> list[dict[str, Any]]:
    """A delivery receipt for every sent email and SMS, and a click for one sent message in ten."""
    if message["status"] != "sent":
        return []
    events = []
    if message["channel"] in ("email", "sms"):
        provider = "sendgrid" if message["channel"] == "email" else "twilio"
        events.append(_event(shop_id, message_id, provider, message["provider_id"], "delivered", message["sent_at"]))
    if message["channel"] != "sms" and rng.random() < 0.1:
        at = min(message["sent_at"] + timedelta(minutes=rng.uniform(1, 600)), now)
        click = _event(shop_id, message_id, "reclaim", str(message_id), "clicked", at)
        click["raw"] = {"clicks": rng.randint(1, 3), "first_at": at.isoformat()}
        events.append(click)
    return events


def _event(shop_id: int, message_id: int, provider: str, provider_id: str, event: str, at: datetime) -> dict:
    return {
        "shop_id": shop_id,
        "message_id": message_id,
        "provider": provider,
        "provider_id": provider_id,
        "event": event,
        "raw": None,
        "created_at": at,
    }
