"""Shopify's mandatory privacy requests, done for real.

- customers/data_request: export everything held about the customer, recorded for the merchant.
- customers/redact: erase the customer's personal data in every table; an opt-out survives only
  as a keyed hash (compliance/erasure.py).
- shop/redact: erase everything of the shop.

Both customer requests look at the same rows: the customer's and those of every address found on
them (compliance/customer_data.py).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, delete, or_, select
from sqlalchemy.orm import Session

from shop_app.compliance.customer_data import Customer, Held, gather
from shop_app.compliance.erasure import REDACTED_REASON, redact_customer
from shop_app.domain.addresses import address_hash
from shop_app.storage.tables import (
    CheckoutRow,
    Consent,
    DataRequest,
    Journey,
    Message,
    OrderRow,
    Profile,
    Shop,
    Suppression,
)

__all__ = [
    "REDACTED_REASON",
    "Customer",
    "address_hash",
    "export_customer",
    "redact_customer",
    "redact_shop",
]


def _when(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


# --- customers/data_request ----------------------------------------------------------------------


def export_customer(session: Session, shop: Shop, customer: Customer, request_id: str | None) -> DataRequest:
    """Record everything held about the customer as a DataRequest the merchant can read."""
    request = DataRequest(
        shop_id=shop.id,
        shopify_request_id=request_id,
        customer_id=customer.customer_id,
        email=customer.email,
        phone=customer.phone,
        export=_export(session, shop, customer),
    )
    session.add(request)
    session.flush()
    return request


def _export(session: Session, shop: Shop, customer: Customer) -> dict[str, object]:
    held = gather(session, shop, customer)
    messages = session.scalars(
        select(Message)
        .join(Journey, Journey.id == Message.journey_id)
        .where(
            Message.shop_id == shop.id,
            # A referral journey (issue 11) has no checkout: it is the profile's.
            or_(
                Journey.checkout_id.in_([c.id for c in held.checkouts]),
                Journey.profile_id.in_([p.id for p in held.profiles]),
            ),
        )
        .order_by(Message.id)
    ).all()
    return {
        "shop": shop.domain,
        "customer": {"id": customer.customer_id, "email": customer.email, "phone": customer.phone},
        "profiles": [_exported_profile(p) for p in held.profiles],
        "checkouts": [_exported_checkout(c) for c in held.checkouts],
        "orders": [_exported_order(o) for o in held.orders],
        "messages": [_exported_message(m) for m in messages],
        "consents": [
            {"channel": c.channel, "state": c.state, "source": c.source, "recorded_at": _when(c.recorded_at)}
            for c in session.scalars(select(Consent).where(Consent.shop_id == shop.id, _held_address(Consent, held)))
        ],
        "suppressions": [
            {"channel": s.channel, "reason": s.reason, "since": _when(s.created_at)}
            for s in session.scalars(
                select(Suppression).where(Suppression.shop_id == shop.id, _held_address(Suppression, held))
            )
        ],
    }


def _held_address(model: type[Consent] | type[Suppression], held: Held) -> ColumnElement[bool]:
    return model.address.in_(sorted(held.addresses.emails | held.addresses.phone_forms()))


def _exported_profile(p: Profile) -> dict[str, object]:
    return {
        "email": p.email,
        "phone": p.phone,
        "first_name": p.first_name,
        "origin": p.origin,
        "captured_by": p.captured_by,
        "created_at": _when(p.created_at),
    }


def _exported_checkout(c: CheckoutRow) -> dict[str, object]:
    return {
        "token": c.token,
        "email": c.email,
        "phone": c.phone,
        "sms_marketing_phone": c.sms_phone,
        "first_name": c.first_name,
        "line_items": c.line_items,
        "total_price": str(c.total_price),
        "currency": c.currency,
        "accepts_email_marketing": c.accepts_email_marketing,
        "accepts_sms_marketing": c.accepts_sms_marketing,
        "updated_at": _when(c.shopify_updated_at),
        "completed_at": _when(c.completed_at),
    }


def _exported_order(o: OrderRow) -> dict[str, object]:
    return {
        "id": o.shopify_id,
        "name": o.name,
        "email": o.email,
        "phone": o.phone,
        "total_price": str(o.total_price),
        "currency": o.currency,
        "created_at": _when(o.shopify_created_at),
    }


def _exported_message(m: Message) -> dict[str, object]:
    return {
        "step": m.step,
        "channel": m.channel,
        "status": m.status,
        "to": m.recipient,
        "subject": m.subject,
        "body": m.body,
        "sent_at": _when(m.sent_at),
        "reason": m.reason,
    }


# --- shop/redact ---------------------------------------------------------------------------------


def redact_shop(session: Session, shop: Shop) -> str:
    """Everything of the shop goes; every table's shop_id cascades from `shops`."""
    domain = shop.domain
    session.execute(delete(Shop).where(Shop.id == shop.id))
    return f"erased every record of {domain}"
