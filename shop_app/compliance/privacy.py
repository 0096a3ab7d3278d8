"""Shopify's mandatory privacy requests, done for real.

- customers/data_request: export everything held about the customer, recorded for the merchant.
- customers/redact: erase the customer's personal data in every table; an opt-out survives only
  as a keyed hash (compliance/erasure.py).
- shop/redact: erase everything of the shop.

Both customer requests look at the same rows: the customer's and those of every address found on
them (compliance/customer_data.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from shop_app.compliance.customer_data import Customer, Held, gather
from shop_app.compliance.erasure import REDACTED_REASON, redact_customer
from shop_app.compliance.row_json import row_json
from shop_app.domain.addresses import address_hash
from shop_app.storage.referral_tables import ReferralAdvocate, ReferralReward
from shop_app.storage.tables import Consent, DataRequest, Journey, Message, Shop, Suppression

__all__ = [
    "REDACTED_REASON",
    "Customer",
    "address_hash",
    "export_customer",
    "redact_customer",
    "redact_shop",
]


_Addressed = TypeVar("_Addressed", Consent, Suppression)


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


#: What the export shows of each kind of row, and the columns shown under another name.
_PROFILE = ("email", "phone", "first_name", "origin", "captured_by", "created_at")
_CHECKOUT = ("token", "email", "phone", "sms_marketing_phone", "first_name", "line_items", "total_price", "currency",
             "accepts_email_marketing", "accepts_sms_marketing", "updated_at", "completed_at")  # fmt: skip
_CHECKOUT_COLUMNS = {"sms_marketing_phone": "sms_phone", "updated_at": "shopify_updated_at"}
_ORDER = ("id", "name", "email", "phone", "total_price", "currency", "created_at")
_ORDER_COLUMNS = {"id": "shopify_id", "created_at": "shopify_created_at"}
_MESSAGE = ("step", "channel", "status", "to", "subject", "body", "sent_at", "reason")
_CONSENT = ("channel", "state", "source", "recorded_at")
_SUPPRESSION = ("channel", "reason", "since")
_ADVOCATE = ("code", "created_at")
_REWARD = ("status", "code", "reason", "created_at")


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
        "profiles": [row_json(p, _PROFILE) for p in held.profiles],
        "checkouts": [row_json(c, _CHECKOUT, _CHECKOUT_COLUMNS) for c in held.checkouts],
        "orders": [row_json(o, _ORDER, _ORDER_COLUMNS) for o in held.orders],
        "messages": [row_json(m, _MESSAGE, {"to": "recipient"}) for m in messages],
        "consents": [row_json(c, _CONSENT) for c in _of_addresses(session, shop, Consent, held)],
        "suppressions": [
            row_json(s, _SUPPRESSION, {"since": "created_at"}) for s in _of_addresses(session, shop, Suppression, held)
        ],
        "referral_codes": _referral_codes(session, shop, held),
    }


def _referral_codes(session: Session, shop: Shop, held: Held) -> list[dict[str, object]]:
    """The customer's own referral code (an advocate's, made from their first name), each with the
    rewards it earned them: their status, code and reason (the friends' orders stay the friends')."""
    advocates = session.scalars(
        select(ReferralAdvocate)
        .where(ReferralAdvocate.shop_id == shop.id, ReferralAdvocate.profile_id.in_([p.id for p in held.profiles]))
        .order_by(ReferralAdvocate.id)
    ).all()
    rewards = session.scalars(
        select(ReferralReward)
        .where(ReferralReward.shop_id == shop.id, ReferralReward.advocate_id.in_([a.id for a in advocates]))
        .order_by(ReferralReward.id)
    ).all()
    return [
        {
            **row_json(advocate, _ADVOCATE, {"created_at": "code_created_at"}),
            "rewards": [row_json(r, _REWARD, {"code": "reward_code"}) for r in rewards if r.advocate_id == advocate.id],
        }
        for advocate in advocates
    ]


def _of_addresses(session: Session, shop: Shop, model: type[_Addressed], held: Held) -> Sequence[_Addressed]:
    """The shop's rows of `model` for any of the held addresses."""
    addresses = sorted(held.addresses.emails | held.addresses.phone_forms())
    return session.scalars(select(model).where(model.shop_id == shop.id, model.address.in_(addresses))).all()


# --- shop/redact ---------------------------------------------------------------------------------


def redact_shop(session: Session, shop: Shop) -> str:
    """Everything of the shop goes; every table's shop_id cascades from `shops`."""
    domain = shop.domain
    session.execute(delete(Shop).where(Shop.id == shop.id))
    return f"erased every record of {domain}"
