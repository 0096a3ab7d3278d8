"""The results report benchmark's shop (bench/report.py runs it): at scale 1, 300,000 recovery journeys
and 1,000,000 messages over 90 days, with their checkouts, delivery and click events, orders and
attribution rows. Deterministic: the same seed and scale give the same rows.

The rows are made in Python, once, as tuples in column order, and written by the fastest path the
database has: PostgreSQL's COPY (psycopg's `cursor.copy`, about a million rows in a few seconds),
SQLite's executemany in chunks. Ids are our own, after the table's largest, so the rows can name
each other without RETURNING; PostgreSQL's id sequences are moved past them.

What a journey gets (bench/README.md, "report.py", says it for a reader):
- 10 % are control journeys (the holdout): every message due so far skipped with the holdout's reason;
- treated journeys' messages as in the admin bench (_admin_data.STEPS, PUSH, OUTCOMES): an email,
  a WhatsApp and a Prime SMS each, a push for every third journey, 1,000,000 in all at scale 1;
  sent, skipped or cancelled, still scheduled when due after `now`, cancelled when due after the payment;
- 14 % of treated and 10 % of control journeys are paid (an order on the journey's checkout): the
  journey is converted, and a treated one reached before the payment is credited (an attribution
  row on the last message sent before the order); 4 % of those credits are removed again
  (cancelled or fully refunded);
- 3 % of the other treated journeys that sent something are credited with an order by the same
  email within the 5-day window (no checkout of its own), and orders by other people, 5 % of the
  journeys' number, are credited to nobody;
- a delivery event for most sent messages, a click for 12 % of the sent emails, WhatsApps and pushes.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from _admin_data import OUTCOMES, PUSH, STEPS  # bench/ is the script's folder, first on sys.path
from sqlalchemy import Table, func, insert, select, text
from sqlalchemy.orm import Session

from shop_app.domain.attribution import BY_CHECKOUT, BY_PERSON
from shop_app.domain.holdout import REASON as HOLDOUT_REASON
from shop_app.domain.incremental import conversion_days
from shop_app.domain.measurement_settings import MAX_ATTRIBUTION_DAYS
from shop_app.storage.measurement_tables import CREDITED, REMOVED, Attribution
from shop_app.storage.tables import CheckoutRow, Journey, Message, MessageEvent, OrderRow, UTCDateTime

JOURNEYS = 300_000  # at scale 1; 3 messages each and a push for every third: 1,000,000 messages
SPAN = timedelta(days=90)
CONTROL_SHARE = 0.10
PAID_TREATED, PAID_CONTROL = 0.14, 0.10
REMOVED_SHARE = 0.04
LATER_ORDER_SHARE = 0.03  # same email within the window, no checkout of its own
STRANGER_ORDERS = 0.05  # per journey: orders nobody is credited with
ATTRIBUTION_DAYS = 5
DELIVERED = {"email": 0.97, "sms": 0.95, "whatsapp": 0.9, "push": 0.0}
CLICKED = 0.12
CURRENCY = "EUR"
SQLITE_CHUNK = 5_000


@dataclass(frozen=True)
class Built:
    journeys: int
    control: int
    messages: int
    events: int
    orders: int
    attributions: int
    made_s: float  # making the rows in Python
    written_s: float  # writing them


class _Ids:
    """The next id of each table, after its largest row."""

    def __init__(self, session: Session, tables: Iterable[Table]) -> None:
        self.next = {t.name: (session.scalar(select(func.max(t.c.id))) or 0) + 1 for t in tables}

    def take(self, table: Table) -> int:
        value = self.next[table.name]
        self.next[table.name] = value + 1
        return value


def build(session: Session, shop_id: int, now: datetime, scale: float = 1.0, seed: int = 12) -> Built:
    """Every row of the shop, made in memory and then written table by table (parents first)."""
    started = time.perf_counter()
    rng = random.Random(seed)
    now = now.astimezone(UTC).replace(tzinfo=None)  # the tables hold naive UTC
    tables = [t.__table__ for t in (CheckoutRow, OrderRow, Journey, Message, MessageEvent, Attribution)]
    ids = _Ids(session, tables)
    rows: dict[str, list[tuple]] = {t.name: [] for t in tables}
    count = round(JOURNEYS * scale)
    for n in range(count):
        _journey(rng, ids, rows, shop_id, n, now)
    for n in range(round(count * STRANGER_ORDERS)):
        paid_at = now - SPAN * rng.random()
        _order(ids, rows["orders"], shop_id, f"stranger{n}@example.com", paid_at, _price(rng), "paid")
    made = time.perf_counter()
    skip_foreign_key_triggers(session)
    for table in tables:
        _write(session, table, COLUMNS[table.name], rows[table.name], now)
    return Built(
        journeys=count,
        control=sum(1 for j in rows["journeys"] if j[J_HOLDOUT]),
        messages=len(rows["messages"]),
        events=len(rows["message_events"]),
        orders=len(rows["orders"]),
        attributions=len(rows["attributions"]),
        made_s=made - started,
        written_s=time.perf_counter() - made,
    )


#: The columns each table's rows give, in the rows' order; any other NOT NULL column gets its
#: model's default (_write).
COLUMNS: dict[str, tuple[str, ...]] = {
    "checkouts": (
        "id", "shop_id", "token", "cart_token", "email", "phone", "customer_id", "first_name", "currency",
        "total_price", "line_items", "accepts_sms_marketing", "shopify_created_at", "shopify_updated_at",
        "created_at",
    ),
    "orders": (
        "id", "shop_id", "shopify_id", "name", "checkout_token", "email", "financial_status", "currency",
        "total_price", "refunded_total", "shopify_created_at", "created_at",
    ),
    "journeys": (
        "id", "shop_id", "checkout_id", "flow", "status", "abandoned_at", "stop_reason", "order_id",
        "recovered_revenue", "reached", "holdout", "first_due_at", "conversion_days", "created_at", "updated_at",
    ),
    "messages": (
        "id", "shop_id", "journey_id", "flow", "step", "channel", "status", "due_at", "reason", "attempts",
        "sent_at", "provider_id", "delivery_status", "recipient", "body", "journey_abandoned_at", "created_at",
        "updated_at",
    ),
    "message_events": ("id", "shop_id", "message_id", "provider", "provider_id", "event", "raw", "created_at"),
    "attributions": (
        "id", "shop_id", "order_id", "journey_id", "message_id", "step", "channel", "revenue", "currency",
        "presentment_amount", "presentment_currency", "status", "reason", "journey_abandoned_at", "created_at",
    ),
}  # fmt: skip
J_HOLDOUT = COLUMNS["journeys"].index("holdout")
PROVIDERS = {"email": "sendgrid", "sms": "twilio", "whatsapp": "twilio", "push": "webpush"}


def skip_foreign_key_triggers(session: Session) -> bool:
    """On PostgreSQL, as a superuser: skip the foreign keys' triggers for the rest of the transaction
    (`session_replication_role = replica`, as a replica applying rows checked elsewhere does). Each
    row written would otherwise look up its shop, journey or message: millions of lookups for rows
    made to point at rows that exist. True when skipped; elsewhere nothing changes."""
    if session.get_bind().dialect.name != "postgresql":
        return False
    if not session.scalar(text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")):
        return False
    session.execute(text("SET LOCAL session_replication_role = replica"))
    return True


def _price(rng: random.Random) -> Decimal:
    return Decimal(rng.randrange(1500, 25000)) / 100


def _journey(rng: random.Random, ids: _Ids, rows: dict[str, list[tuple]], shop_id: int, n: int, now: datetime) -> None:
    """One abandoned checkout, its journey and messages, and whatever it was paid or credited with."""
    abandoned = now - SPAN * rng.random()
    control = rng.random() < CONTROL_SHARE
    total = _price(rng)
    token, email = f"rb{n:07d}", f"buyer{n}@example.com"
    checkout_id = ids.take(CheckoutRow.__table__)
    rows["checkouts"].append(
        (checkout_id, shop_id, token, f"cart-{token}", email, f"+346{n:08d}", str(7_000_000 + n) if n % 2 else None,
         "Ana", CURRENCY, total, [{"title": "Linen shirt", "quantity": 1, "price": str(total)}], n % 2 == 0,
         abandoned, abandoned, abandoned)
    )  # fmt: skip
    paid_at: datetime | None = None
    if rng.random() < (PAID_CONTROL if control else PAID_TREATED):
        paid_at = abandoned + timedelta(hours=rng.uniform(0.5, 72))
        if paid_at > now:
            paid_at = None
    journey_id = ids.take(Journey.__table__)
    sent: list[tuple[int, str, str, datetime]] = []  # (message id, step, channel, sent at)
    steps = STEPS + ((PUSH,) if n % 3 == 0 else ())
    first_due = abandoned + min(delay for _, _, delay in steps)  # the anchor outbox.add_planned keeps
    for step in steps:
        _message(rng, ids, rows, shop_id, journey_id, step, abandoned, paid_at, control, now, sent)
    sent_before = [s for s in sent if paid_at is None or s[3] <= paid_at]
    credited = sent_before[-1] if sent_before else None
    order_id, revenue, status, reason = None, None, "active", None
    orders: list[tuple[datetime, bool]] = []  # the journey's candidate orders for its conversion (not refunded)
    if paid_at is not None:
        removed = rng.random() < REMOVED_SHARE
        refunded = removed and rng.random() < 0.5
        if not refunded:
            orders.append((paid_at, True))
        financial = "refunded" if refunded else "voided" if removed else "paid"
        order_id = _order(ids, rows["orders"], shop_id, email, paid_at, total, financial, token)
        status, reason = "converted", f"paid: order #{order_id}"
        if credited is not None and not control:
            revenue = total
            why = BY_CHECKOUT
            _attribution(rng, ids, rows, shop_id, order_id, journey_id, credited, total, why, removed, abandoned)
    elif rng.random() < 0.3:
        status, reason = "stopped", "checkout deleted"
    elif credited is not None and not control and rng.random() < LATER_ORDER_SHARE:
        at = min(credited[3] + timedelta(days=ATTRIBUTION_DAYS) * rng.random(), now)
        price = _price(rng)
        later = _order(ids, rows["orders"], shop_id, email, at, price, "paid")
        orders.append((at, False))
        _attribution(rng, ids, rows, shop_id, later, journey_id, credited, price, BY_PERSON, False, abandoned)
    rows["journeys"].append(
        (journey_id, shop_id, checkout_id, "recovery", status, abandoned, reason, order_id, revenue, True, control,
         first_due, conversion_days(first_due, orders, MAX_ATTRIBUTION_DAYS), abandoned, paid_at or abandoned)
    )  # fmt: skip


def _message(
    rng: random.Random,
    ids: _Ids,
    rows: dict[str, list[tuple]],
    shop_id: int,
    journey_id: int,
    step: tuple[str, str, timedelta],
    abandoned: datetime,
    paid_at: datetime | None,
    control: bool,
    now: datetime,
    sent: list[tuple[int, str, str, datetime]],
) -> None:
    name, channel, delay = step
    due = abandoned + delay
    message_id = ids.take(Message.__table__)
    sent_share, skipped_share = OUTCOMES[channel]
    roll = rng.random()
    reason = None
    if due > now:
        status = "scheduled"
    elif paid_at is not None and due > paid_at:
        status, reason = "cancelled", "paid"
    elif control:
        status, reason = "skipped", HOLDOUT_REASON
    elif roll < sent_share:
        status = "sent"
    elif roll < sent_share + skipped_share:
        status, reason = "skipped", f"no {channel} consent"
    else:
        status, reason = "cancelled", "checkout deleted"
    sent_at, provider_id, delivery = None, None, None
    if status == "sent":
        sent_at, provider_id, delivery = due, f"rb-{message_id}", "sent"
        sent.append((message_id, name, channel, due))
        events = rows["message_events"]
        if rng.random() < DELIVERED[channel]:
            delivery = "delivered"
            event_id = ids.take(MessageEvent.__table__)
            at = min(due + timedelta(minutes=1), now)
            events.append((event_id, shop_id, message_id, PROVIDERS[channel], provider_id, "delivered", None, at))
        if channel != "sms" and rng.random() < CLICKED:
            at = min(due + timedelta(minutes=rng.uniform(1, 600)), now)
            raw = {"clicks": rng.randint(1, 3), "first_at": at.isoformat()}
            delivery = "clicked"  # as links.record_click moves it
            events.append((ids.take(MessageEvent.__table__), shop_id, message_id, "reclaim", str(message_id),
                           "clicked", raw, at))  # fmt: skip
    rows["messages"].append(
        (message_id, shop_id, journey_id, "recovery", name, channel, status, due, reason, int(status == "sent"),
         sent_at, provider_id, delivery, "buyer@example.com" if channel == "email" else "+34600000000",
         "Your cart is waiting: https://shop.example/recover", abandoned, abandoned, sent_at or due)
    )  # fmt: skip


def _order(
    ids: _Ids,
    orders: list[tuple],
    shop_id: int,
    email: str | None,
    paid_at: datetime,
    total: Decimal,
    financial: str,
    checkout_token: str | None = None,
) -> int:
    """An order row, appended to `orders`; its id."""
    order_id = ids.take(OrderRow.__table__)
    refunded = total if financial == "refunded" else Decimal("0")
    orders.append(
        (order_id, shop_id, f"9{order_id:09d}", f"#{10_000 + order_id}", checkout_token, email, financial,
         CURRENCY, total, refunded, paid_at, paid_at)
    )  # fmt: skip
    return order_id


def _attribution(
    rng: random.Random,
    ids: _Ids,
    rows: dict[str, list[tuple]],
    shop_id: int,
    order_id: int,
    journey_id: int,
    credited: tuple[int, str, str, datetime],
    total: Decimal,
    why: str,
    removed: bool,
    abandoned: datetime,
) -> None:
    message_id, step, channel, sent_at = credited
    usd = rng.random() < 0.2  # a buyer who paid in another currency
    rows["attributions"].append(
        (ids.take(Attribution.__table__), shop_id, order_id, journey_id, message_id, step, channel, total, CURRENCY,
         (total * Decimal("1.08")).quantize(Decimal("0.01")) if usd else total, "USD" if usd else CURRENCY,
         REMOVED if removed else CREDITED, ("cancelled" if rng.random() < 0.5 else "refunded") if removed else why,
         abandoned, sent_at)
    )  # fmt: skip


def _write(session: Session, table: Table, columns: Sequence[str], rows: list[tuple], now: datetime) -> None:
    """Insert `rows`: COPY on PostgreSQL, chunked executemany elsewhere. Any NOT NULL column the rows
    leave out gets its model's default (a time: `now`)."""
    if not rows:
        return
    extra: list[tuple[str, Any]] = []
    for column in table.columns:
        if column.name in columns or column.nullable or column.server_default is not None:
            continue
        default = column.default
        if default is not None and getattr(default, "is_scalar", False):
            extra.append((column.name, default.arg))  # type: ignore[attr-defined]
        elif isinstance(column.type, UTCDateTime):
            extra.append((column.name, now))
    names = (*columns, *(name for name, _ in extra))
    tail = tuple(value for _, value in extra)
    if session.get_bind().dialect.name == "postgresql":
        _copy(session, table, names, rows, tail)
    else:
        _executemany(session, table, names, rows, tail)
    if session.get_bind().dialect.name == "postgresql":
        last = max(row[0] for row in rows)
        session.execute(text(f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), {last})"))


def _copy(session: Session, table: Table, names: Sequence[str], rows: list[tuple], tail: tuple) -> None:
    json_at = [i for i, name in enumerate(names) if table.c[name].type.__class__.__name__ == "JSON"]
    cursor = session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor.copy(f"COPY {table.name} ({', '.join(names)}) FROM STDIN") as copy:
        for row in rows:
            if json_at:
                row = tuple(json.dumps(v) if i in json_at and v is not None else v for i, v in enumerate(row))
            copy.write_row(row + tail)


def _executemany(session: Session, table: Table, names: Sequence[str], rows: list[tuple], tail: tuple) -> None:
    """Through SQLAlchemy, so the types convert as the app's own writes do (times made aware for UTCDateTime)."""
    times = [i for i, name in enumerate(names) if isinstance(table.c[name].type, UTCDateTime)]
    for start in range(0, len(rows), SQLITE_CHUNK):
        chunk = []
        for row in rows[start : start + SQLITE_CHUNK]:
            values = list(row + tail)
            for i in times:
                if values[i] is not None:
                    values[i] = values[i].replace(tzinfo=UTC)
            chunk.append(dict(zip(names, values, strict=True)))
        session.execute(insert(table), chunk)
