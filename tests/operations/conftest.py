"""Fixtures of the operations tests (health and metrics)."""

from __future__ import annotations

import socket

import pytest

from tests.jobs.test_twilio_channel import twilio_store  # noqa: F401 (the shop with Twilio connected)


@pytest.fixture
def closed_port() -> int:
    """A local port nothing listens on: a connection to it is refused at once."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
