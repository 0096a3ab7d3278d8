"""The channels' tables: a shop's own provider accounts (Twilio), the WhatsApp templates made through
them, and the keys the app generates once (VAPID for Web Push)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from shop_app.storage.tables import Base, UTCDateTime, shop_fk, utcnow

Id = BigInteger().with_variant(Integer, "sqlite")  # as in tables.py (imported from there, mypy sees a cycle)


class ChannelConnection(Base):
    """A shop's own provider account (today: Twilio for SMS and WhatsApp).

    `config` holds what is not secret (account SID, sender, Messaging Service);
    `secret` is the auth token, sealed with SecretBox.
    """

    __tablename__ = "channel_connections"
    __table_args__ = (UniqueConstraint("shop_id", "provider", name="uq_channel_connections_shop_provider"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    shop_id: Mapped[int] = shop_fk()
    provider: Mapped[str] = mapped_column(String(16))
    config: Mapped[dict] = mapped_column(JSON)
    secret: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class ContentTemplate(Base):
    """A WhatsApp template the app created through Twilio's Content API, and Meta's verdict on it."""

    __tablename__ = "content_templates"
    __table_args__ = (UniqueConstraint("shop_id", "step", "language", name="uq_content_templates_shop_step_lang"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    shop_id: Mapped[int] = shop_fk()
    step: Mapped[str] = mapped_column(String(16))
    language: Mapped[str] = mapped_column(String(8))
    content_sid: Mapped[str] = mapped_column(String(34))
    approval_status: Mapped[str] = mapped_column(String(16), default="unsubmitted")
    rejection_reason: Mapped[str | None] = mapped_column(Text)
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AppKey(Base):
    """Keys the app generates once and keeps (the VAPID key pair for Web Push)."""

    __tablename__ = "app_keys"
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    private: Mapped[str] = mapped_column(Text)  # sealed with SecretBox
    public: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
