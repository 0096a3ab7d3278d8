"""The demo's drains of the job queues, and Ctrl-C during them (issue 14 review, item 5).

RQ's worker puts its own SIGINT handler in place when it works: Ctrl-C while a job runs only
asks for a warm stop after that job (and RQ's bare `except` around a job would swallow a
KeyboardInterrupt), and that handler, left in place after the drain, raises StopRequested
wherever the story is next. Here a drain notes Ctrl-C instead, lets the job in hand finish, stops
the burst, puts Python's own handler back and raises KeyboardInterrupt: the demo ends in one line
(run_demo, demo_folder.ending).
"""

from __future__ import annotations

import signal
from typing import Any

from jobs.failures import DescribedFailures
from shop_app.runtime import Runtime


class DrainWorker(DescribedFailures):
    """RQ's SimpleWorker for one burst drain, without the command channel (pubsub): a drain takes
    no `rq` commands, and stopping RQ's pubsub thread waited up to a second per drain (most of the
    demo's time). The jobs run exactly as in `reclaim worker`."""

    interrupted = False

    def subscribe(self) -> None:
        pass

    def _install_signal_handlers(self) -> None:
        signal.signal(signal.SIGINT, self._note_interrupt)

    def _note_interrupt(self, signum: int, frame: Any) -> None:
        self.interrupted = True
        self._stop_requested = True  # the burst stops after the job in hand


def drain(rt: Runtime) -> None:
    """Run every queued job once (burst); KeyboardInterrupt when Ctrl-C came meanwhile."""
    worker = DrainWorker(list(rt.queue.queues.values()), connection=rt.redis)
    try:
        worker.work(burst=True, logging_level="ERROR")
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if worker.interrupted:
        raise KeyboardInterrupt
