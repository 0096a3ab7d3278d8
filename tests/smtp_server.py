"""A real SMTP server on loopback (aiosmtpd) that records what it receives.

`port=0` does not work with aiosmtpd's Controller (it connects to the port to see
the server is up), so a free port is picked first. `refuse_rcpt` makes the server
answer RCPT TO with that reply, e.g. "550 5.1.1 No such user". `StallingHandler` holds the
first message's DATA unanswered: a provider that hangs in the middle of a send.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import threading
from contextlib import contextmanager
from email.message import EmailMessage

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RecordingHandler:
    def __init__(self):
        self.envelopes = []
        self.refuse_rcpt: str | None = None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.refuse_rcpt:
            return self.refuse_rcpt
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    def messages(self) -> list[EmailMessage]:
        return [email.message_from_bytes(e.content, policy=email.policy.default) for e in self.envelopes]


class StallingHandler(RecordingHandler):
    """Records every message; the first one's DATA gets no answer until `release` is set. The
    message has reached the provider by then (it is recorded): only the reply is missing."""

    def __init__(self):
        super().__init__()
        self.holding = threading.Event()
        self.release = threading.Event()

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        if not self.holding.is_set():
            self.holding.set()
            while not self.release.is_set():
                await asyncio.sleep(0.05)
        return "250 Message accepted for delivery"


@contextmanager
def smtp_server(handler: RecordingHandler | None = None):
    handler = handler or RecordingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield controller, handler
    finally:
        if isinstance(handler, StallingHandler):
            handler.release.set()
        controller.stop()
