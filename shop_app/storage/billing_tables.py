"""The shop's plan as last read from Shopify (issue 14, billing; migration 0027).

One row per shop, written by shop_app/billing/subscriptions.py from the Admin API
(currentAppInstallation.activeSubscriptions, shop.plan.partnerDevelopment) and the
app_subscriptions/update webhook; no row: never read (no limit applied yet). Journeys carry the
rest (tables.Journey.started_at: the plan's month; plan_limited: refused by the monthly limit).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, String, false
from sqlalchemy.orm import Mapped, mapped_column

from shop_app.storage.tables import Base, UTCDateTime

Id = BigInteger().with_variant(Integer, "sqlite")  # as in tables.py (imported from there, mypy sees a cycle)


class ShopPlan(Base):
    __tablename__ = "shop_plans"
    shop_id: Mapped[int] = mapped_column(Id, ForeignKey("shops.id", ondelete="CASCADE"), primary_key=True)
    #: The ACTIVE subscription's plan handle, name, status and id (None: no subscription, the Free plan).
    handle: Mapped[str | None] = mapped_column(String(64))
    name: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str | None] = mapped_column(String(16))
    subscription_id: Mapped[str | None] = mapped_column(String(128))
    #: A partner development store: free and unlimited.
    development: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    #: The installed app's AppPublicCategory (PUBLIC, CUSTOM, …): App Pricing applies to PUBLIC only.
    app_category: Mapped[str | None] = mapped_column(String(16))
    #: When the app last read it (the Admin API or a webhook).
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: The newest moment applied (a read's time, a webhook's updated_at): an older webhook is ignored.
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
