"""journey_bytes.py's floor: the least a journey's rows can take on PostgreSQL, measured in the same run.

The same checkouts go into a minimal schema of its own (`journey_floor`, in the bench's fresh
database) that holds only what the rules in product.md §7 cannot do without, each table with its
primary key and the one unique index its rule needs:

- a delivery per webhook: its shop and webhook id (unique: a repeat is answered 200, never ingested
  twice), a status and when it came; no body (it is dropped once ingested);
- a profile per buyer (unique per shop and email) and a consent per channel with its address
  (unique per shop, channel and address): email and SMS, as the bench's buyers give both;
- the checkout: token (unique per shop), email, phone, first name, recovery URL, currency, total
  and the cart as [title, quantity, price, variant] lists (what the templates show);
- a journey per checkout (unique), and its 4 messages (unique per journey, step and channel), step,
  channel and status as small integers, due and sent times, with a partial index the dispatcher
  reads the due rows by. Each message is claimed, then sent: two UPDATEs, as the real send makes.

It keeps no sent text, recipient, reason or provider answer, none of the admin's, the report's or
the matching's indexes (by email, phone, status, date), no referral or measurement column. So it is
a floor, not a design: the real schema holds more because the product reads more. Rounds and a
plain VACUUM after each, as journey_bytes.py runs its journeys.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.engine import Connection

SCHEMA = "journey_floor"
DDL = f"""
CREATE SCHEMA {SCHEMA};
CREATE TABLE {SCHEMA}.deliveries (id bigserial PRIMARY KEY, shop_id bigint NOT NULL, webhook_id text NOT NULL,
  status smallint NOT NULL, received_at timestamptz NOT NULL, UNIQUE (shop_id, webhook_id));
CREATE TABLE {SCHEMA}.profiles (id bigserial PRIMARY KEY, shop_id bigint NOT NULL, email text, phone text,
  first_name text, created_at timestamptz NOT NULL, UNIQUE (shop_id, email));
CREATE TABLE {SCHEMA}.consents (id bigserial PRIMARY KEY, shop_id bigint NOT NULL, channel smallint NOT NULL,
  address text NOT NULL, granted boolean NOT NULL, at timestamptz NOT NULL, UNIQUE (shop_id, channel, address));
CREATE TABLE {SCHEMA}.checkouts (id bigserial PRIMARY KEY, shop_id bigint NOT NULL, token text NOT NULL,
  email text, phone text, first_name text, url text, currency char(3) NOT NULL, total numeric(14, 2) NOT NULL,
  items jsonb NOT NULL, updated_at timestamptz NOT NULL, UNIQUE (shop_id, token));
CREATE TABLE {SCHEMA}.journeys (id bigserial PRIMARY KEY, shop_id bigint NOT NULL, checkout_id bigint UNIQUE,
  status smallint NOT NULL, abandoned_at timestamptz NOT NULL);
CREATE TABLE {SCHEMA}.messages (id bigserial PRIMARY KEY, shop_id bigint NOT NULL, journey_id bigint NOT NULL,
  step smallint NOT NULL, channel smallint NOT NULL, status smallint NOT NULL, due_at timestamptz NOT NULL,
  sent_at timestamptz, UNIQUE (journey_id, step, channel));
CREATE INDEX ix_messages_due ON {SCHEMA}.messages (due_at) WHERE status = 0;
"""
#: (step, channel) of the default plan's 4 messages: first email, WhatsApp, Prime SMS and WhatsApp.
PLAN = ((1, 1), (2, 3), (3, 2), (3, 3))
SCHEDULED, CLAIMED, SENT = 0, 1, 3
#: When every checkout is abandoned (the rows' bytes do not depend on it).
ABANDONED = datetime.fromisoformat("2026-01-05T09:00:00+00:00")


def _journey(connection: Connection, shop: int, body: dict, now: datetime) -> None:
    """One checkout's rows."""
    email, phone, first = body.get("email"), body.get("phone"), (body.get("customer") or {}).get("first_name")
    items = [[i["title"], i["quantity"], i["price"], i.get("variant_title")] for i in body["line_items"]]
    row = {"shop": shop, "now": now, "email": email, "phone": phone, "first": first}
    insert = f"INSERT INTO {SCHEMA}"
    connection.execute(text(f"{insert}.deliveries (shop_id, webhook_id, status, received_at) "
                            "VALUES (:shop, :hook, 1, :now)"), {**row, "hook": str(uuid.uuid4())})  # fmt: skip
    connection.execute(text(f"{insert}.profiles (shop_id, email, phone, first_name, created_at) "
                            "VALUES (:shop, :email, :phone, :first, :now)"), row)  # fmt: skip
    for channel, address in ((1, email), (2, phone)):
        connection.execute(text(f"{insert}.consents (shop_id, channel, address, granted, at) "
                                "VALUES (:shop, :channel, :address, true, :now)"),
                           {**row, "channel": channel, "address": address})  # fmt: skip
    checkout = connection.scalar(
        text(f"{insert}.checkouts (shop_id, token, email, phone, first_name, url, currency, total, items, "
             "updated_at) VALUES (:shop, :token, :email, :phone, :first, :url, :currency, :total, "
             "CAST(:items AS jsonb), :now) RETURNING id"),
        {**row, "token": body["token"], "url": body["abandoned_checkout_url"], "currency": body["currency"],
         "total": body["total_price"], "items": json.dumps(items)},
    )  # fmt: skip
    journey = connection.scalar(
        text(f"{insert}.journeys (shop_id, checkout_id, status, abandoned_at) VALUES (:shop, :checkout, 0, :now) "
             "RETURNING id"), {**row, "checkout": checkout})  # fmt: skip
    connection.execute(
        text(f"{insert}.messages (shop_id, journey_id, step, channel, status, due_at) "
             f"VALUES (:shop, :journey, :step, :channel, {SCHEDULED}, :due)"),
        [{"shop": shop, "journey": journey, "step": s, "channel": c, "due": now + timedelta(hours=s)} for s, c in PLAN],
    )  # fmt: skip


def create(connection: Connection) -> None:
    """The floor's schema and its empty tables, vacuumed as the bench's own are before it starts
    (the bench drops its database at the end)."""
    connection.exec_driver_sql(DDL)
    connection.exec_driver_sql("VACUUM")


def load(connection: Connection, rounds: list[tuple[int, int]], shops: int, make: Callable[[int], dict]) -> None:
    """The journeys `rounds` cover, round by round (checkout n is `make(n)`, of shop n % `shops`):
    their rows, each message claimed then sent, a plain VACUUM after each round. `connection` is in
    autocommit (VACUUM runs outside a transaction; transactions change no byte of the rows)."""
    for first, last in rounds:
        for n in range(first, last):
            _journey(connection, n % shops, make(n), ABANDONED)
        claim = f"UPDATE {SCHEMA}.messages SET status = {CLAIMED} WHERE status = {SCHEDULED}"
        connection.execute(text(claim))
        sent = f"UPDATE {SCHEMA}.messages SET status = {SENT}, sent_at = due_at WHERE status = {CLAIMED}"
        connection.execute(text(sent))
        connection.exec_driver_sql("VACUUM")
