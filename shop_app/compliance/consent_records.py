"""Consent records: the latest statement we hold for one address on one channel.

Sources: `checkout` (the checkout's marketing checkboxes), `customer` (the customer's
marketing state in Shopify), `storefront` (a browser push subscription), `keyword`
(STOP/START by SMS or WhatsApp), `unsubscribe` (our link), `provider` (a bounce,
complaint or opt-out the provider reported). An older statement never overwrites a newer one.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shop_app.storage.tables import Consent


def record_consent(
    session: Session,
    shop_id: int,
    channel: str,
    address: str,
    *,
    granted: bool,
    source: str,
    at: datetime,
    profile_id: int | None = None,
) -> Consent:
    """Keep the latest consent for (shop, channel, address); an older statement never overwrites a newer one."""
    row = _row(session, shop_id, channel, address)
    state = "granted" if granted else "revoked"
    if row is None:
        try:
            with session.begin_nested():
                row = Consent(
                    shop_id=shop_id,
                    channel=channel,
                    address=address,
                    state=state,
                    source=source,
                    recorded_at=at,
                    profile_id=profile_id,
                )
                session.add(row)
            return row
        except IntegrityError:  # recorded concurrently: apply this statement to that row
            row = _row(session, shop_id, channel, address)
            if row is None:  # the row that won the insert is gone again
                raise
    if at >= row.recorded_at:
        row.state, row.source, row.recorded_at = state, source, at
        if profile_id is not None:
            row.profile_id = profile_id
    return row


def consent_state(session: Session, shop_id: int, channel: str, address: str | None) -> Consent | None:
    if not address:
        return None
    return _row(session, shop_id, channel, address)


def _row(session: Session, shop_id: int, channel: str, address: str) -> Consent | None:
    return session.scalar(
        select(Consent).where(Consent.shop_id == shop_id, Consent.channel == channel, Consent.address == address)
    )
