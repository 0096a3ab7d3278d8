"""A job that raises, run by Reclaim's real RQ workers (`reclaim worker`'s and its `--burst`'s)
with JSON logs at debug: RQ's failure line says where it was raised and the exception's class
(errors.trace), never its message, which may quote a customer; the failure RQ keeps in Redis
(failed job registry, the job's Result) likewise."""

from __future__ import annotations

import pytest
from rq.job import Job

import jobs.worker
from shop_app.adapters.queue import INGEST

EMAIL = "leaky.customer@example.com"


def leaky_job() -> None:
    raise ValueError(f"no profile for {EMAIL}")  # an exception quoting the customer


def run_burst(rt) -> None:
    jobs.worker.run(burst=True)


def run_stoppable(rt) -> None:
    jobs.worker.StoppableWorker([rt.queue.queues[INGEST]], connection=rt.redis).work(burst=True)


@pytest.mark.parametrize("work", [run_burst, run_stoppable], ids=["reclaim worker --burst", "reclaim worker"])
def test_a_failed_jobs_lines_and_stored_failure_hold_no_exception_message(rt, json_log, work):
    json_log.configure(RECLAIM_LOG_LEVEL="debug")
    job = rt.queue.queues[INGEST].enqueue(leaky_job, job_id="leaky-1")
    work(rt)

    assert Job.fetch(job.id, connection=rt.redis).get_status() == "failed"
    failure_lines = [line for line in json_log.lines() if "exception raised while executing" in line["message"]]
    assert len(failure_lines) == 1 and failure_lines[0]["logger"] == "rq.worker"
    assert "leaky_job" in failure_lines[0]["message"] and failure_lines[0]["message"].endswith("ValueError")
    assert EMAIL not in json_log.text()
    stored = Job.fetch(job.id, connection=rt.redis).latest_result()
    assert stored is not None and stored.exc_string is not None
    assert stored.exc_string.endswith("ValueError") and EMAIL not in stored.exc_string
