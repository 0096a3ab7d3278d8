"""Discount codes for a journey step, behind one small interface.

Mode `shared`: the code the merchant created in Shopify and typed into the settings.
Mode `unique` (codes created through the Admin API) arrives with the Shopify client.
Either way there is at most one code per journey step, so a retried job reuses it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from shop_app.domain.settings import Incentive
from shop_app.errors import DiscountUnavailable
from shop_app.tables import Discount, Journey


class DiscountService:
    def code_for(self, session: Session, journey: Journey, step: str, incentive: Incentive, now: datetime) -> str | None:
        """The code this step promises, creating its record once; None when it offers nothing."""
        if not incentive.offered:
            return None
        existing = session.scalar(select(Discount).where(Discount.journey_id == journey.id, Discount.step == step))
        if existing is not None:
            return existing.code
        if incentive.code_mode != "shared" or not incentive.code:
            raise DiscountUnavailable(f"no way to create a {incentive.code_mode} code yet")
        session.add(
            Discount(
                shop_id=journey.shop_id,
                journey_id=journey.id,
                step=step,
                code=incentive.code,
                mode="shared",
                kind=incentive.type,
                value=incentive.value,
                created_at=now,
            )
        )
        session.flush()
        return incentive.code
