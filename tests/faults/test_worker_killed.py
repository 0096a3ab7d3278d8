"""A `reclaim worker` killed with SIGKILL in the middle of a provider call.

The SMTP server takes the first email and never answers; the worker is killed while it waits.
The row's claim (`sending`) was committed before the call, so the reconciler, once the lease
is over, marks it `unknown` and never sends it again (a missed message beats a double text);
a new worker sends every other row. The provider must hold each message exactly once.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from jobs.dispatch import reconcile
from shop_app.config import SENDING_LEASE_SECONDS
from tests.faults.ledger import NOT_FINAL, duplicates, figures, message_statuses, smtp_message_ids
from tests.processes import Worker, wait_for
from tests.smtp_server import StallingHandler, smtp_server

pytestmark = pytest.mark.slow

CHECKOUTS = 6


def test_a_worker_killed_mid_send_leaves_one_unknown_row_and_sends_the_rest_once(rt, store, environment, tmp_path):
    started = time.monotonic()
    abandoned = (datetime.now(UTC) - timedelta(minutes=61)).isoformat()
    with smtp_server(StallingHandler()) as (controller, smtp):
        worker_env = {**environment, "SMTP_URL": f"smtp://127.0.0.1:{controller.port}", "RECLAIM_OUTBOX_FILE": ""}
        for n in range(CHECKOUTS):
            payload = store.checkout(f"kill-{n}", abandoned, email=f"buyer{n}@example.com")
            assert store.post("checkouts/create", payload).status_code == 200

        first = Worker(worker_env, tmp_path / "first-worker.log")
        try:
            wait_for(smtp.holding.is_set, 40, "no email reached the provider")
            first.kill()  # the provider has the email; the worker never hears back
        finally:
            first.stop()
        at_kill = message_statuses(rt, step="first")
        [held] = store.messages(status="sending")

        lease_over = datetime.now(UTC) + timedelta(seconds=SENDING_LEASE_SECONDS + 1)
        report = reconcile(lease_over)
        assert store.message(id=held["id"])["status"] == "unknown"

        with Worker(worker_env, tmp_path / "second-worker.log") as second:
            wait_for(
                lambda: not any(message_statuses(rt, step="first")[s] for s in NOT_FINAL),
                40,
                f"the second worker did not settle every due row; its log:\n{second.tail()}",
            )
        final = message_statuses(rt, step="first")
        received = smtp_message_ids(smtp.messages())

    rows = {m["id"] for m in store.messages(step="first")}
    unknown = store.message(id=held["id"])
    figures(
        "worker SIGKILL mid-send",
        rows=len(rows),
        at_the_kill=dict(at_kill),
        reconciler=str(report),
        final=dict(final),
        emails_at_the_provider=len(received),
        duplicates=len(duplicates(received)),
        lost=len(rows - set(received)),
        seconds=f"{time.monotonic() - started:.1f}",
    )
    assert at_kill["sending"] == 1
    assert final == {"sent": CHECKOUTS - 1, "unknown": 1}
    assert unknown["reason"].startswith("unknown: no provider answer") and unknown["sent_at"] is None
    assert duplicates(received) == {}
    assert sorted(received) == sorted(rows)  # every row reached the provider once, the held one too
