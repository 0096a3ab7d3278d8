"""The periodic passes record when they last finished, in one small Redis key each, for `reclaim
status` (issue 14, item 4). The scheduler enqueues the recording wrappers; a pass that fails is
not recorded, so the time stays that of the last pass that finished."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from jobs import worker
from jobs.attempts import JobFailed


def test_each_pass_records_when_it_finished(rt):
    assert worker.last_passes(rt.redis) == {"dispatch": None, "reconcile": None}
    before = datetime.now(UTC)
    assert worker.dispatch_pass().startswith("dispatched 0")
    passes = worker.last_passes(rt.redis)
    assert passes["reconcile"] is None
    assert passes["dispatch"] is not None and before <= passes["dispatch"] <= datetime.now(UTC)
    worker.reconcile_pass()
    assert worker.last_passes(rt.redis)["reconcile"] >= passes["dispatch"]


def test_a_failed_pass_keeps_the_last_finished_time(rt, monkeypatch):
    worker.dispatch_pass()
    finished = worker.last_passes(rt.redis)["dispatch"]

    def broken() -> str:
        raise JobFailed("OperationalError")

    monkeypatch.setattr(worker, "dispatch_job", broken)
    with pytest.raises(JobFailed):
        worker.dispatch_pass()
    assert worker.last_passes(rt.redis)["dispatch"] == finished


def test_the_scheduler_enqueues_the_recording_passes(rt):
    assert [job for _, job, _ in worker.PASSES] == ["jobs.worker.dispatch_pass", "jobs.worker.reconcile_pass"]
