"""`reclaim worker` as operators run it: a separate process whose own scheduler ticks.

No `tick` is called here: the message goes out only if the worker's periodic
dispatcher really runs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest

pytestmark = pytest.mark.slow


def test_worker_ingests_and_its_scheduler_dispatches_due_messages(store, environment):
    abandoned = (datetime.now(UTC) - timedelta(minutes=61)).isoformat()
    worker = subprocess.Popen(
        [sys.executable, "-m", "shop_app.cli.commands", "worker"],
        env={**os.environ, **environment},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        assert store.post("checkouts/create", store.checkout("live", abandoned)).status_code == 200
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline and not store.outbox():
            time.sleep(0.5)
        assert [m["channel"] for m in store.outbox()] == ["email"]
        assert store.message(step="first")["status"] == "sent"
        assert store.message(step="whatsapp")["status"] == "scheduled"  # not due for another hour
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
        worker.stderr.close()
