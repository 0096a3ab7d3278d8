"""A worker whose dispatcher pass hangs, as on a statement that never returns, for the tests that
kill it mid-pass (tests/jobs/test_killed_pass.py): `python -m tests.jobs.hanging_pass`, in the
environment of `reclaim worker`. It runs one job of the dispatch queue, the first pass waiting
there, through the scheduler's real entry (jobs.worker.dispatch_pass), and never finishes it."""

from __future__ import annotations

import time

import jobs.dispatch
from jobs.failures import DescribedFailures
from shop_app import runtime
from shop_app.adapters.queue import DISPATCH


def _hang(*args: object) -> None:
    time.sleep(3600)


if __name__ == "__main__":
    rt = runtime.current()
    jobs.dispatch.dispatch = _hang  # the pass's work, inside the pass's beat
    DescribedFailures([rt.queue.queues[DISPATCH]], connection=rt.redis).work(burst=True, max_jobs=1)
