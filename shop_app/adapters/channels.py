"""The channel interface: one send call, one normalized result.

Providers (SMTP, Web Push, Twilio) come later; today the only transport is the
development outbox file, which makes every channel count as connected.
"""

from __future__ import annotations

import enum
import fcntl
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol


class SendStatus(str, enum.Enum):
    SENT = "sent"
    FAILED_PERMANENT = "failed-permanent"
    FAILED_TRANSIENT = "failed-transient"


class Rejection(str, enum.Enum):
    """Why a provider refused a recipient for good: the send job acts on each one."""

    SUPPRESSED = "suppressed"  # the recipient opted out with the provider (Twilio 21610): suppress the address
    INVALID_ADDRESS = "invalid-address"  # not a number/address that can receive this channel (21211, 21614)
    TEMPLATE_NEEDED = "template-needed"  # WhatsApp outside the 24-hour window without an approved template (63016)
    SUBSCRIPTION_GONE = "subscription-gone"  # the push service says 404/410: delete the subscription


@dataclass(frozen=True)
class OutgoingMessage:
    message_id: int
    shop: str
    channel: str
    to: str
    subject: str | None
    body: str
    # Email only:
    html: str | None = None
    sender_name: str | None = None  # the shop's name
    reply_to: str | None = None  # the merchant's address
    unsubscribe_url: str | None = None
    # SMS and WhatsApp (Twilio):
    status_callback: str | None = None  # signed-for URL Twilio reports delivery status to
    content_sid: str | None = None  # an approved WhatsApp template (HX…); body is then only our record
    content_variables: dict[str, str] | None = None  # the template's {{1}}, {{2}}… values
    # Browser push:
    push_subscription: dict | None = None  # PushSubscription.toJSON(): endpoint + keys.p256dh/auth
    topic: str | None = None  # a newer push with the same topic replaces an undelivered older one
    link: str | None = None  # where a click on the notification goes


@dataclass(frozen=True)
class SendResult:
    status: SendStatus
    provider_id: str | None = None
    detail: str | None = None
    rejection: Rejection | None = None
    retry_after: float | None = None  # seconds, when the provider said how long to back off
    raw: dict | None = None  # the provider's answer, kept as it came


class Transport(Protocol):
    def send(self, message: OutgoingMessage) -> SendResult: ...


class OutboxFileTransport:
    """Appends each message as one JSON line to a file: the development transport."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def send(self, message: OutgoingMessage) -> SendResult:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps(asdict(message), ensure_ascii=False) + "\n"
        with open(self.path, "a", encoding="utf-8") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            handle.write(line)
            handle.flush()
        return SendResult(SendStatus.SENT, provider_id=f"outbox-{message.message_id}")


class Channels:
    """Which transport serves a channel for a shop; None means "needs connection".

    `RECLAIM_OUTBOX_FILE` (development) connects every channel to the outbox file.
    Otherwise email goes through SMTP_URL or SENDGRID_API_KEY; SMS, WhatsApp and push
    providers arrive with their adapters.
    """

    def __init__(self, settings):
        self._outbox = OutboxFileTransport(settings.outbox_file) if settings.outbox_file else None
        self._email = None
        if settings.smtp_url or settings.sendgrid_api_key:
            from shop_app.adapters.email import EmailMessageSpec, SendGridTransport, SmtpTransport

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
                self._email = SmtpTransport(settings.smtp_url, compose=compose)
            else:
                self._email = SendGridTransport(settings.sendgrid_api_key, compose=compose)

    def transport(self, shop_domain: str, channel: str) -> Transport | None:
        del shop_domain  # per-shop provider credentials arrive with the Twilio adapter
        if self._outbox is not None:
            return self._outbox
        return self._email if channel == "email" else None
