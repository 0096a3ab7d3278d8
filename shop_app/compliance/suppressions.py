"""The suppression list: who may not be contacted, and why (consent records: consent_records.py).

Every send honours it. Rows are per shop, channel and address; an erased customer's opt-out
survives only as a keyed hash of the address (privacy.py), so lookups try both forms.
"""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shop_app.compliance.consent_records import consent_state, record_consent
from shop_app.domain.addresses import address_hash, scrub_provider_text
from shop_app.storage.database import rows_changed
from shop_app.storage.tables import Suppression

#: The consent functions are importable from here too: one place for "may we contact them?".
__all__ = ["consent_state", "lift", "record_consent", "suppress", "suppression_reason"]


def _forms(secret_key: str, address: str) -> list[str]:
    return [address, address_hash(secret_key, address)]


def suppression_reason(
    session: Session, secret_key: str, shop_id: int, channel: str, address: str | None
) -> str | None:
    if not address:
        return None
    return session.scalar(
        select(Suppression.reason).where(
            Suppression.shop_id == shop_id,
            Suppression.channel == channel,
            Suppression.address.in_(_forms(secret_key, address)),
        )
    )


def suppress(
    session: Session, secret_key: str, shop_id: int, channel: str, address: str, reason: str, source: str = "provider"
) -> bool:
    """Add the address to the shop's list for the channel; False when it was already there.

    `source` says who asked (Suppression.source): the customer by `keyword` or `unsubscribe`
    link, which staff may lift in the admin, or a `provider`, which they may not.

    Runs in a savepoint, so a concurrent insert of the same row does not spoil the caller's transaction.
    """
    if suppression_reason(session, secret_key, shop_id, channel, address) is not None:
        return False
    try:
        with session.begin_nested():
            why = scrub_provider_text(reason, address)[:1000]  # reasons outlive the address (erasure)
            session.add(Suppression(shop_id=shop_id, channel=channel, address=address, reason=why, source=source))
    except IntegrityError:
        return False
    return True


def lift(session: Session, secret_key: str, shop_id: int, channel: str, address: str) -> int:
    """Remove the address from the list (the customer opted in again, e.g. texted START)."""
    return rows_changed(
        session,
        delete(Suppression).where(
            Suppression.shop_id == shop_id,
            Suppression.channel == channel,
            Suppression.address.in_(_forms(secret_key, address)),
        ),
    )
