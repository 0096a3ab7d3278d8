"""What the send job knows of a referral message (issue 11), from our own records: whom it goes to
(the journey's profile and its triggering order), what its texts need (the review link, the shop's
URL, the advocate), and why it can no longer go out. recovery/gate_facts.py builds the Candidate
and the gates' facts from it, as for a recovery message; consent, suppression, windows and
channels are judged the same way. A referral journey has no checkout, and no step supersedes
another.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from shop_app.compliance.consent_records import consent_state
from shop_app.domain.models import Channel, Contact, Step
from shop_app.domain.referral import AWAITING_FULFILMENT, NOT_FULFILLED
from shop_app.domain.settings import ShopSettings
from shop_app.storage.database import insert_new
from shop_app.storage.referral_tables import ReferralAdvocate
from shop_app.storage.tables import Discount, Journey, Message, OrderRow, Profile, Shop

#: The triggering order's financial statuses that end the flow (our records).
STOPPING_STATUSES = {"refunded": "refunded", "voided": "voided"}


@dataclass(frozen=True)
class ReferralFacts:
    """What composing a referral message needs beyond the recipient."""

    profile_id: int
    order_id: int | None
    currency: str
    review_link: str  # the order's status page, else the shop's home page
    shop_url: str  # https://{shop}
    friend_percent: Decimal
    reward_percent: Decimal
    reward_days: int
    advocate_id: int | None = None  # the invite step's advocate (the row is made on its first send)
    #: A review's or social's thank-you code: its percentage (the code's own once reserved, else the settings').
    incentive_percent: Decimal | None = None


@dataclass(frozen=True)
class Found:
    contact: Contact
    referral: ReferralFacts
    stop_reason: str | None  # the triggering order no longer counts: the journey's rows are cancelled
    skip_reason: str | None  # this row can no longer be sent


def find(session: Session, message: Message, journey: Journey, shop: Shop, settings: ShopSettings) -> Found:
    profile = session.get(Profile, journey.profile_id) if journey.profile_id else None
    order = session.get(OrderRow, journey.trigger_order_id) if journey.trigger_order_id else None
    contact = _contact(session, shop.id, profile, order)
    step = Step(message.step)
    advocate_id = _advocate(session, shop.id, journey, profile) if step is Step.INVITE and profile else None
    shop_url = f"https://{shop.domain}"
    terms = settings.referral
    referral = ReferralFacts(
        profile_id=journey.profile_id or 0,
        order_id=order.id if order else None,
        currency=order.currency if order else "USD",
        review_link=(order.status_url if order and order.status_url else None) or shop_url,
        shop_url=shop_url,
        friend_percent=terms.friend_percent,
        reward_percent=terms.reward_percent,
        reward_days=terms.reward_days,
        advocate_id=advocate_id,
        incentive_percent=_incentive_percent(session, journey, step, settings),
    )
    waiting = message.reason == AWAITING_FULFILMENT and step is not Step.REWARD
    return Found(
        contact,
        referral,
        stop_reason=_order_stopped(order),
        skip_reason=NOT_FULFILLED.removeprefix("skipped: ") if waiting else None,
    )


def _contact(session: Session, shop_id: int, profile: Profile | None, order: OrderRow | None) -> Contact:
    """The profile's details, the order's where the profile has none; consent from our records.

    The newest consent record decides: the order's email box is recorded at the order's time
    (compliance/consent_records.record_order_consent), so a box ticked, or unticked, between
    checkouts/create and paying outweighs what the checkout said; the customer's own opt-out
    is never replaced by an order's tick. The order's box is read here only without a record."""
    email = (profile.email if profile else None) or (order.email if order else None)
    phone = (profile.phone if profile else None) or (order.phone if order else None)
    email_record = consent_state(session, shop_id, Channel.EMAIL.value, email)
    sms_record = consent_state(session, shop_id, Channel.SMS.value, phone)
    accepts_email = order.accepts_marketing if order else None
    if email_record is not None:
        accepts_email = email_record.state == "granted"
    return Contact(
        email=email,
        phone=phone,
        accepts_email_marketing=accepts_email,
        accepts_sms_marketing=sms_record is not None and sms_record.state == "granted",
        first_name=profile.first_name if profile else None,
        locale=order.locale if order else None,  # the triggering order's customer_locale: the texts' language
        cart_token=order.cart_token if order else None,
    )


def _order_stopped(order: OrderRow | None) -> str | None:
    status = STOPPING_STATUSES.get((order.financial_status or "").lower()) if order else None
    if order is None or status is None:
        return None
    return f"order {order.name or order.shopify_id} {status}"


def _incentive_percent(session: Session, journey: Journey, step: Step, settings: ShopSettings) -> Decimal | None:
    if step not in (Step.REVIEW, Step.SOCIAL):
        return None
    reserved = session.scalar(
        select(Discount.value).where(Discount.journey_id == journey.id, Discount.step == step.value)
    )
    incentive = settings.referral.step(step).incentive
    return reserved or (incentive.percent if incentive else None)


def _advocate(session: Session, shop_id: int, journey: Journey, profile: Profile) -> int:
    """The advocate row the personal code is kept on: made once (one per shop and profile)."""
    insert_new(
        session, ReferralAdvocate, shop_id=shop_id, profile_id=profile.id, journey_id=journey.id,
        order_id=journey.trigger_order_id,
    )  # fmt: skip
    return session.execute(
        select(ReferralAdvocate.id).where(
            ReferralAdvocate.shop_id == shop_id, ReferralAdvocate.profile_id == profile.id
        )
    ).scalar_one()
