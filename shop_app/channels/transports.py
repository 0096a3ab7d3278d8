"""Which transport serves a channel for a shop, decided once per send; None means "needs connection".

- email: SMTP_URL or SENDGRID_API_KEY (the app's own sending account), else the outbox.
- SMS and WhatsApp: the shop's own Twilio account when connected (channels/accounts.py),
  else the development outbox when RECLAIM_OUTBOX_FILE is set, else not connected.
- push: always served (the app's VAPID keys are made on first use); whether a customer
  can get one is the consent gate's question (a live subscription).

`RECLAIM_OUTBOX_FILE` (development, the demo, tests) stands in for every provider that
is not configured, so the whole flow runs with no credentials.

The send job reads the shop's Twilio connection row with its other facts and asks with it
(`connected_given`, `route_given`): no further read, and the sealed token is opened once per
version of the row (its `updated_at` and sealed token) in the process (issue 13).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from shop_app.adapters.email import EmailMessageSpec, SendGridTransport, SmtpTransport
from shop_app.adapters.outgoing import OutboxFileTransport, OutgoingMessage, SendResult, Transport
from shop_app.adapters.twilio_messaging import TwilioAccount, TwilioTransport
from shop_app.adapters.webpush import PushTransport
from shop_app.channels.accounts import account_of, has_twilio, twilio_account
from shop_app.channels.push_subscriptions import vapid_keys
from shop_app.config import Settings
from shop_app.domain.models import Channel
from shop_app.storage.channel_tables import ChannelConnection
from shop_app.storage.secret_box import SecretBox


@dataclass(frozen=True)
class Route:
    """The transport for one send, and what it needs beyond the text."""

    transport: Transport
    #: Twilio: a per-message status callback, and WhatsApp only as an approved Content template.
    twilio: bool = False

    @property
    def provider(self) -> str:
        return self.transport.esp_name


class Transports:
    """The transport registry: one per process, holding the providers' HTTP sessions."""

    def __init__(self, settings: Settings, sessions: sessionmaker[Session], box: SecretBox):
        self.settings, self._sessions, self._box = settings, sessions, box
        self._outbox = OutboxFileTransport(settings.outbox_file) if settings.outbox_file else None
        self._email = _email_transport(settings)
        self._push = _LazyPush(settings, sessions, box)
        self._twilio: dict[tuple[int, TwilioAccount], TwilioTransport] = {}
        #: shop id -> (the connection row's version, its account): the sealed token opened once.
        self._accounts: dict[int, tuple[tuple[int, object, str], TwilioAccount]] = {}
        self._lock = threading.Lock()

    def transport(self, session: Session, shop_id: int, channel: str) -> Transport | None:
        if channel in ("sms", "whatsapp"):
            twilio = self.twilio(session, shop_id)
            return twilio if twilio is not None else self._outbox
        return self._own(channel)

    def _own(self, channel: str) -> Transport | None:
        """The app's own transport for email or push (no shop account involved)."""
        if channel == "email":
            return self._email or self._outbox
        if channel == "push":
            return self._push
        raise ValueError(f"unknown channel {channel!r}")

    def route(self, session: Session, shop_id: int, channel: str) -> Route | None:
        """The one answer to "Twilio or the development outbox?" for a send (opens the sealed
        Twilio token once, for the transport)."""
        transport = self.transport(session, shop_id, channel)
        if transport is None:
            return None
        return Route(transport, twilio=isinstance(transport, TwilioTransport))

    def connected_given(self, channel: str, twilio: ChannelConnection | None) -> bool:
        """`connected`, given the shop's Twilio connection row as the caller just read it."""
        if channel in ("sms", "whatsapp"):
            return twilio is not None or self._outbox is not None
        return self._own(channel) is not None

    def route_given(
        self, session: Session, shop_id: int, channel: str, twilio: ChannelConnection | None
    ) -> Route | None:
        """`route`, given the shop's Twilio connection row as the caller just read it (no read for
        SMS and WhatsApp when it is there; email and push read nothing anyway)."""
        if twilio is not None and channel in ("sms", "whatsapp"):
            return Route(self._twilio_for(shop_id, self._account_given(shop_id, twilio)), twilio=True)
        return self.route(session, shop_id, channel)

    def _account_given(self, shop_id: int, row: ChannelConnection) -> TwilioAccount:
        version = (row.id, row.updated_at, row.secret)
        kept = self._accounts.get(shop_id)
        if kept is not None and kept[0] == version:
            return kept[1]
        account = account_of(self._box, row)
        with self._lock:
            self._accounts[shop_id] = (version, account)
        return account

    def connected(self, session: Session, shop_id: int, channel: str) -> bool:
        """The gates' question, answered without opening any sealed credential."""
        if channel in ("sms", "whatsapp"):
            return has_twilio(session, shop_id) or self._outbox is not None
        return self.transport(session, shop_id, channel) is not None

    def connection_facts(self, session: Session, shop_id: int) -> dict[Channel, bool]:
        """Whether the shop can send on each channel now (what settings warnings judge by)."""
        return {channel: self.connected(session, shop_id, channel.value) for channel in Channel}

    def twilio(self, session: Session, shop_id: int) -> TwilioTransport | None:
        """The shop's Twilio transport, one per account, so its HTTP connections are reused."""
        account = twilio_account(session, self._box, shop_id)
        return None if account is None else self._twilio_for(shop_id, account)

    def _twilio_for(self, shop_id: int, account: TwilioAccount) -> TwilioTransport:
        with self._lock:
            transport = self._twilio.get((shop_id, account))
            if transport is None:
                for key in [k for k in self._twilio if k[0] == shop_id]:  # credentials changed
                    self._twilio.pop(key).close()
                transport = TwilioTransport(
                    account,
                    api_base=self.settings.twilio_api_base_url,
                    content_base=self.settings.twilio_content_base_url,
                )
                self._twilio[(shop_id, account)] = transport
            return transport

    def close(self) -> None:
        with self._lock:
            for transport in self._twilio.values():
                transport.close()
            self._twilio.clear()
            self._accounts.clear()


class _LazyPush:
    """The push transport, built with the VAPID keys at the first send (not at start-up,
    and not inside another transaction: generating the keys writes a row)."""

    esp_name = "webpush"

    def __init__(self, settings: Settings, sessions: sessionmaker[Session], box: SecretBox):
        self._settings, self._sessions, self._box = settings, sessions, box
        self._transport: PushTransport | None = None
        self._lock = threading.Lock()

    def send(self, message: OutgoingMessage) -> SendResult:
        with self._lock:
            if self._transport is None:
                keys = vapid_keys(self._sessions, self._box)
                self._transport = PushTransport(keys.private, self._settings.vapid_contact)
        return self._transport.send(message)


def _email_transport(settings: Settings) -> Transport | None:
    if not (settings.smtp_url or settings.sendgrid_api_key):
        return None

    def compose(message: OutgoingMessage) -> EmailMessageSpec:
        return EmailMessageSpec(
            from_name=message.sender_name or message.shop,
            from_address=settings.email_from,
            to=message.to,
            subject=message.subject or "",
            text=message.body,
            html=message.html or "",
            unsubscribe_url=message.unsubscribe_url or "",
            reply_to=message.reply_to,
            message_id=message.message_id,
        )

    if settings.smtp_url:
        return SmtpTransport(settings.smtp_url, compose=compose)
    return SendGridTransport(settings.sendgrid_api_key or "", compose=compose)
