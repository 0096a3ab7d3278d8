"""The Referral Generation Flow's tables (issue 11): advocates and the reward decisions.

An advocate is a captured profile whose first paid order started a referral journey; it holds the
personal referral code once Shopify created it. A reward row is one decision per friend's order:
pending, issued, refused (with its reason) or cancelled.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from shop_app.storage.tables import Base, UTCDateTime, shop_fk, utcnow

Id = BigInteger().with_variant(Integer, "sqlite")  # as in tables.py (imported from there, mypy sees a cycle)


class ReferralAdvocate(Base):
    __tablename__ = "referral_advocates"
    __table_args__ = (
        UniqueConstraint("shop_id", "profile_id", name="uq_referral_advocates_shop_profile"),
        UniqueConstraint("shop_id", "code", name="uq_referral_advocates_shop_code"),
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    shop_id: Mapped[int] = shop_fk()
    profile_id: Mapped[int] = mapped_column(Id, ForeignKey("profiles.id", ondelete="CASCADE"))
    journey_id: Mapped[int] = mapped_column(Id, ForeignKey("journeys.id", ondelete="CASCADE"))
    #: The triggering order (the advocate's first paid order).
    order_id: Mapped[int | None] = mapped_column(Id, ForeignKey("orders.id", ondelete="SET NULL"))
    code: Mapped[str | None] = mapped_column(String(64))
    code_discount_id: Mapped[str | None] = mapped_column(String(128))  # Shopify's gid, once created
    code_created_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ReferralReward(Base):
    __tablename__ = "referral_rewards"
    __table_args__ = (UniqueConstraint("friend_order_id", name="uq_referral_rewards_friend_order"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    shop_id: Mapped[int] = shop_fk()
    advocate_id: Mapped[int] = mapped_column(Id, ForeignKey("referral_advocates.id", ondelete="CASCADE"), index=True)
    friend_order_id: Mapped[int] = mapped_column(Id, ForeignKey("orders.id", ondelete="CASCADE"))
    friend_profile_id: Mapped[int | None] = mapped_column(Id, ForeignKey("profiles.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(16))  # pending | issued | refused | cancelled
    reason: Mapped[str | None] = mapped_column(Text)
    reward_code: Mapped[str | None] = mapped_column(String(64))
    reward_discount_id: Mapped[str | None] = mapped_column(String(128))
    message_id: Mapped[int | None] = mapped_column(Id, ForeignKey("messages.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
