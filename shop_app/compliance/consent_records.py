"""Consent records: the latest statement we hold for one address on one channel.

Sources: `checkout` (the checkout's marketing checkboxes), `order` (the paid order's email
box, buyer_accepts_marketing: the box as the buyer left it when she paid), `customer` (the
customer's marketing state in Shopify), `storefront` (a browser push subscription), `keyword`
(STOP/START by SMS or WhatsApp), `unsubscribe` (our link), `provider` (a bounce,
complaint or opt-out the provider reported). An older statement never overwrites a newer one;
so what the newest record says decides, wherever consent is read (recovery and referral alike).

An order's tick never takes back the customer's own opt-out (a revocation from one of
OPT_OUT_SOURCES), however much newer: the box is ticked in passing, the opt-out was asked for.
Product §6: "suppressions are honoured by every later send", and §7.4: no message without
consent; nothing there lets a purchase re-grant what the customer withdrew. (A one-click
unsubscribe is kept as a suppression, which no box lifts either. A later checkout's ticked box
does end a withdrawal, as domain/consent.ContactFacts says; the order's box does not.)
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import and_, func, not_, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from shop_app.domain.models import Order
from shop_app.storage.tables import Consent

#: Consent sources whose withdrawal is the customer's own opt-out. An unticked checkout or
#: order box ("checkout", "order") is not one: it is how most checkouts arrive.
OPT_OUT_SOURCES = frozenset({"keyword", "unsubscribe", "provider", "customer"})


def record_consent(
    session: Session,
    shop_id: int,
    channel: str,
    address: str,
    *,
    granted: bool,
    source: str,
    at: datetime,
    profile_id: int | None = None,
    keeps_opt_out: bool = False,
) -> None:
    """Keep the latest consent for (shop, channel, address); an older statement never overwrites a newer one.
    `keeps_opt_out`: this grant does not replace the customer's own opt-out (OPT_OUT_SOURCES).

    One statement, concurrent writers included: INSERT … ON CONFLICT DO UPDATE, the update guarded
    by those two rules (PostgreSQL and SQLite both know it). A Consent object already loaded in
    the session is not refreshed: read it again after recording."""
    record_consents(session, shop_id, [Statement(channel, address, granted, source, at, profile_id)], keeps_opt_out)


class Statement(NamedTuple):
    """One consent statement for `record_consents`."""

    channel: str
    address: str
    granted: bool
    source: str
    at: datetime
    profile_id: int | None = None


def record_consents(
    session: Session, shop_id: int, statements: Sequence[Statement], keeps_opt_out: bool = False
) -> None:
    """`record_consent` for several statements on distinct (channel, address) pairs, in one
    multi-row INSERT … ON CONFLICT DO UPDATE (the checkout's email and SMS boxes at once)."""
    if not statements:
        return
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    table = Consent.metadata.tables[Consent.__tablename__]
    statement = dialect.insert(table).values(
        [
            {
                "shop_id": shop_id,
                "channel": s.channel,
                "address": s.address,
                "state": "granted" if s.granted else "revoked",
                "source": s.source,
                "recorded_at": s.at,
                "profile_id": s.profile_id,
            }  # fmt: skip
            for s in statements
        ]
    )
    newer = table.c.recorded_at <= statement.excluded.recorded_at
    if keeps_opt_out:  # a grant does not replace an opt-out; a revocation always may
        opted_out = and_(table.c.state == "revoked", table.c.source.in_(sorted(OPT_OUT_SOURCES)))
        newer = and_(newer, or_(statement.excluded.state != "granted", not_(opted_out)))
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["shop_id", "channel", "address"],
            set_={
                "state": statement.excluded.state,
                "source": statement.excluded.source,
                "recorded_at": statement.excluded.recorded_at,
                "profile_id": func.coalesce(statement.excluded.profile_id, table.c.profile_id),
            },
            where=newer,
        )
    )


def record_order_consent(session: Session, shop_id: int, order: Order) -> None:
    """What the order's email box says (buyer_accepts_marketing), as a record (source "order") at
    the order's time: the buyer may tick, or untick, the box between checkouts/create and paying,
    and the newer statement must decide. Recorded either way, as the checkout's email box is; a
    tick never replaces the customer's own opt-out (see the module's docstring)."""
    if order.email and order.accepts_marketing is not None:
        record_consent(
            session, shop_id, "email", order.email, granted=order.accepts_marketing, source="order",
            at=order.created_at, keeps_opt_out=True,
        )  # fmt: skip


def consent_state(session: Session, shop_id: int, channel: str, address: str | None) -> Consent | None:
    if not address:
        return None
    return _row(session, shop_id, channel, address)


def _row(session: Session, shop_id: int, channel: str, address: str) -> Consent | None:
    return session.scalar(
        select(Consent).where(Consent.shop_id == shop_id, Consent.channel == channel, Consent.address == address)
    )
