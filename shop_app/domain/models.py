"""Domain values: what a checkout, an order and a planned message are, in plain Python."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal


class Channel(enum.StrEnum):
    EMAIL = "email"
    PUSH = "push"
    SMS = "sms"
    WHATSAPP = "whatsapp"


class Flow(enum.StrEnum):
    """A journey's flow: what it is for, and which steps it has (journeys.flow, messages.flow)."""

    RECOVERY = "recovery"
    REFERRAL = "referral"


class Step(enum.StrEnum):
    """The steps of every flow: Revenue Recovery's, then the Referral Generation Flow's (issue 11).

    The values are part of the contract (messages.step, `reclaim messages --json`)."""

    FIRST = "first"
    WHATSAPP = "whatsapp"
    PRIME = "prime"
    REVIEW = "review"
    SOCIAL = "social"
    INVITE = "invite"
    REWARD = "reward"


#: Each flow's steps, in the order they fire.
FLOW_STEPS: dict[Flow, tuple[Step, ...]] = {
    Flow.RECOVERY: (Step.FIRST, Step.WHATSAPP, Step.PRIME),
    Flow.REFERRAL: (Step.REVIEW, Step.SOCIAL, Step.INVITE, Step.REWARD),
}
RECOVERY_STEPS = FLOW_STEPS[Flow.RECOVERY]
REFERRAL_STEPS = FLOW_STEPS[Flow.REFERRAL]

#: A step's place within its own flow (steps of different flows are never compared).
STEP_ORDER = {step: place for steps in FLOW_STEPS.values() for place, step in enumerate(steps)}


def flow_of(step: Step) -> Flow:
    return Flow.REFERRAL if step in REFERRAL_STEPS else Flow.RECOVERY


class Status(enum.StrEnum):
    SCHEDULED = "scheduled"
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    UNKNOWN = "unknown"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"


#: Every move a message row may make. Anything else is a bug.
#: The only backward moves are postponement (queued → scheduled, a new due_at
#: with a reason) and a transient provider failure known not to have delivered
#: (sending → scheduled, retried later). `unknown` can still be settled by a
#: provider callback.
TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.SCHEDULED: frozenset({Status.QUEUED, Status.SKIPPED, Status.CANCELLED}),
    # QUEUED → FAILED: its send jobs broke or were lost too many times (jobs/attempts.py).
    Status.QUEUED: frozenset({Status.SENDING, Status.SCHEDULED, Status.SKIPPED, Status.CANCELLED, Status.FAILED}),
    Status.SENDING: frozenset({Status.SENT, Status.FAILED, Status.UNKNOWN, Status.SCHEDULED}),
    Status.UNKNOWN: frozenset({Status.SENT, Status.FAILED}),
    Status.SENT: frozenset(),
    Status.FAILED: frozenset(),
    Status.SKIPPED: frozenset(),
    Status.CANCELLED: frozenset(),
}

#: The operator's own moves (`reclaim retry`), never the app's: a `failed` or `unknown` row goes
#: back to `scheduled` when a person decides it should be sent again, with their reason. An
#: `unknown` one may have been delivered; resending it is theirs to judge. They are kept out of
#: TRANSITIONS and `can_move`, so nothing the app does by itself resends a row.
OPERATOR_MOVES: dict[Status, frozenset[Status]] = {
    Status.FAILED: frozenset({Status.SCHEDULED}),
    Status.UNKNOWN: frozenset({Status.SCHEDULED}),
}

PENDING = frozenset({Status.SCHEDULED, Status.QUEUED})
#: Handed to a provider, or possibly so: a later step in this state supersedes an earlier one.
UNDER_WAY = frozenset({Status.SENDING, Status.SENT, Status.UNKNOWN})
FINAL = frozenset({Status.SENT, Status.FAILED, Status.SKIPPED, Status.CANCELLED})


def can_move(old: Status, new: Status) -> bool:
    return new in TRANSITIONS[old]


def operator_can_move(old: Status, new: Status) -> bool:
    """A move an operator may make by decision (OPERATOR_MOVES), which the app never makes itself."""
    return new in OPERATOR_MOVES.get(old, frozenset())


class JourneyStatus(enum.StrEnum):
    ACTIVE = "active"
    CONVERTED = "converted"  # the customer paid
    STOPPED = "stopped"  # deleted checkout, uninstall, redact, or nothing left to do


class WebhookStatus(enum.StrEnum):
    """A recorded webhook delivery: still to ingest, ingested, or refused with a reason."""

    RECEIVED = "received"
    PROCESSED = "processed"
    REJECTED = "rejected"


@dataclass(frozen=True)
class LineItem:
    title: str
    quantity: int
    price: Decimal
    variant_title: str | None = None


@dataclass(frozen=True)
class Checkout:
    token: str
    updated_at: datetime
    created_at: datetime | None = None
    shopify_id: str | None = None
    cart_token: str | None = None
    email: str | None = None
    phone: str | None = None
    customer_id: str | None = None
    first_name: str | None = None
    abandoned_checkout_url: str | None = None
    currency: str = "USD"
    total_price: Decimal = Decimal("0")
    line_items: tuple[LineItem, ...] = ()
    accepts_email_marketing: bool | None = None
    accepts_sms_marketing: bool = False
    #: The number `accepts_sms_marketing` was given for, when Shopify names one (sms_marketing_phone).
    sms_phone: str | None = None
    locale: str | None = None
    completed_at: datetime | None = None

    @property
    def marketing_phone(self) -> str | None:
        """Where SMS and WhatsApp go: the number the SMS marketing consent names, else the contact phone."""
        return self.sms_phone or self.phone

    @property
    def reachable(self) -> bool:
        return bool(self.email or self.phone)

    @property
    def is_candidate(self) -> bool:
        """Product §1: contact details and not completed."""
        return self.reachable and self.completed_at is None


@dataclass(frozen=True)
class Order:
    shopify_id: str
    created_at: datetime
    name: str | None = None
    checkout_token: str | None = None
    cart_token: str | None = None
    email: str | None = None
    phone: str | None = None
    customer_id: str | None = None
    financial_status: str | None = None
    currency: str = "USD"
    total_price: Decimal = Decimal("0")
    #: Shopify's buyer_accepts_marketing (email), None when the payload does not say.
    accepts_marketing: bool | None = None
    #: Shopify's order_status_url: the order's status page (a referral review link).
    status_url: str | None = None


@dataclass(frozen=True)
class Contact:
    """Whom a message without a checkout goes to (a referral journey's profile and order): what
    the consent rules and the texts read, the same names a Checkout gives them."""

    email: str | None = None
    phone: str | None = None  # E.164
    accepts_email_marketing: bool | None = None
    accepts_sms_marketing: bool = False  # a granted SMS consent record for `phone`
    first_name: str | None = None
    locale: str | None = None
    cart_token: str | None = None  # where a browser push subscription would be found

    @property
    def marketing_phone(self) -> str | None:
        return self.phone


@dataclass(frozen=True)
class PlannedMessage:
    step: Step
    channel: Channel
    due_at: datetime


@dataclass(frozen=True)
class Plan:
    """What the journey should look like now: messages to have, or a reason to stop."""

    messages: tuple[PlannedMessage, ...] = ()
    stop_reason: str | None = None
    notes: tuple[str, ...] = field(default=())
