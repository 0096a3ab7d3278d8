"""`reclaim worker` as operators run it: a separate process whose own scheduler ticks.

No `tick` is called here: the message goes out only if the worker's periodic
dispatcher really runs. (tests/faults kills it mid-send and restarts Redis under it.)"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.processes import Worker, wait_for

pytestmark = pytest.mark.slow


def test_worker_ingests_and_its_scheduler_dispatches_due_messages(store, tmp_path):
    abandoned = (datetime.now(UTC) - timedelta(minutes=61)).isoformat()
    with Worker({}, tmp_path / "worker.log") as worker:
        assert store.post("checkouts/create", store.checkout("live", abandoned)).status_code == 200
        wait_for(store.outbox, 40, f"nothing was sent; the worker's log:\n{worker.tail()}", every=0.5)
    assert [m["channel"] for m in store.outbox()] == ["email"]
    assert store.message(step="first")["status"] == "sent"
    assert store.message(step="whatsapp")["status"] == "scheduled"  # not due for another hour
