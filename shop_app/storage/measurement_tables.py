"""The measurement tables (issue 12): one attribution row per credited order.

An attribution is the read model of the results report: the order a recovery journey recovered
(shop_app/domain/attribution.py says which), the message credited (its step and channel), and the
revenue in the shop's currency with the buyer's presentment money beside it. A cancelled or fully
refunded order keeps its row, marked `removed` with the reason, so the report can say what was
taken out. Written only by shop_app/recovery/attribution.py.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from shop_app.storage.tables import Base, UTCDateTime, shop_fk, utcnow

Id = BigInteger().with_variant(Integer, "sqlite")  # as in tables.py (imported from there, mypy sees a cycle)

CREDITED = "credited"
REMOVED = "removed"


ATTRIBUTIONS_BY_DAY = ("shop_id", "status", "journey_abandoned_at", "journey_id", "step", "channel", "revenue")


class Attribution(Base):
    __tablename__ = "attributions"
    __table_args__ = (
        UniqueConstraint("order_id", name="uq_attributions_order"),  # one order, one journey
        Index("ix_attributions_journey", "journey_id"),
        # The report's credited orders per day, step and channel, read from the index alone (0023).
        Index("ix_attributions_shop_abandoned", *ATTRIBUTIONS_BY_DAY),
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    shop_id: Mapped[int] = shop_fk()
    order_id: Mapped[int] = mapped_column(Id, ForeignKey("orders.id", ondelete="CASCADE"))
    journey_id: Mapped[int] = mapped_column(Id, ForeignKey("journeys.id", ondelete="CASCADE"))
    #: The credited message (the last sent before the order); its step and channel stay if it goes.
    message_id: Mapped[int | None] = mapped_column(Id, ForeignKey("messages.id", ondelete="SET NULL"))
    #: The journey's abandoned_at, copied (and moved with it): the report's range (0023).
    journey_abandoned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    step: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(16))
    revenue: Mapped[Decimal] = mapped_column(Numeric(14, 2))  # in the shop's currency
    currency: Mapped[str] = mapped_column(String(3))
    presentment_amount: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    presentment_currency: Mapped[str | None] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(16), default=CREDITED)  # credited | removed
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
