"""Fixtures of the operations tests (health and metrics)."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from tests.jobs.test_twilio_channel import twilio_store  # noqa: F401 (the shop with Twilio connected)


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A local port nothing listens on: a connection to it is refused at once. The socket stays bound
    (never listening) for the whole test, so no other process, such as another xdist worker's server
    binding port 0, is given the port meanwhile."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        yield probe.getsockname()[1]
