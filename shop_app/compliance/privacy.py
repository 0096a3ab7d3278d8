"""Shopify's mandatory privacy requests, done for real.

- customers/data_request: export everything held about the customer, recorded for the merchant.
- customers/redact: erase the customer's personal data; an opt-out survives only as a keyed hash.
- shop/redact: erase everything of the shop.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session
from sqlalchemy.sql.elements import ColumnElement

from shop_app.domain.models import JourneyStatus
from shop_app.recovery import outbox
from shop_app.recovery.orders import equal_where_given
from shop_app.storage.tables import (
    CheckoutRow,
    Consent,
    DataRequest,
    Journey,
    Message,
    MessageEvent,
    OrderRow,
    Profile,
    PushSubscription,
    Shop,
    Suppression,
    WebhookDelivery,
)

REDACTED_REASON = "customer data erased on request"


@dataclass(frozen=True)
class Customer:
    customer_id: str | None
    email: str | None
    phone: str | None
    order_ids: tuple[str, ...] = ()


def address_hash(secret_key: str, address: str) -> str:
    """A keyed one-way hash: an erased opt-out can still be matched, never read back."""
    digest = hmac.new(secret_key.encode(), address.strip().lower().encode(), hashlib.sha256).hexdigest()
    return f"hmac-sha256:{digest}"


#: A table's (customer id, email, phone) columns.
_CustomerColumns = tuple[
    InstrumentedAttribute[str | None], InstrumentedAttribute[str | None], InstrumentedAttribute[str | None]
]


def _match(columns: _CustomerColumns, customer: Customer) -> ColumnElement[bool]:
    """OR of the given (id, email, phone) columns against the customer's identifiers."""
    id_col, email_col, phone_col = columns
    return or_(
        *equal_where_given((id_col, customer.customer_id), (email_col, customer.email), (phone_col, customer.phone))
    )


def _addresses(customer: Customer) -> list[str]:
    return [a for a in (customer.email, customer.phone) if a]


def _checkouts(session: Session, shop: Shop, customer: Customer) -> list[CheckoutRow]:
    where = _match((CheckoutRow.customer_id, CheckoutRow.email, CheckoutRow.phone), customer)
    if customer.phone:  # the number an SMS consent was given for may differ from the contact phone
        where = or_(where, CheckoutRow.sms_phone == customer.phone)
    return list(session.scalars(select(CheckoutRow).where(CheckoutRow.shop_id == shop.id, where)))


def _orders(session: Session, shop: Shop, customer: Customer) -> list[OrderRow]:
    where = _match((OrderRow.customer_id, OrderRow.email, OrderRow.phone), customer)
    if customer.order_ids:
        where = or_(where, OrderRow.shopify_id.in_(customer.order_ids))
    return list(session.scalars(select(OrderRow).where(OrderRow.shop_id == shop.id, where)))


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
    checkouts = _checkouts(session, shop, customer)
    profiles = session.scalars(
        select(Profile).where(
            Profile.shop_id == shop.id, _match((Profile.customer_id, Profile.email, Profile.phone), customer)
        )
    ).all()
    messages = session.scalars(
        select(Message)
        .join(Journey, Journey.id == Message.journey_id)
        .where(Message.shop_id == shop.id, Journey.checkout_id.in_([c.id for c in checkouts]))
        .order_by(Message.id)
    ).all()
    suppressions = session.scalars(
        select(Suppression).where(Suppression.shop_id == shop.id, Suppression.address.in_(_addresses(customer)))
    ).all()
    return {
        "shop": shop.domain,
        "customer": {"id": customer.customer_id, "email": customer.email, "phone": customer.phone},
        "profiles": [_exported_profile(p) for p in profiles],
        "checkouts": [_exported_checkout(c) for c in checkouts],
        "orders": [_exported_order(o) for o in _orders(session, shop, customer)],
        "messages": [_exported_message(m) for m in messages],
        "consents": [
            {"channel": c.channel, "state": c.state, "source": c.source, "recorded_at": _when(c.recorded_at)}
            for c in session.scalars(
                select(Consent).where(Consent.shop_id == shop.id, Consent.address.in_(_addresses(customer)))
            )
        ],
        "suppressions": [
            {"channel": s.channel, "reason": s.reason, "since": _when(s.created_at)} for s in suppressions
        ],
    }


def _exported_profile(p: Profile) -> dict[str, object]:
    return {
        "email": p.email,
        "phone": p.phone,
        "first_name": p.first_name,
        "origin": p.origin,
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


# --- customers/redact ----------------------------------------------------------------------------


def redact_customer(session: Session, shop: Shop, customer: Customer, secret_key: str) -> str:
    """Erase the customer's personal data; what happened, in words."""
    checkouts = _checkouts(session, shop, customer)
    checkout_ids = [c.id for c in checkouts]
    journey_ids = list(
        session.scalars(select(Journey.id).where(Journey.shop_id == shop.id, Journey.checkout_id.in_(checkout_ids)))
    )
    _stop_journeys(session, shop, journey_ids)
    _erase_checkouts_and_orders(session, shop, customer, checkouts)
    session.execute(
        delete(Profile).where(
            Profile.shop_id == shop.id, _match((Profile.customer_id, Profile.email, Profile.phone), customer)
        )
    )
    # An opt-out must survive the erasure: keep it, but only as a keyed hash of the address.
    addresses = _addresses(customer)
    session.execute(delete(Consent).where(Consent.shop_id == shop.id, Consent.address.in_(addresses)))
    cart_tokens = [c.cart_token for c in checkouts if c.cart_token]
    session.execute(
        delete(PushSubscription).where(
            PushSubscription.shop_id == shop.id, PushSubscription.cart_token.in_(cart_tokens)
        )
    )
    _drop_raw_provider_events(session, shop, journey_ids)
    for suppression in session.scalars(
        select(Suppression).where(Suppression.shop_id == shop.id, Suppression.address.in_(addresses))
    ):
        suppression.address = address_hash(secret_key, suppression.address)
    session.execute(
        delete(DataRequest).where(
            DataRequest.shop_id == shop.id,
            _match((DataRequest.customer_id, DataRequest.email, DataRequest.phone), customer),
        )
    )
    _drop_raw_webhooks(session, shop, customer)
    return f"erased: {len(checkouts)} checkout(s), {len(journey_ids)} journey(s)"


def _stop_journeys(session: Session, shop: Shop, journey_ids: list[int]) -> None:
    """Pending messages are cancelled, sent ones forget what they said, active journeys stop."""
    outbox.cancel_pending(session, shop.id, REDACTED_REASON, journey_ids=journey_ids)
    outbox.forget_contents(session, shop.id, journey_ids)
    session.execute(
        update(Journey)
        .where(Journey.id.in_(journey_ids), Journey.status == JourneyStatus.ACTIVE.value)
        .values(status=JourneyStatus.STOPPED.value, stop_reason=REDACTED_REASON)
    )


def _erase_checkouts_and_orders(session: Session, shop: Shop, customer: Customer, checkouts: list[CheckoutRow]) -> None:
    for checkout in checkouts:
        checkout.email = checkout.phone = checkout.sms_phone = checkout.customer_id = checkout.first_name = None
        checkout.abandoned_checkout_url = None
        checkout.line_items = []
        checkout.profile_id = None
    for order in _orders(session, shop, customer):
        order.email = order.phone = order.customer_id = None


def _drop_raw_provider_events(session: Session, shop: Shop, journey_ids: list[int]) -> None:
    """Providers' raw callbacks carry the address (To/From, email): keep the event, drop the raw."""
    message_ids = select(Message.id).where(Message.shop_id == shop.id, Message.journey_id.in_(journey_ids))
    session.execute(
        update(MessageEvent)
        .where(MessageEvent.shop_id == shop.id, MessageEvent.message_id.in_(message_ids))
        .values(raw=None)
    )


def _drop_raw_webhooks(session: Session, shop: Shop, customer: Customer) -> None:
    """Raw webhook bodies that mention the customer go too."""
    needles = [n for n in (customer.email, customer.phone, customer.customer_id) if n]
    session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.shop_id == shop.id, or_(*(WebhookDelivery.body.contains(n) for n in needles)))
        .values(body=None)
    )


# --- shop/redact ---------------------------------------------------------------------------------


def redact_shop(session: Session, shop: Shop) -> str:
    """Everything of the shop goes; every table's shop_id cascades from `shops`."""
    domain = shop.domain
    session.execute(delete(Shop).where(Shop.id == shop.id))
    return f"erased every record of {domain}"
