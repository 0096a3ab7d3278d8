"""A shop's own provider accounts: today Twilio, for SMS and WhatsApp.

The auth token is sealed at rest with SecretBox; the rest (account SID, senders) is
plain configuration the admin may show. Every read and write is scoped by shop.
"""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shop_app.adapters.twilio_messaging import TwilioAccount
from shop_app.storage.channel_tables import ChannelConnection, ContentTemplate
from shop_app.storage.secret_box import SecretBox

TWILIO = "twilio"
_PUBLIC_FIELDS = ("account_sid", "messaging_service_sid", "from_number", "whatsapp_from")


def save_twilio(session: Session, box: SecretBox, shop_id: int, account: TwilioAccount) -> ChannelConnection:
    config = {name: getattr(account, name) for name in _PUBLIC_FIELDS}
    row = _row(session, shop_id, TWILIO)
    if row is None:
        try:
            with session.begin_nested():
                row = ChannelConnection(
                    shop_id=shop_id, provider=TWILIO, config=config, secret=box.seal(account.auth_token)
                )
                session.add(row)
            return row
        except IntegrityError:  # saved concurrently: update that one
            row = _row(session, shop_id, TWILIO)
            if row is None:  # the row that won the insert is gone again
                raise
    if row.config.get("account_sid") != account.account_sid:
        # WhatsApp templates live in one Twilio account: another account needs its own.
        session.execute(delete(ContentTemplate).where(ContentTemplate.shop_id == shop_id))
    row.config, row.secret = config, box.seal(account.auth_token)
    return row


def twilio_account(session: Session, box: SecretBox, shop_id: int) -> TwilioAccount | None:
    row = _row(session, shop_id, TWILIO)
    return None if row is None else account_of(box, row)


def account_of(box: SecretBox, row: ChannelConnection) -> TwilioAccount:
    """The Twilio account a connection row holds, its token opened."""
    config = row.config
    return TwilioAccount(
        account_sid=config["account_sid"],  # save_twilio stores every public field
        auth_token=box.open(row.secret),
        messaging_service_sid=config.get("messaging_service_sid"),
        from_number=config.get("from_number"),
        whatsapp_from=config.get("whatsapp_from"),
    )


def has_twilio(session: Session, shop_id: int) -> bool:
    """Whether the shop connected Twilio, without opening the sealed token."""
    return (
        session.scalar(
            select(ChannelConnection.id).where(
                ChannelConnection.shop_id == shop_id, ChannelConnection.provider == TWILIO
            )
        )
        is not None
    )


def forget(session: Session, shop_id: int, provider: str = TWILIO) -> None:
    session.execute(
        delete(ChannelConnection).where(ChannelConnection.shop_id == shop_id, ChannelConnection.provider == provider)
    )
    if provider == TWILIO:
        session.execute(delete(ContentTemplate).where(ContentTemplate.shop_id == shop_id))


def describe(session: Session, shop_id: int) -> dict[str, dict[str, str | None] | None]:
    """What the admin shows: which senders are set, never the token."""
    row = _row(session, shop_id, TWILIO)
    return {"twilio": None if row is None else {k: row.config.get(k) for k in _PUBLIC_FIELDS}}


def _row(session: Session, shop_id: int, provider: str) -> ChannelConnection | None:
    return session.scalar(
        select(ChannelConnection).where(ChannelConnection.shop_id == shop_id, ChannelConnection.provider == provider)
    )
