"""RQ's record of a job that raised, without the exception's message.

RQ logs a failed job's full traceback, message included, and stores the same text in Redis (the
failed job registry, the job's failure Result). An exception's message can quote what the job
worked on: a customer's email, a provider's answer. Every RQ worker of Reclaim's (`reclaim
worker`, its `--burst`, the demo's and the tests' drains) mixes DescribedFailures in, so both
say `errors.trace(exc)` instead: where it was raised, and `errors.describe(exc)`.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

from rq import SimpleWorker
from rq.exceptions import DeserializationError
from rq.job import Job
from rq.job_lifecycle import call_exception_handlers

from shop_app.errors import trace

ExcInfo = tuple[type[BaseException] | None, BaseException | None, TracebackType | None]


def described(exc_info: ExcInfo | tuple[Any, ...]) -> str:
    error = exc_info[1] if len(exc_info) > 1 else None
    return trace(error) if isinstance(error, BaseException) else "an exception (not told)"


class DescribedFailures(SimpleWorker):
    """RQ's SimpleWorker whose job-failure log line and stored failure text are `errors.trace`."""

    _failure: tuple[str, str] | None = None  # (job id, its described failure) between the two calls

    def handle_exception(self, job: Job, *exc_info: Any) -> None:
        # RQ's own (rq/worker/base.py) with the described failure: RQ calls it, then
        # handle_job_failure with the formatted traceback, for the same failure.
        text = described(exc_info)
        self._failure = (job.id, text)
        try:
            func_name = job.func_name
        except DeserializationError:
            func_name = "<DeserializationError>"
        self.log.error("Worker %s: job %s: exception raised while executing (%s)\n%s",
                       self.name, job.id, func_name, text, extra={"queue": job.origin, "job_id": job.id})  # fmt: skip
        call_exception_handlers(self._exc_handlers, job, *exc_info)

    def handle_job_failure(self, job: Job, queue: Any, started_job_registry: Any = None, exc_string: str = "",
                           execution: Any = None) -> None:  # fmt: skip
        failure, self._failure = self._failure, None
        if exc_string and failure is not None and failure[0] == job.id:
            exc_string = failure[1]
        elif exc_string:  # a failure RQ formatted without handle_exception: its first line only
            exc_string = exc_string.splitlines()[0][:200]
        super().handle_job_failure(job, queue, started_job_registry, exc_string, execution)
