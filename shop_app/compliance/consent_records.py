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

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
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
) -> Consent:
    """Keep the latest consent for (shop, channel, address); an older statement never overwrites a newer one.
    `keeps_opt_out`: this grant does not replace the customer's own opt-out (OPT_OUT_SOURCES)."""
    row = _row(session, shop_id, channel, address)
    state = "granted" if granted else "revoked"
    if row is None:
        try:
            with session.begin_nested():
                row = Consent(
                    shop_id=shop_id,
                    channel=channel,
                    address=address,
                    state=state,
                    source=source,
                    recorded_at=at,
                    profile_id=profile_id,
                )
                session.add(row)
            return row
        except IntegrityError:  # recorded concurrently: apply this statement to that row
            row = _row(session, shop_id, channel, address)
            if row is None:  # the row that won the insert is gone again
                raise
    if keeps_opt_out and granted and row.state == "revoked" and row.source in OPT_OUT_SOURCES:
        return row
    if at >= row.recorded_at:
        row.state, row.source, row.recorded_at = state, source, at
        if profile_id is not None:
            row.profile_id = profile_id
    return row


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
