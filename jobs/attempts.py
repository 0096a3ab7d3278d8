"""Bounded attempts: what a job does when its run breaks, the same for every job.

A run that raises, or that is lost (the worker killed, Redis flushed), counts as one attempt
on its row. The row is tried again after a backoff (`retry_at`), and after MAX_JOB_ATTEMPTS
it is given up with a reason (`rejected` delivery, `failed` message, a shop whose setup
says why), so the reconciler never picks it again. Reasons, logs and job results name the
failure with `errors.describe`: never the exception's text, which may quote personal data.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from shop_app.config import JOB_BACKOFF_SECONDS, MAX_JOB_ATTEMPTS
from shop_app.errors import ReclaimError, describe


class JobFailed(ReclaimError):
    """Raised from a job only when recording its failure failed too (the database is down);
    it replaces the original so RQ keeps no traceback quoting it."""


def retry_at(attempts: int, now: datetime) -> datetime:
    """When the run after the `attempts`-th broken one may start."""
    seconds = JOB_BACKOFF_SECONDS[min(attempts, len(JOB_BACKOFF_SECONDS)) - 1]
    return now + timedelta(seconds=seconds)


def exhausted(attempts: int) -> bool:
    return attempts >= MAX_JOB_ATTEMPTS


def failure_reason(attempts: int, error: BaseException | str, next_run: datetime | None) -> str:
    """The row's reason after its `attempts`-th broken run (`next_run` None: given up)."""
    what = error if isinstance(error, str) else describe(error)
    if next_run is None:
        return f"gave up after {attempts} failed attempts; last: {what}"
    return f"attempt {attempts} of {MAX_JOB_ATTEMPTS} failed ({what}); next at {next_run:%Y-%m-%d %H:%M:%S} UTC"


#: What a lost run (its job vanished from Redis, or the worker died under it) is called.
LOST = "the job was lost or its worker killed"
