"""A send job's run that broke (jobs/send.py, jobs/send_batch.py): the row it still holds is released
for a later attempt, or fails once out of attempts (jobs/attempts.py), and the failure is logged once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from jobs import attempts
from shop_app.domain.models import Status
from shop_app.errors import describe
from shop_app.recovery import gate_facts, outbox, outcomes
from shop_app.recovery.gate_facts import Candidate
from shop_app.runtime import Runtime
from shop_app.storage.database import transaction
from shop_app.storage.tables import Shop


def failed(
    rt: Runtime, message_id: int, job_id: str, now: datetime, error: Exception, candidate: Candidate | None = None
) -> str:
    """A row this job still holds (`queued`) is released to run again after a backoff, or fails
    once out of attempts. A row already claimed (`sending`) is left to the lease: it may have gone.
    `candidate`: what the run had read of the message, if it got that far (for the log line)."""
    status: Status | None = None
    shop, channel = (candidate.shop.domain, candidate.channel.value) if candidate else (None, None)
    try:
        with transaction(rt.sessions) as session:
            message = gate_facts.held(session, message_id, job_id)
            if message is None:
                reason = f"broke after the row moved on: {describe(error)}"
            else:
                failures = message.job_failures + 1
                retry_at = None if attempts.exhausted(failures) else attempts.retry_at(failures, now)
                reason = attempts.failure_reason(failures, error, retry_at)
                outbox.job_failed(session, message_id, job_id, retry_at, reason)
                status = Status.FAILED if retry_at is None else Status.SCHEDULED
                if candidate is None:  # broke before the facts were read: the row names shop and channel
                    shop = session.scalar(select(Shop.domain).where(Shop.id == message.shop_id))
                    channel = message.channel
    except Exception as second:
        raise attempts.JobFailed(f"{describe(error)}; recording it failed too: {describe(second)}") from None
    outcomes.log_event("failure", shop, message_id, job_id, channel, status.value if status else None, reason,
                       "the send job broke")  # fmt: skip
    return reason
