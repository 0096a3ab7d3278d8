"""What every transport takes and answers: an outgoing message, one send call, a normalized result.

Providers fill in `send` (email.py, twilio_messaging.py, webpush.py, and the development
outbox file here); shop_app/channels/transports.py chooses which one serves a shop's channel.
The vocabulary is closed: a send is sent, failed for good (with a Rejection the send
job acts on) or failed for now (retried). The provider's raw answer comes with it; the send job
reads the first word on delivery from it and keeps no more (recovery/outcomes.py).
"""

from __future__ import annotations

import enum
import fcntl
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol


class SendStatus(enum.StrEnum):
    SENT = "sent"
    FAILED_PERMANENT = "failed-permanent"
    FAILED_TRANSIENT = "failed-transient"


# Not a StrEnum: str() and f-strings must keep rendering "Rejection.SUPPRESSED"; the send job
# formats a rejection into the reason it stores for a failed message.
class Rejection(str, enum.Enum):  # noqa: UP042
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
    raw: dict | None = None  # the provider's answer as it came (not stored: recovery/outcomes.py)


class Transport(Protocol):
    esp_name: str  # who answered: "smtp", "sendgrid", "twilio", "webpush", "outbox"

    def send(self, message: OutgoingMessage) -> SendResult: ...


class OutboxFileTransport:
    """Appends each message as one JSON line to a file: the development transport."""

    esp_name = "outbox"

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
