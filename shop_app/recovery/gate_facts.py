"""The facts the send gates need, gathered from our own records in one transaction.

`collect` locks the message row (only if it is still queued for this send job) and returns
the `Candidate` the rest of the send job works on, with the `gates.SendFacts` that
`domain.gates.decide` judges. Shopify is asked later, outside any lock (recovery/live_check.py).
A referral message (issue 11) has no checkout: its recipient is its journey's profile and
triggering order (referral/send_facts.py), and no referral step supersedes another. The
recipient's time zone, when their phone number names one (recipient_zone.py), joins the
delivery window (domain/quiet_hours.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from shop_app.channels.push_subscriptions import subscription_for
from shop_app.compliance.consent_records import OPT_OUT_SOURCES, consent_state
from shop_app.compliance.suppressions import suppression_reason
from shop_app.domain import consent, discount_memory, gates, quiet_hours
from shop_app.domain.models import PENDING, UNDER_WAY, Channel, Checkout, Contact, Flow, JourneyStatus, Status, Step
from shop_app.domain.planner import address_for
from shop_app.domain.settings import ShopSettings
from shop_app.recovery import offer_memory, recipient_zone
from shop_app.recovery.checkouts import checkout_of
from shop_app.recovery.discounts import StepOffer
from shop_app.recovery.orders import describe_order, payment_for
from shop_app.referral import send_facts
from shop_app.referral.send_facts import ReferralFacts
from shop_app.runtime import Runtime
from shop_app.shopify.shops import load_settings
from shop_app.storage.tables import CheckoutRow, Journey, Message, OrderRow, Shop


@dataclass(frozen=True)
class ShopFacts:
    id: int
    domain: str
    name: str
    email: str | None
    timezone: str


@dataclass(frozen=True)
class Candidate:
    """A queued message this send job holds, with what composing and sending it needs."""

    message_id: int
    job_id: str
    journey_id: int
    step: Step
    channel: Channel
    shop: ShopFacts
    checkout: Checkout | None  # None for a referral message
    abandoned_at: datetime
    settings: ShopSettings
    offer: StepOffer | None  # the recovery step's offer
    #: Whom it goes to: the checkout itself, or a referral journey's profile and order.
    contact: Checkout | Contact
    referral: ReferralFacts | None = None

    @property
    def flow(self) -> Flow:
        return Flow.RECOVERY if self.referral is None else Flow.REFERRAL

    @property
    def cart(self) -> Checkout:
        """A recovery message's checkout."""
        if self.checkout is None:
            raise ValueError("a referral message has no checkout")
        return self.checkout

    @property
    def step_offer(self) -> StepOffer:
        if self.offer is None:
            raise ValueError("a referral message has no recovery offer")
        return self.offer

    @property
    def address(self) -> str | None:
        if self.checkout is not None:
            return address_for(self.channel, self.checkout, has_push=True)
        if self.channel is Channel.PUSH:
            return f"push:{self.contact.cart_token}" if self.contact.cart_token else None
        return self.contact.email if self.channel is Channel.EMAIL else self.contact.marketing_phone


@dataclass(frozen=True)
class Collected:
    candidate: Candidate
    facts: gates.SendFacts
    paid: OrderRow | None  # the order our own records know paid for this checkout


def held(session: Session, message_id: int, job_id: str) -> Message | None:
    """The row, locked, if it is still queued for this very job."""
    message = session.get(Message, message_id, with_for_update=True, populate_existing=True)
    if message is None or message.status != Status.QUEUED.value or message.job_id != job_id:
        return None
    return message


def collect(rt: Runtime, session: Session, message_id: int, job_id: str, now: datetime) -> Collected | None:
    message = held(session, message_id, job_id)
    if message is None:
        return None
    journey = session.get_one(Journey, message.journey_id)
    shop = session.get_one(Shop, message.shop_id)
    if journey.flow == Flow.REFERRAL:
        return _collect_referral(rt, session, message, journey, shop)
    candidate = _candidate(session, message, journey, shop, now)
    checkout, channel = candidate.cart, candidate.channel
    paid = payment_for(session, shop.id, checkout, journey.abandoned_at)
    contact = _contact_facts(rt, session, candidate)
    zone = recipient_zone.zone_of(checkout.marketing_phone)
    facts = gates.SendFacts(
        step=candidate.step,
        due_at=message.due_at,
        journey_stop_reason=journey_stop_reason(journey),
        holdout=journey.holdout,
        paid_reason=describe_order(paid) if paid else None,
        consent_refusal=consent.refusal(channel, checkout, candidate.settings, contact),
        connected=rt.transports.connected(session, shop.id, channel.value),
        window=candidate.settings.windows if channel in candidate.settings.windowed_channels else None,
        later_steps_started=_later_steps_started(session, message, candidate.settings, zone, now),
        recipient_zone=zone,
    )
    return Collected(candidate, facts, paid)


def _collect_referral(rt: Runtime, session: Session, message: Message, journey: Journey, shop: Shop) -> Collected:
    """A referral row's facts: no payment to look for, no superseding; a refunded or voided
    triggering order cancels, a review whose order was never fulfilled in time is skipped."""
    settings = load_settings(session, shop)
    found = send_facts.find(session, message, journey, shop, settings)
    candidate = Candidate(
        message_id=message.id, job_id=message.job_id or "", journey_id=journey.id, step=Step(message.step),
        channel=Channel(message.channel), shop=ShopFacts(shop.id, shop.domain, shop.name, shop.email, shop.timezone),
        checkout=None, abandoned_at=journey.abandoned_at, settings=settings, offer=None, contact=found.contact,
        referral=found.referral,
    )  # fmt: skip
    channel = candidate.channel
    facts = gates.SendFacts(
        step=candidate.step,
        due_at=message.due_at,
        journey_stop_reason=journey_stop_reason(journey) or found.stop_reason,
        paid_reason=None,
        consent_refusal=consent.refusal(channel, found.contact, settings, _contact_facts(rt, session, candidate)),
        connected=rt.transports.connected(session, shop.id, channel.value),
        window=settings.windows if channel in settings.windowed_channels else None,
        skip_reason=found.skip_reason,
        recipient_zone=recipient_zone.zone_of(found.contact.marketing_phone),
    )
    return Collected(candidate, facts, None)


def recheck(session: Session, candidate: Candidate) -> tuple[bool, str | None]:
    """Just before the claim, in one locked read: is the row still held by this job, and why
    did its journey stop if it did (None while it is active)?"""
    row = session.execute(
        select(Message.status, Message.job_id, Journey.status, Journey.stop_reason)
        .join(Journey, Journey.id == Message.journey_id)
        .where(Message.id == candidate.message_id)
        .with_for_update(of=Message)
    ).one_or_none()
    if row is None or row[0] != Status.QUEUED or row[1] != candidate.job_id:
        return False, None
    return True, _stop_reason(row[2], row[3])


def journey_stop_reason(journey: Journey) -> str | None:
    """None while the journey is active, else why it stopped."""
    return _stop_reason(journey.status, journey.stop_reason)


def _stop_reason(status: str, reason: str | None) -> str | None:
    return None if status == JourneyStatus.ACTIVE else (reason or status)


def _candidate(session: Session, message: Message, journey: Journey, shop: Shop, now: datetime) -> Candidate:
    settings = load_settings(session, shop)
    checkout = checkout_of(session.get_one(CheckoutRow, journey.checkout_id))
    step = Step(message.step)
    # WhatsApp orchestration repeats the first offer; Prime brings the stronger one.
    incentive = settings.prime.incentive if step is Step.PRIME else settings.first.incentive
    withheld = None
    if incentive.offered and settings.discount_memory_days:  # a person sent a code lately gets none
        last_sent = offer_memory.last_code_sent(session, shop.id, journey.id, checkout)
        withheld = discount_memory.withheld_reason(last_sent, settings.discount_memory_days, now)
    offer = StepOffer(shop.id, journey.id, step.value, checkout.token, checkout.customer_id, incentive, withheld)
    return Candidate(
        message_id=message.id,
        job_id=message.job_id or "",
        journey_id=journey.id,
        step=step,
        channel=Channel(message.channel),
        shop=ShopFacts(shop.id, shop.domain, shop.name, shop.email, shop.timezone),
        checkout=checkout,
        abandoned_at=journey.abandoned_at,
        settings=settings,
        offer=offer,
        contact=checkout,
    )


def _contact_facts(rt: Runtime, session: Session, candidate: Candidate) -> consent.ContactFacts:
    shop_id, contact, channel = candidate.shop.id, candidate.contact, candidate.channel
    if channel is Channel.PUSH:
        subscribed = subscription_for(session, shop_id, contact.cart_token) is not None
        return consent.ContactFacts(push_subscribed=subscribed)
    secret, address = rt.settings.secret_key, candidate.address
    suppressed = suppression_reason(session, secret, shop_id, channel.value, address)
    if channel is not Channel.WHATSAPP:
        return consent.ContactFacts(suppressed, withdrawn=_opt_out(session, shop_id, channel, address))
    record = consent_state(session, shop_id, Channel.WHATSAPP.value, address)
    sms_stop = suppression_reason(session, secret, shop_id, Channel.SMS.value, address)
    sms_withdrawn = _opt_out(session, shop_id, Channel.SMS, address)
    return consent.ContactFacts(
        suppressed,
        withdrawn=_opt_out(session, shop_id, Channel.WHATSAPP, address),
        sms_suppressed=sms_stop or (f"SMS consent withdrawn ({sms_withdrawn})" if sms_withdrawn else None),
        whatsapp_optin=record is not None and record.state == "granted",
    )


def _opt_out(session: Session, shop_id: int, channel: Channel, address: str | None) -> str | None:
    """The source of the customer's opt-out when it is the newest statement for the address."""
    record = consent_state(session, shop_id, channel.value, address)
    if record is None or record.state != "revoked" or record.source not in OPT_OUT_SOURCES:
        return None
    return record.source


def _later_steps_started(
    session: Session, message: Message, settings: ShopSettings, zone: str | None, now: datetime
) -> tuple[Step, ...]:
    """Later steps already under way, or due now on an open channel (they would go out in the
    same pass): the earlier, weaker message is then superseded, not sent too. A windowed channel
    is open when the shop's window and the recipient's hours (`zone`) let it go now."""
    others = session.execute(
        select(Message.step, Message.channel, Message.status, Message.due_at).where(
            Message.journey_id == message.journey_id, Message.step != message.step
        )
    ).all()

    def open_now(channel: str) -> bool:
        if Channel(channel) not in settings.windowed_channels:
            return True
        return quiet_hours.release(settings.windows, zone, now).at == now

    started = {
        Step(step)
        for step, channel, status, due_at in others
        if Status(status) in UNDER_WAY or (Status(status) in PENDING and due_at <= now and open_now(channel))
    }
    return tuple(started)
