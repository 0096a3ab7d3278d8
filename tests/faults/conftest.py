from __future__ import annotations

import pytest

import jobs.dispatch


@pytest.fixture(autouse=True)
def no_grace(monkeypatch):
    """The reconciler leaves a delivery alone for 30 s on the wall clock (the web request between
    its commit and its enqueue), and a queued row for 30 s after its claim; these tests move time
    forward by seconds, so: no grace."""
    monkeypatch.setattr(jobs.dispatch, "INGEST_GRACE_SECONDS", 0)
    monkeypatch.setattr(jobs.dispatch, "QUEUED_GRACE_SECONDS", 0)
