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


@dataclass(frozen=True)
class OutgoingMessage:
    message_id: int
    shop: str
    channel: str
    to: str
    subject: str | None
    body: str


@dataclass(frozen=True)
class SendResult:
    status: SendStatus
    provider_id: str | None = None
    detail: str | None = None


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
    """Which transport serves a channel for a shop; None means "needs connection"."""

    def __init__(self, outbox_file: str | None):
        self._outbox = OutboxFileTransport(outbox_file) if outbox_file else None

    def transport(self, shop_domain: str, channel: str) -> Transport | None:
        del shop_domain, channel  # per-shop provider credentials arrive with the real providers
        return self._outbox
