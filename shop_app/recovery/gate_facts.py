"""The facts the send gates need, gathered from our own records in one transaction.

`collect` reads the message row (locked, only if it is still queued for this send job) with its
journey, shop, settings, checkout and the shop's Twilio connection in one joined read (issue 13),
and returns the `Candidate` the rest of the send job works on, with the `gates.SendFacts` that
`domain.gates.decide` judges. Shopify is asked later, outside any lock (recovery/live_check.py).
A referral message (issue 11) has no checkout: its recipient is its journey's profile and
triggering order (referral/send_facts.py), and no referral step supersedes another. The
recipient's time zone, when their phone number names one (recipient_zone.py), joins the
delivery window (domain/quiet_hours.py).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, bindparam, exists, select
from sqlalchemy.orm import Session, aliased

from shop_app.channels.accounts import TWILIO
from shop_app.channels.push_subscriptions import subscription_for
from shop_app.compliance.consent_records import OPT_OUT_SOURCES, consent_state
from shop_app.compliance.suppressions import suppression_reason
from shop_app.domain import consent, discount_memory, gates, quiet_hours
from shop_app.domain.addresses import address_hash
from shop_app.domain.models import PENDING, UNDER_WAY, Channel, Checkout, Contact, Flow, JourneyStatus, Status, Step
from shop_app.domain.planner import address_for
from shop_app.domain.settings import Incentive, ShopSettings
from shop_app.recovery import recipient_zone
from shop_app.recovery.checkouts import checkout_of
from shop_app.recovery.discounts import StepOffer
from shop_app.recovery.offer_memory import last_code_sent_bound
from shop_app.recovery.orders import describe_order, paid_order_id_bound
from shop_app.referral import send_facts
from shop_app.referral.send_facts import ReferralFacts
from shop_app.runtime import Runtime
from shop_app.shopify.offline_tokens import KnownToken
from shop_app.shopify.shops import settings_of
from shop_app.storage.channel_tables import ChannelConnection
from shop_app.storage.tables import (
    CheckoutRow,
    Consent,
    Journey,
    Message,
    MessageTemplate,
    OrderRow,
    Shop,
    ShopSettingsRow,
    Suppression,
)


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
    #: The shop's Admin API token and Twilio connection as the joined read found them.
    token: KnownToken | None = None
    twilio: ChannelConnection | None = None
    #: Whether the shop saved its own text for this step and channel (any language); None: not read.
    custom_text: bool | None = None

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


@dataclass(frozen=True)
class HeldRow:
    """What the joined read found for a held row."""

    message: Message
    journey: Journey
    shop: Shop
    settings: ShopSettings
    checkout: CheckoutRow | None
    twilio: ChannelConnection | None
    #: (step, channel, status, due_at) of the journey's messages of other steps.
    others: tuple[tuple[str, str, str, datetime], ...]
    custom_text: bool

    @property
    def token(self) -> KnownToken:
        return KnownToken(self.shop.domain, self.shop.access_token, self.shop.access_token_expires_at)


@functools.cache
def _held_query(many: bool = False) -> Select[Any]:
    """`_read_held`'s statement (`many`: `read_held_many`'s), built once per process (building it
    costs more than running it)."""
    twilio = and_(
        ChannelConnection.shop_id == Message.shop_id,
        ChannelConnection.provider == TWILIO,
        Message.channel.in_([Channel.SMS.value, Channel.WHATSAPP.value]),
    )
    other = aliased(Message)
    custom_text = exists().where(
        MessageTemplate.shop_id == Message.shop_id,
        MessageTemplate.step == Message.step,
        MessageTemplate.channel == Message.channel,
    )
    which = Message.id.in_(bindparam("message_ids", expanding=True)) if many else Message.id == bindparam("message_id")
    query = (
        select(Message, Journey, Shop, ShopSettingsRow.document, ShopSettingsRow.updated_at, CheckoutRow,
               ChannelConnection, other.step, other.channel, other.status, other.due_at, custom_text)
        .join(Journey, Journey.id == Message.journey_id)
        .join(Shop, Shop.id == Message.shop_id)
        .outerjoin(ShopSettingsRow, ShopSettingsRow.shop_id == Message.shop_id)
        .outerjoin(CheckoutRow, CheckoutRow.id == Journey.checkout_id)
        .outerjoin(ChannelConnection, twilio)
        .outerjoin(other, and_(other.journey_id == Message.journey_id, other.step != Message.step))
        .where(which, Message.status == Status.QUEUED.value, Message.job_id == bindparam("job_id"))
        .execution_options(populate_existing=True)
    )  # fmt: skip
    return query if many else query.with_for_update(of=Message)


def _read_held(session: Session, message_id: int, job_id: str) -> HeldRow | None:
    """The row (locked on PostgreSQL) if it is still queued for this very job, with its journey,
    shop, settings, checkout, for SMS and WhatsApp the shop's Twilio connection, whether the shop
    saved its own text for the step and channel, and its journey's messages of other steps (one
    result row each): one statement."""
    rows = session.execute(_held_query(), {"message_id": message_id, "job_id": job_id}).all()
    return _held_of(rows) if rows else None


def read_held_many(session: Session, message_ids: list[int], job_id: str) -> dict[int, HeldRow]:
    """`_read_held` for a batch's rows in one statement, by message id (a row no longer queued for
    this job is left out). Not locked: the send job's every write checks the row's status and job id."""
    rows_of: dict[int, list[Any]] = {}
    for row in session.execute(_held_query(many=True), {"message_ids": message_ids, "job_id": job_id}):
        rows_of.setdefault(row[0].id, []).append(row)
    return {message_id: _held_of(rows) for message_id, rows in rows_of.items()}


def _held_of(rows: Sequence[Any]) -> HeldRow:
    """One message's result rows (one per message of its journey's other steps) as a HeldRow."""
    message, journey, shop, document, updated_at, checkout, connection = rows[0][:7]
    settings = settings_of(shop.id, shop.timezone, document, updated_at)
    others = tuple((r[7], r[8], r[9], r[10]) for r in rows if r[7] is not None)
    return HeldRow(message, journey, shop, settings, checkout, connection, others, bool(rows[0][11]))


def collect(
    rt: Runtime, session: Session, message_id: int, job_id: str, now: datetime, found: HeldRow | None = None
) -> Collected | None:
    """The message's facts; `found`: its row as `read_held_many` read it for a batch (else read here, locked)."""
    found = found or _read_held(session, message_id, job_id)
    if found is None:
        return None
    message, journey = found.message, found.journey
    if journey.flow == Flow.REFERRAL:
        return _collect_referral(rt, session, found)
    if found.checkout is None:
        raise ValueError(f"recovery journey {journey.id} has no checkout")
    checkout = checkout_of(found.checkout)
    paid, last_sent, contact_facts = _payment_and_memory(rt, session, found, checkout)
    candidate = _candidate(found, checkout, last_sent, now)
    channel = candidate.channel
    contact = contact_facts or _contact_facts(rt, session, candidate)
    zone = recipient_zone.zone_of(checkout.marketing_phone)
    facts = gates.SendFacts(
        step=candidate.step,
        due_at=message.due_at,
        journey_stop_reason=journey_stop_reason(journey),
        holdout=journey.holdout,
        paid_reason=describe_order(paid) if paid else None,
        consent_refusal=consent.refusal(channel, checkout, candidate.settings, contact),
        connected=rt.transports.connected_given(channel.value, found.twilio),
        window=candidate.settings.windows if channel in candidate.settings.windowed_channels else None,
        later_steps_started=_later_steps_started(found.others, candidate.settings, zone, now),
        recipient_zone=zone,
    )
    return Collected(candidate, facts, paid)


def _collect_referral(rt: Runtime, session: Session, held_row: HeldRow) -> Collected:
    """A referral row's facts: no payment to look for, no superseding; a refunded or voided
    triggering order cancels, a review whose order was never fulfilled in time is skipped."""
    message, journey, shop, settings = held_row.message, held_row.journey, held_row.shop, held_row.settings
    found = send_facts.find(session, message, journey, shop, settings)
    candidate = Candidate(
        message_id=message.id, job_id=message.job_id or "", journey_id=journey.id, step=Step(message.step),
        channel=Channel(message.channel), shop=ShopFacts(shop.id, shop.domain, shop.name, shop.email, shop.timezone),
        checkout=None, abandoned_at=journey.abandoned_at, settings=settings, offer=None, contact=found.contact,
        referral=found.referral, token=held_row.token, twilio=held_row.twilio, custom_text=held_row.custom_text,
    )  # fmt: skip
    channel = candidate.channel
    facts = gates.SendFacts(
        step=candidate.step,
        due_at=message.due_at,
        journey_stop_reason=journey_stop_reason(journey) or found.stop_reason,
        paid_reason=None,
        consent_refusal=consent.refusal(channel, found.contact, settings, _contact_facts(rt, session, candidate)),
        connected=rt.transports.connected_given(channel.value, held_row.twilio),
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


def _incentive(settings: ShopSettings, step: Step) -> Incentive:
    """The step's offer: WhatsApp orchestration repeats the first offer; Prime brings the stronger one."""
    return settings.prime.incentive if step is Step.PRIME else settings.first.incentive


def _payment_and_memory(
    rt: Runtime, session: Session, found: HeldRow, checkout: Checkout
) -> tuple[OrderRow | None, datetime | None, consent.ContactFacts | None]:
    """In one statement: the order our records know paid the checkout (orders.payment_for); when
    the step offers a code the discount memory may withhold, when its person was last sent one
    (offer_memory.last_code_sent); for an email or SMS, the address's suppression and newest
    consent statement (_contact_facts' reads; None for other channels, which _contact_facts reads).
    The paid order's row is read only when there is one."""
    shop, journey, settings = found.shop, found.journey, found.settings
    paid, params = paid_order_id_bound(checkout)
    memory = None
    if _incentive(settings, Step(found.message.step)).offered and settings.discount_memory_days:
        memory, memory_params = last_code_sent_bound(checkout)
        params |= memory_params
    channel = Channel(found.message.channel)
    address = address_for(channel, checkout, has_push=True) if channel in (Channel.EMAIL, Channel.SMS) else None
    if address:
        params |= _contact_values(rt.settings.secret_key, shop.id, channel.value, address)
    params |= {
        "b_pay_shop": shop.id,
        "b_pay_since": journey.abandoned_at,
        "b_mem_shop": shop.id,
        "b_mem_journey": journey.id,
    }
    row = session.execute(_facts_query(paid, memory, bool(address)), params).one()
    order = session.get(OrderRow, row[0]) if row[0] is not None else None
    last_sent = row[1] if memory is not None else None
    facts = None
    if channel in (Channel.EMAIL, Channel.SMS):  # no address: nothing suppressed, nothing withdrawn
        suppressed, state, source = row[-3:] if address else (None, None, None)
        facts = consent.ContactFacts(suppressed, withdrawn=_opt_out_source(state, source))
    return order, last_sent, facts


def _contact_values(secret_key: str, shop_id: int, channel: str, address: str) -> dict[str, Any]:
    """The values of _contact_subqueries' parameters (suppression_reason's and consent_state's reads)."""
    return {"b_shop": shop_id, "b_channel": channel, "b_address": address,
            "b_hashed": address_hash(secret_key, address)}  # fmt: skip


@functools.cache
def _facts_query(paid: Select[Any], memory: Select[Any] | None, contact: bool) -> Select[Any]:
    """_payment_and_memory's statement, built once per process for each shape of its parts (the
    parts are themselves built once per shape, so they key this cache)."""
    columns: list[Any] = [paid.scalar_subquery()]
    if memory is not None:
        columns.append(memory.scalar_subquery())
    return select(*columns, *(_contact_subqueries() if contact else ()))


@functools.cache
def _contact_subqueries() -> tuple[Any, ...]:
    shop: Any = bindparam("b_shop")
    channel: Any = bindparam("b_channel")
    address: Any = bindparam("b_address")
    forms = Suppression.address.in_([address, bindparam("b_hashed")])
    suppressed = select(Suppression.reason).where(Suppression.shop_id == shop, Suppression.channel == channel, forms)
    record = (Consent.shop_id == shop, Consent.channel == channel, Consent.address == address)
    consented = (select(column).where(*record).scalar_subquery() for column in (Consent.state, Consent.source))
    return (suppressed.limit(1).scalar_subquery(), *consented)


def _candidate(found: HeldRow, checkout: Checkout, last_sent: datetime | None, now: datetime) -> Candidate:
    """`last_sent`: when the checkout's person was last sent a recovery code (_payment_and_memory)."""
    message, journey, shop, settings = found.message, found.journey, found.shop, found.settings
    step = Step(message.step)
    incentive = _incentive(settings, step)
    withheld = None
    if incentive.offered and settings.discount_memory_days:  # a person sent a code lately gets none
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
        token=found.token,
        twilio=found.twilio,
        custom_text=found.custom_text,
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
    return _opt_out_source(record.state, record.source) if record is not None else None


def _opt_out_source(state: str | None, source: str | None) -> str | None:
    return source if state == "revoked" and source in OPT_OUT_SOURCES else None


def _later_steps_started(
    others: tuple[tuple[str, str, str, datetime], ...], settings: ShopSettings, zone: str | None, now: datetime
) -> tuple[Step, ...]:
    """Later steps already under way, or due now on an open channel (they would go out in the
    same pass): the earlier, weaker message is then superseded, not sent too. A windowed channel
    is open when the shop's window and the recipient's hours (`zone`) let it go now. `others`:
    the journey's messages of other steps, as the joined read found them."""

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
