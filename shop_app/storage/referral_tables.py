"""The Referral Generation Flow's tables (issue 11): advocates and the reward decisions.

An advocate is a captured profile whose first paid order started a referral journey; it holds the
personal referral code once Shopify created it. A reward row is one decision per friend's order:
pending, issued, refused (with its reason) or cancelled. A discount removal is a code the app made
in the shop's Shopify for a customer since erased (customers/redact), still to be deleted there.
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


class DiscountRemoval(Base):
    """A discount to delete in the shop's Shopify: the code of an erased advocate (made from their
    first name) or a reward they earned. Recorded by the redact in its own transaction, deleted by
    the reconciler (shop_app/referral/removals.py); the row goes once Shopify says the discount is
    gone. Only Shopify's gid is kept, never the code (it holds the name)."""

    __tablename__ = "discount_removals"
    __table_args__ = (UniqueConstraint("shop_id", "discount_id", name="uq_discount_removals_shop_discount"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    shop_id: Mapped[int] = shop_fk(index=False)  # the unique constraint leads with it
    discount_id: Mapped[str] = mapped_column(String(128))  # gid://shopify/DiscountCodeNode/…
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # failed tries so far
    reason: Mapped[str | None] = mapped_column(Text)  # why the last try failed, without personal data
    retry_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # no new try before this
