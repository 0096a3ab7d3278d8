"""The database tables. Every row that belongs to a shop carries `shop_id`.

The `messages` table is the outbox: the only truth about what will be sent.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    SmallInteger,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, validates

from shop_app.domain.models import JourneyStatus, WebhookStatus

Id = BigInteger().with_variant(Integer, "sqlite")


class UTCDateTime(TypeDecorator):
    """Stores naive UTC, hands back aware UTC, on SQLite and PostgreSQL alike."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; all stored times are UTC-aware")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        return None if value is None else value.replace(tzinfo=UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


def shop_fk(index: bool = True) -> Mapped[int]:  # False: another index leads with shop_id (0028)
    return mapped_column(Id, ForeignKey("shops.id", ondelete="CASCADE"), nullable=False, index=index)


def only(sql: str) -> dict:  # a partial index's predicate, on both backends (0026, 0028)
    return {"postgresql_where": text(sql), "sqlite_where": text(sql)}


class Shop(Base):
    __tablename__ = "shops"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    domain: Mapped[str] = mapped_column(String(255), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(320))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    #: ISO 3166 alpha-2 (Shopify's shopAddress.countryCodeV2): the region national phone numbers are read in.
    country_code: Mapped[str | None] = mapped_column(String(2))
    access_token: Mapped[str | None] = mapped_column(Text)  # sealed with SecretBox
    access_token_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # None: never expires
    refresh_token: Mapped[str | None] = mapped_column(Text)  # sealed with SecretBox
    refresh_token_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    scope: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="installed")  # installed | uninstalled
    installed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    uninstalled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: When the post-install job read the shop and imported its customers; None: still to do.
    setup_completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Setup runs started, when another may start, and why the last one failed (no personal data).
    setup_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    setup_retry_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    setup_error: Mapped[str | None] = mapped_column(Text)


class ShopSettingsRow(Base):
    __tablename__ = "shop_settings"
    shop_id: Mapped[int] = mapped_column(Id, ForeignKey("shops.id", ondelete="CASCADE"), primary_key=True)
    document: Mapped[dict] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Profile(Base):
    __tablename__ = "profiles"
    __table_args__ = (
        Index("ix_profiles_shop_email", "shop_id", "email"),
        Index("ix_profiles_shop_phone", "shop_id", "phone"),
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    shop_id: Mapped[int] = shop_fk(index=False)
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(32))
    customer_id: Mapped[str | None] = mapped_column(String(64))
    first_name: Mapped[str | None] = mapped_column(String(80))
    #: `captured` (first seen through the store after install) or `imported` (existed before the
    #: install); imported never becomes captured (issue 11). See shop_app/domain/origin.py.
    origin: Mapped[str] = mapped_column(String(16))
    #: How a captured profile reached us: checkout | order | push | customer (None when imported).
    captured_by: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CheckoutRow(Base):
    __tablename__ = "checkouts"
    __table_args__ = (
        UniqueConstraint("shop_id", "token", name="uq_checkouts_shop_token"),
        Index("ix_checkouts_shop_cart", "shop_id", "cart_token"),
        Index("ix_checkouts_shop_shopify_id", "shop_id", "shopify_id"),
        # The admin's activity search: exact matches on a contact (issue 10).
        Index("ix_checkouts_shop_email", "shop_id", "email"),
        Index("ix_checkouts_shop_phone", "shop_id", "phone"),
        Index("ix_checkouts_shop_sms_phone", "shop_id", "sms_phone"),
        Index("ix_checkouts_shop_customer", "shop_id", "customer_id"),  # the discount memory (0019)
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    shop_id: Mapped[int] = shop_fk(index=False)
    token: Mapped[str] = mapped_column(String(64))
    shopify_id: Mapped[str | None] = mapped_column(String(64))
    cart_token: Mapped[str | None] = mapped_column(String(64))
    profile_id: Mapped[int | None] = mapped_column(Id, ForeignKey("profiles.id", ondelete="SET NULL"))
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(32))
    customer_id: Mapped[str | None] = mapped_column(String(64))
    first_name: Mapped[str | None] = mapped_column(String(80))
    abandoned_checkout_url: Mapped[str | None] = mapped_column(Text)
    currency: Mapped[str] = mapped_column(String(3))
    total_price: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    line_items: Mapped[list] = mapped_column(JSON, default=list)
    accepts_email_marketing: Mapped[bool | None] = mapped_column(Boolean)
    accepts_sms_marketing: Mapped[bool] = mapped_column(Boolean, default=False)
    #: The number the SMS marketing consent was given for (Shopify's sms_marketing_phone).
    sms_phone: Mapped[str | None] = mapped_column(String(32))
    locale: Mapped[str | None] = mapped_column(String(16))
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    shopify_created_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    shopify_updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OrderRow(Base):
    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("shop_id", "shopify_id", name="uq_orders_shop_shopify_id"),
        Index("ix_orders_shop_checkout", "shop_id", "checkout_token"),
        Index("ix_orders_shop_email", "shop_id", "email"),
        Index("ix_orders_shop_created", "shop_id", "shopify_created_at"),  # the validation cycle (0010)
        # The report's conversion rule: the same person's orders (0021; checkout token and email above).
        Index("ix_orders_shop_customer", "shop_id", "customer_id"),
        Index("ix_orders_shop_phone", "shop_id", "phone"),
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    shop_id: Mapped[int] = shop_fk()
    shopify_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str | None] = mapped_column(String(64))
    checkout_token: Mapped[str | None] = mapped_column(String(64))
    cart_token: Mapped[str | None] = mapped_column(String(64))
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(32))
    customer_id: Mapped[str | None] = mapped_column(String(64))
    financial_status: Mapped[str | None] = mapped_column(String(32))
    currency: Mapped[str] = mapped_column(String(3))
    total_price: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    shopify_created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    accepts_marketing: Mapped[bool | None] = mapped_column(Boolean)  # buyer_accepts_marketing (0012)
    status_url: Mapped[str | None] = mapped_column(Text)  # order_status_url (0012)
    #: HMAC-SHA256 hex of the normalised shipping address (domain/addresses.shipping_address_key,
    #: keyed by the app's secret): compared by the referral fraud rules, never the address (0013).
    shipping_address_key: Mapped[str | None] = mapped_column(String(64))
    locale: Mapped[str | None] = mapped_column(String(16))  # customer_locale: the messages' language (0013)
    #: The sum of the order's refunds so far (refunds/create); the referral flow stops at the total (0013).
    refunded_total: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal("0"), server_default="0")
    referral_note: Mapped[str | None] = mapped_column(Text)  # what the referral flow made of it, paid (0020)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


CHECK_DUE = "shopify_check_due_at IS NOT NULL"  # the dispatcher's pending checks; partial indexes (0028)
JOURNEYS_BY_ABANDONMENT = (
    *("shop_id", "abandoned_at", "flow", "status", "reached", "holdout", "id", "checkout_id", "first_due_at"),
    "conversion_days",
)


class Journey(Base):
    """One recovery journey per checkout, one referral journey per profile; never a second sequence.

    A recovery journey names its checkout; a referral journey (issue 11) names its advocate's
    profile and the paid order that triggered it (its `abandoned_at` is when the flow started)."""

    __tablename__ = "journeys"
    __table_args__ = (
        UniqueConstraint("checkout_id", "flow", name="uq_journeys_checkout_flow"),
        UniqueConstraint("profile_id", "flow", name="uq_journeys_profile_flow"),
        Index("ix_journeys_shop_id_desc", "shop_id", "id"),  # the admin's newest-first pages
        # The validation cycle (0010, + reached 0015) and the report (0021: + holdout, id, checkout_id;
        # 0022: + first_due_at; 0023: + conversion_days; read from the index alone): journeys by abandonment.
        Index("ix_journeys_shop_abandoned", *JOURNEYS_BY_ABANDONMENT),
        Index("ix_journeys_shop_status_order", "shop_id", "status", "order_id"),
        Index("ix_journeys_shopify_check_due", "shopify_check", "shopify_check_due_at", **only(CHECK_DUE)),  # 0017
        Index("ix_journeys_shop_trigger_order", "shop_id", "trigger_order_id", **only("trigger_order_id IS NOT NULL")),
        Index("ix_journeys_shop_flow_started", "shop_id", "flow", "started_at", "plan_limited"),  # 0027: plan usage
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    shop_id: Mapped[int] = shop_fk(index=False)
    checkout_id: Mapped[int | None] = mapped_column(Id, ForeignKey("checkouts.id", ondelete="CASCADE"))
    #: Referral journeys only (recovery journeys leave both None).
    profile_id: Mapped[int | None] = mapped_column(Id, ForeignKey("profiles.id", ondelete="CASCADE"))
    trigger_order_id: Mapped[int | None] = mapped_column(Id, ForeignKey("orders.id", ondelete="SET NULL"))
    flow: Mapped[str] = mapped_column(String(16), default="recovery")
    status: Mapped[str] = mapped_column(String(16), default=JourneyStatus.ACTIVE.value)
    abandoned_at: Mapped[datetime] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the plan's month (0027; billing_tables.py)
    plan_limited: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())  # refused by it
    stop_reason: Mapped[str | None] = mapped_column(Text)
    order_id: Mapped[int | None] = mapped_column(Id, ForeignKey("orders.id", ondelete="SET NULL"))
    recovered_revenue: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    #: At least one message was ever planned for it (outbox.add_planned sets it; never unset): the
    #: validation cycle's "reachable", read from the journeys' index instead of a probe per journey.
    reached: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    #: The earliest planned due time of its messages (None until one is planned): the conversion
    #: rule's anchor (domain/incremental.py), kept by outbox.add_planned and outbox.reschedule (0022)
    #: so the report reads it from the journeys' index instead of a min(due_at) per journey.
    first_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: The fewest attribution days under which it converts by that rule: 0 its own checkout paid,
    #: None not within 30 days; kept by recovery/conversion.py as orders come and it is planned (0023).
    conversion_days: Mapped[int | None] = mapped_column(SmallInteger)
    #: Referral journeys (issue 11, 0017): Shopify's numberOfOrders for the advocate, asked after the
    #: trigger committed (jobs/referral_check.py). `pending` (its next run due at shopify_check_due_at,
    #: the dispatcher enqueues it) → `done` (Shopify answered) or `unasked` (given up after
    #: MAX_JOB_ATTEMPTS); `none-needed` when there is nothing to ask (no Shopify customer id, or the
    #: journey ended first). None for recovery journeys and referral journeys older than 0017.
    shopify_check: Mapped[str | None] = mapped_column(String(16))
    shopify_check_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    shopify_check_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: What the merchant should know about a journey that goes on (stop_reason says why one stopped).
    note: Mapped[str | None] = mapped_column(Text)
    #: In the holdout's control group (issue 12, domain/holdout.py): planned and tracked, every
    #: message skipped. Decided when the journey is created and never changed (0016).
    holdout: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


SENT = "sent_at IS NOT NULL"  # the sent messages' partial indexes (0028)
#: The report's by_step reads the shop's sent messages with these alone (reporting/measurement.py).
MESSAGES_BY_STEP = ("shop_id", "status", "journey_abandoned_at", "flow", "step", "channel", "delivery_status", "id")


class Message(Base):
    """The outbox. At most one row, so one send, per (journey, step, channel, occurrence).

    `occurrence` is 0 for every step but the referral `reward`, which an advocate earns once per
    friend: each reward's message has its own row, its occurrence the referral_rewards row's id.
    So every other step keeps one send per (journey, step, channel), and each reward one too (0014)."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint(
            "journey_id", "step", "channel", "occurrence", name="uq_messages_journey_step_channel_occurrence"
        ),
        CheckConstraint("occurrence = 0 OR step = 'reward'", name="ck_messages_occurrence_reward_only"),
        Index("ix_messages_status_due", "status", "due_at"),
        Index("ix_messages_shop_id_desc", "shop_id", "id"),  # the admin's newest-first pages
        Index("ix_messages_shop_status_id", "shop_id", "status", "id"),  # … of one status (0029)
        # The cycle (0010), the report's sent rows per step and channel (0022, 0023); a journey's rows: the uq (0028).
        Index("ix_messages_shop_sent", "shop_id", "sent_at", "status", "flow", "step", "channel", **only(SENT)),
        Index("ix_messages_shop_status_abandoned", *MESSAGES_BY_STEP, **only(SENT)),
        # Finished rows retention empties (jobs/retention.py), only those still holding their content (0026).
        Index("ix_messages_content_due", "due_at", **only("body IS NOT NULL")),
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    shop_id: Mapped[int] = shop_fk(index=False)
    journey_id: Mapped[int] = mapped_column(Id, ForeignKey("journeys.id", ondelete="CASCADE"))
    flow: Mapped[str] = mapped_column(String(16), default="recovery")
    step: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(16))
    #: 0, or for a `reward` message the id of the referral_rewards row it announces (0014).
    occurrence: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    status: Mapped[str] = mapped_column(String(16), default="scheduled")
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: Its journey's abandoned_at, copied (outbox.add_planned, recovery/plan_writes.py): the report's range (0023).
    journey_abandoned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reason: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # provider calls (claims)
    #: Send-job runs that broke, or whose job was lost, before the row moved on; bounded.
    job_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    job_id: Mapped[str | None] = mapped_column(String(64))
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sending_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    provider_id: Mapped[str | None] = mapped_column(String(128))
    # What the provider last said (queued, sent, delivered, read, undelivered, bounced…):
    # it only moves forward, whatever order the callbacks arrive in.
    delivery_status: Mapped[str | None] = mapped_column(String(16))
    delivery_detail: Mapped[str | None] = mapped_column(Text)
    recipient: Mapped[str | None] = mapped_column(String(320))
    subject: Mapped[str | None] = mapped_column(Text)
    body: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    @validates("status")
    def _outbox_only(self, key: str, new: str) -> str:
        """A row's status is set once, when the outbox adds it; every later move is a guarded
        UPDATE in shop_app/recovery/outbox.py, never an attribute write."""
        old = self.status
        if old is not None and old != new:
            raise ValueError(
                f"message {self.id}: status may not move from {old} to {new} here; "
                "status changes go through shop_app/recovery/outbox.py"
            )
        return new


class Discount(Base):
    """One code per journey step, whichever mode made it."""

    __tablename__ = "discounts"
    __table_args__ = (UniqueConstraint("journey_id", "step", name="uq_discounts_journey_step"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    shop_id: Mapped[int] = shop_fk()
    journey_id: Mapped[int] = mapped_column(Id, ForeignKey("journeys.id", ondelete="CASCADE"))
    step: Mapped[str] = mapped_column(String(16))
    code: Mapped[str] = mapped_column(String(64))
    mode: Mapped[str] = mapped_column(String(16))  # shared | unique
    shopify_id: Mapped[str | None] = mapped_column(String(128))  # unique codes, once Shopify created them
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WebhookDelivery(Base):
    """Every accepted webhook, unique per Shopify delivery id; its raw body kept till processed, to rerun a lost job."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("shop_id", "webhook_id", name="uq_webhook_deliveries_shop_webhook"),
        Index("ix_webhook_deliveries_status", "status", "received_at"),
        Index("ix_webhook_deliveries_shop_waiting", "shop_id", "waiting_for", **only("waiting_for IS NOT NULL")),
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    shop_id: Mapped[int] = shop_fk(index=False)
    webhook_id: Mapped[str] = mapped_column(String(128))
    topic: Mapped[str] = mapped_column(String(64))
    api_version: Mapped[str | None] = mapped_column(String(16))
    triggered_at: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default=WebhookStatus.RECEIVED.value)
    reason: Mapped[str | None] = mapped_column(Text)
    body: Mapped[str | None] = mapped_column(Text)
    subject: Mapped[str | None] = mapped_column(String(64))  # a checkout body's token, for the ingest's lock (0030)
    job_id: Mapped[str | None] = mapped_column(String(64))
    #: Ingest runs that broke or were lost; after MAX_ATTEMPTS the delivery is rejected.
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    retry_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # no new run before this
    #: The Shopify id of the order a cancellation or refund that came first waits for (0024).
    waiting_for: Mapped[str | None] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Suppression(Base):
    __tablename__ = "suppressions"
    __table_args__ = (UniqueConstraint("shop_id", "channel", "address", name="uq_suppressions_shop_channel_addr"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    shop_id: Mapped[int] = shop_fk()
    channel: Mapped[str] = mapped_column(String(16))
    address: Mapped[str] = mapped_column(String(320))
    reason: Mapped[str] = mapped_column(Text)
    #: Who asked: `keyword` (STOP by SMS/WhatsApp), `unsubscribe` (our one-click link), or
    #: `provider` (a bounce, complaint or carrier opt-out). Only the first two may be lifted.
    source: Mapped[str] = mapped_column(String(16), default="provider", server_default="provider")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SuppressionLift(Base):
    """A suppression a staff member lifted in the admin: what it was, who lifted it and when.

    Lifting removes the suppression row; this record keeps the decision. Erasing the customer
    clears `address` like any other mention."""

    __tablename__ = "suppression_lifts"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    shop_id: Mapped[int] = shop_fk()
    channel: Mapped[str] = mapped_column(String(16))
    address: Mapped[str | None] = mapped_column(String(320))
    reason: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(16))
    suppressed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    lifted_by: Mapped[str] = mapped_column(String(64))  # the session token's `sub`: a staff user id
    lifted_at: Mapped[datetime] = mapped_column(UTCDateTime)


class DataRequest(Base):
    """A customers/data_request: the export of everything held about the customer, for the merchant."""

    __tablename__ = "data_requests"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    shop_id: Mapped[int] = shop_fk()
    shopify_request_id: Mapped[str | None] = mapped_column(String(64))
    customer_id: Mapped[str | None] = mapped_column(String(64))
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(32))
    export: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PushSubscription(Base):
    """A browser's Web Push subscription, joined to a checkout through its cart token."""

    __tablename__ = "push_subscriptions"
    __table_args__ = (UniqueConstraint("shop_id", "endpoint_hash", name="uq_push_subscriptions_shop_endpoint"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    shop_id: Mapped[int] = shop_fk()
    cart_token: Mapped[str | None] = mapped_column(String(64), index=True)
    profile_id: Mapped[int | None] = mapped_column(Id, ForeignKey("profiles.id", ondelete="SET NULL"))
    endpoint: Mapped[str] = mapped_column(Text)
    endpoint_hash: Mapped[str] = mapped_column(String(64))
    p256dh: Mapped[str] = mapped_column(String(128))
    auth: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MessageEvent(Base):
    """What a provider told us later about a message (status callbacks, email events, clicks).

    One row per (provider, provider id, event): callbacks that arrive twice are kept once.
    The raw provider answer is kept beside the normalized event."""

    __tablename__ = "message_events"
    __table_args__ = (
        UniqueConstraint("provider", "provider_id", "event", name="uq_message_events_provider_event"),
        Index("ix_message_events_shop_event", "shop_id", "event", "created_at"),  # the validation cycle (0010)
        Index("ix_message_events_message_event", "message_id", "event", "provider"),  # a message's; clicked? (0021)
        Index("ix_message_events_created", "created_at", postgresql_using="brin"),  # retention (0026; BRIN 0028)
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    shop_id: Mapped[int] = shop_fk(index=False)
    message_id: Mapped[int | None] = mapped_column(Id, ForeignKey("messages.id", ondelete="CASCADE"))
    provider: Mapped[str] = mapped_column(String(16))
    provider_id: Mapped[str] = mapped_column(String(128))
    event: Mapped[str] = mapped_column(String(24))
    detail: Mapped[str | None] = mapped_column(Text)
    raw: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Consent(Base):
    """The latest consent we hold for one address on one channel, and where it came from."""

    __tablename__ = "consents"
    __table_args__ = (UniqueConstraint("shop_id", "channel", "address", name="uq_consents_shop_channel_addr"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    shop_id: Mapped[int] = shop_fk(index=False)
    profile_id: Mapped[int | None] = mapped_column(Id, ForeignKey("profiles.id", ondelete="SET NULL"))
    channel: Mapped[str] = mapped_column(String(16))
    address: Mapped[str] = mapped_column(String(320))
    state: Mapped[str] = mapped_column(String(16))  # granted | revoked
    source: Mapped[str] = mapped_column(String(32))  # checkout|customer|storefront|keyword|unsubscribe|provider
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)


class MessageTemplate(Base):
    """A merchant's own text for one step, channel and language (the defaults apply otherwise)."""

    __tablename__ = "message_templates"
    __table_args__ = (UniqueConstraint("shop_id", "step", "channel", "language", name="uq_message_templates_shop_key"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    shop_id: Mapped[int] = shop_fk()
    step: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(16))
    language: Mapped[str] = mapped_column(String(8))
    subject: Mapped[str | None] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    html: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


# The channel, referral and measurement tables beside these (one metadata), last so Alembic sees them.
from shop_app.storage import billing_tables, channel_tables, measurement_tables, referral_tables  # noqa: E402, F401
