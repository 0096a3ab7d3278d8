"""A worker record in Redis that RQ cannot parse (another RQ version's, in a rolling deploy) is
Redis answering: /healthz stays 200 and names the record under workers.unreadable, /metrics
keeps its Redis figures and counts it, `reclaim status` names it in its problems line, no
traceback anywhere. A real worker's record beside it is still read and counted."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from rq import Worker

from shop_app.cli.commands import main
from tests.operations.test_metrics import TOKEN, samples, value

SKEWED = "review-skew"


@pytest.fixture
def skewed_worker(rt):
    """One record RQ cannot read, and one real (registered, beating) worker's."""
    rt.redis.sadd("rq:workers", f"rq:worker:{SKEWED}")
    rt.redis.hset(f"rq:worker:{SKEWED}", mapping={"last_heartbeat": "not-a-date", "queues": "ingest"})
    real = Worker(list(rt.queue.queues.values()), connection=rt.redis, name="real-one")
    real.register_birth()
    real.heartbeat()
    yield real
    real.register_death()


def test_healthz_is_200_and_names_the_unreadable_record(rt, client, skewed_worker):
    health = client.get("/healthz")
    body = health.get_json()
    assert health.status_code == 200, body
    assert body["ok"] is True and body["problems"] == {}
    assert body["workers"]["registered"] == 1 and body["workers"]["unreadable"] == [SKEWED]
    assert "workers" not in body["stale"]  # the real worker beats


def test_metrics_keeps_the_redis_figures_and_counts_the_record(rt, client, skewed_worker):
    rt.settings = rt.settings.with_overrides(metrics_token=TOKEN)
    found = samples(client)
    assert value(found, "reclaim_source_up", source="redis") == 1
    assert value(found, "reclaim_workers") == 1
    assert value(found, "reclaim_workers_unreadable") == 1


def test_reclaim_status_names_the_record_in_its_problems(rt, skewed_worker):
    result = CliRunner().invoke(main, ["status"], prog_name="reclaim", catch_exceptions=False)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    problems = result.output[result.output.index("problems") :]
    assert f"worker records RQ could not read (another RQ version's?): {SKEWED}" in problems
    assert "real-one" in result.output  # the readable worker is still listed
