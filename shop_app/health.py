"""What `/healthz` reports: whether the database and Redis answer, within a deadline.

Each check runs in a thread of its own, started per request, so a hung dependency never
holds the request and one poll's stuck check never queues the next poll's behind it (a
stuck thread ends with its connection's own timeout). Both share one deadline.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from sqlalchemy import text

from shop_app.errors import describe
from shop_app.runtime import Runtime

#: /healthz answers within this, whatever hangs; a check still running is reported as such.
DEADLINE_SECONDS = 0.5


class _Check(threading.Thread):
    def __init__(self, name: str, probe: Callable[[], object]):
        super().__init__(name=f"reclaim-health-{name}", daemon=True)
        self.probe, self.problem = probe, f"no answer within {DEADLINE_SECONDS} s"

    def run(self) -> None:
        try:
            self.probe()
            self.problem = ""
        except Exception as exc:  # reported, never raised: this is what operators poll
            self.problem = describe(exc)


def problems(runtime: Runtime) -> dict[str, str]:
    """{dependency: what is wrong} for the database and Redis; empty when both answered."""

    def database() -> None:
        with runtime.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    checks = {"database": _Check("database", database), "redis": _Check("redis", runtime.queue.ping)}
    for check in checks.values():
        check.start()
    deadline = time.monotonic() + DEADLINE_SECONDS
    for check in checks.values():
        check.join(max(0.0, deadline - time.monotonic()))
    return {name: check.problem for name, check in checks.items() if check.is_alive() or check.problem}
