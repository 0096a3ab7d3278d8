"""The suppression list and consent records: who may not be contacted, and why.

Every send honours the suppression list (jobs/send.py). Rows are per shop, channel
and address; an erased customer's opt-out survives only as a keyed hash of the
address (privacy.py), so lookups try both forms.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shop_app.privacy import address_hash
from shop_app.tables import Consent, Suppression


def _forms(secret_key: str, address: str) -> list[str]:
    return [address, address_hash(secret_key, address)]


def suppression_reason(session: Session, secret_key: str, shop_id: int, channel: str, address: str | None) -> str | None:
    if not address:
        return None
    return session.scalar(
        select(Suppression.reason).where(
            Suppression.shop_id == shop_id,
            Suppression.channel == channel,
            Suppression.address.in_(_forms(secret_key, address)),
        )
    )


def suppress(session: Session, secret_key: str, shop_id: int, channel: str, address: str, reason: str) -> bool:
    """Add the address to the shop's list for the channel; False when it was already there.

    Runs in a savepoint, so a concurrent insert of the same row does not spoil the caller's transaction.
    """
    if suppression_reason(session, secret_key, shop_id, channel, address) is not None:
        return False
    try:
        with session.begin_nested():
            session.add(Suppression(shop_id=shop_id, channel=channel, address=address, reason=reason[:1000]))
    except IntegrityError:
        return False
    return True


def lift(session: Session, secret_key: str, shop_id: int, channel: str, address: str) -> int:
    """Remove the address from the list (the customer opted in again, e.g. texted START)."""
    result = session.execute(
        delete(Suppression).where(
            Suppression.shop_id == shop_id,
            Suppression.channel == channel,
            Suppression.address.in_(_forms(secret_key, address)),
        )
    )
    return result.rowcount or 0


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
    row = session.scalar(
        select(Consent).where(Consent.shop_id == shop_id, Consent.channel == channel, Consent.address == address)
    )
    state = "granted" if granted else "revoked"
    if row is None:
        try:
            with session.begin_nested():
                row = Consent(shop_id=shop_id, channel=channel, address=address, state=state, source=source,
                              recorded_at=at, profile_id=profile_id)
                session.add(row)
            return row
        except IntegrityError:
            row = session.scalar(
                select(Consent).where(Consent.shop_id == shop_id, Consent.channel == channel,
                                      Consent.address == address)
            )
    if at >= row.recorded_at:
        row.state, row.source, row.recorded_at = state, source, at
        if profile_id is not None:
            row.profile_id = profile_id
    return row


def consent_state(session: Session, shop_id: int, channel: str, address: str | None) -> Consent | None:
    if not address:
        return None
    return session.scalar(
        select(Consent).where(Consent.shop_id == shop_id, Consent.channel == channel, Consent.address == address)
    )
