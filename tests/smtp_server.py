"""A real SMTP server on loopback (aiosmtpd) that records what it receives.

`port=0` does not work with aiosmtpd's Controller (it connects to the port to see
the server is up), and a port picked free and closed may be taken by another test process
before the server binds it: so the server listens on a socket already bound to a port of
its own (`_ListeningController`). `refuse_rcpt` makes the server
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


class _ListeningController(Controller):
    """aiosmtpd's Controller serving a loopback socket bound (port 0) before it starts: no other
    process can take its port between picking and binding it."""

    def __init__(self, handler: RecordingHandler):
        self._listening = socket.create_server(("127.0.0.1", 0))
        super().__init__(handler, hostname="127.0.0.1", port=self._listening.getsockname()[1])

    def _create_server(self):
        return self.loop.create_server(self._factory_invoker, sock=self._listening)


@contextmanager
def smtp_server(handler: RecordingHandler | None = None):
    handler = handler or RecordingHandler()
    controller = _ListeningController(handler)
    controller.start()
    try:
        yield controller, handler
    finally:
        if isinstance(handler, StallingHandler):
            handler.release.set()
        controller.stop()
