"""GET /metrics (issue 14, item 5) through the real app: signed webhooks over the real routes,
the ingest and send jobs on a real Redis, then a scrape parsed with Prometheus' own text parser,
whose figures must say what happened."""

from __future__ import annotations

import collections
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from prometheus_client.parser import text_string_to_metric_families
from rq import Worker

import jobs.worker
from jobs.pickup import pick_up
from shop_app import create_app, runtime
from tests.jobs.test_twilio_channel import ONLY_SMS, PHONE

TOKEN = "scrape-me-" + "x" * 24
OTHER_PHONE = "+34600333444"


@pytest.fixture
def scraped(rt):
    """The runtime with RECLAIM_METRICS_TOKEN set (the app reads it per request)."""
    rt.settings = rt.settings.with_overrides(metrics_token=TOKEN)
    return rt


def scrape(client, token: str | None = TOKEN):
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return client.get("/metrics", headers=headers)


def samples(client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """{(sample name, sorted labels): value} of one scrape, read by prometheus_client's parser."""
    response = scrape(client)
    assert response.status_code == 200, response.get_data(as_text=True)
    found = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            found[sample.name, tuple(sorted(sample.labels.items()))] = sample.value
    return found


def value(found, name: str, **labels) -> float | None:
    return found.get((name, tuple(sorted(labels.items()))))


def iso(at: datetime) -> str:
    return at.isoformat(timespec="seconds")


def test_the_scrape_counts_the_webhooks_ingests_and_sends_that_happened(scraped, store):
    now = datetime.now(UTC)
    abandoned = iso(now - timedelta(minutes=90))  # first email due 30 min ago; WhatsApp in 30 min
    first = store.post("checkouts/create", store.checkout("c1", abandoned), webhook_id="w-1")
    store.post("checkouts/create", store.checkout("c1", abandoned), webhook_id="w-1")  # Shopify's retry
    store.post("checkouts/create", store.checkout("c2", abandoned, email="bea@example.com"))
    refused = store.post("checkouts/create", store.checkout("c9", abandoned), secret="not-the-secret")
    assert (first.status_code, refused.status_code) == (200, 401)
    store.drain()
    store.tick(now)  # the two first emails go out
    late = iso(now - timedelta(hours=3))  # ingested, never dispatched: its email is 2 h late
    store.deliver("checkouts/create", store.checkout("c3", late, email="cy@example.com"))
    store.post("checkouts/update", store.checkout("c3", late))  # recorded…
    pick_up(store.rt)  # …and given its ingest job by the dispatcher's pass (jobs/pickup.py), which waits

    found = samples(store.client)
    webhooks = "reclaim_webhooks_total"
    assert value(found, webhooks, topic="checkouts/create", outcome="accepted") == 3
    assert value(found, webhooks, topic="checkouts/create", outcome="duplicate") == 1
    assert value(found, webhooks, topic="checkouts/create", outcome="unauthorized") == 1
    assert value(found, webhooks, topic="checkouts/update", outcome="accepted") == 1
    latency = "reclaim_http_request_duration_seconds_count"
    assert value(found, latency, endpoint="webhooks.checkouts_create") == 5
    deliveries = "reclaim_webhook_deliveries"
    assert value(found, deliveries, topic="checkouts/create", status="processed") == 3
    assert value(found, deliveries, topic="checkouts/update", status="received") == 1

    planned = collections.Counter((m["channel"], m["status"]) for m in store.messages())
    assert planned[("email", "sent")] == 2 and [m["to"] for m in store.outbox()] == ["ana@example.com",
                                                                                    "bea@example.com"]  # fmt: skip
    assert {
        (dict(labels)["channel"], dict(labels)["status"]): count
        for (name, labels), count in found.items()
        if name == "reclaim_messages"
    } == dict(planned)
    assert value(found, "reclaim_queue_jobs", queue="ingest", state="waiting") == 1
    assert value(found, "reclaim_queue_jobs", queue="send", state="waiting") == 0
    due = [m for m in store.messages() if m["status"] == "scheduled" and datetime.fromisoformat(m["due_at"]) <= now]
    assert value(found, "reclaim_messages_due") == len(due) >= 1  # c3's email, maybe its WhatsApp (window)
    lateness = value(found, "reclaim_dispatch_lateness_seconds", status="scheduled")
    assert lateness is not None and 7190 < lateness < 7300, lateness
    assert value(found, "reclaim_dispatch_lateness_seconds", status="queued") == 0
    assert value(found, "reclaim_source_up", source="database") == 1
    assert value(found, "reclaim_source_up", source="redis") == 1
    assert value(found, "reclaim_workers") == 0 and value(found, "reclaim_worker_heartbeat_age_seconds") is None


def test_worker_heartbeats_and_the_last_passes_are_scraped(scraped, client):
    worker = Worker([scraped.queue.queues["send"]], connection=scraped.redis)
    worker.register_birth()  # as `reclaim worker` does when it starts; its first heartbeat
    try:
        jobs.worker.dispatch_pass()  # the scheduler's passes, recording their end in Redis
        jobs.worker.reconcile_pass()
        found = samples(client)
        health = client.get("/healthz").get_json()
    finally:
        worker.register_death()
    assert value(found, "reclaim_workers") == 1
    for age in (
        value(found, "reclaim_worker_heartbeat_age_seconds"),
        value(found, "reclaim_last_pass_age_seconds", **{"pass": "dispatch"}),
        value(found, "reclaim_last_pass_age_seconds", **{"pass": "reconcile"}),
    ):
        assert age is not None and 0 <= age < 5
    assert health["workers"]["registered"] == 1 and 0 <= health["workers"]["newest_heartbeat_age_seconds"] < 5
    assert 0 <= health["passes"]["dispatch"]["age_seconds"] < 5 and health["stale"] == []


def test_without_a_configured_token_metrics_does_not_exist(client):
    for token in (None, TOKEN, ""):
        response = scrape(client, token)
        assert response.status_code == 404, token
        assert b"reclaim_" not in response.get_data()


@pytest.mark.parametrize("header", [None, "Bearer wrong-token-of-some-length", f"Basic {TOKEN}", "Bearer", TOKEN])
def test_a_missing_or_wrong_token_is_refused_without_saying_more(scraped, client, header):
    response = client.get("/metrics", headers={"Authorization": header} if header else {})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="reclaim-metrics"'
    body = response.get_data(as_text=True)
    assert TOKEN not in body and "reclaim_" not in body.replace("RECLAIM_METRICS_TOKEN", "")


@pytest.mark.parametrize("down", ["redis", "database"])
def test_a_scrape_with_a_source_down_still_answers_and_says_which(scraped, closed_port, down):
    gone = {
        "redis": {"redis_url": f"redis://127.0.0.1:{closed_port}/0"},
        "database": {"database_url": f"postgresql+psycopg://reclaim@127.0.0.1:{closed_port}/reclaim"},
    }[down]
    web = runtime.Runtime.build(scraped.settings.with_overrides(**gone), web=True)
    try:
        found = samples(create_app(runtime=web).test_client())
    finally:
        web.close()
        runtime.install(scraped)
    up = {"redis": value(found, "reclaim_source_up", source="redis"),
          "database": value(found, "reclaim_source_up", source="database")}  # fmt: skip
    assert up == {"redis": 1, "database": 1, down: 0}
    shown = {name for name, _ in found}
    from_redis = {"reclaim_queue_jobs", "reclaim_workers"}
    from_database = {"reclaim_messages_due", "reclaim_dispatch_lateness_seconds"}
    assert shown & (from_redis if down == "redis" else from_database) == set()
    assert shown >= (from_database if down == "redis" else from_redis)


def test_provider_errors_are_counted_by_channel_and_kind(twilio_store, twilio_api):
    """Twilio refuses one number for good (21614, not a mobile) and fails the other with a 503,
    retried later: a rejected and a retrying SMS, told apart by the reasons the send job records."""
    store = twilio_store
    store.rt.settings = store.rt.settings.with_overrides(metrics_token=TOKEN)
    store.set_settings(ONLY_SMS)
    madrid = datetime.now(ZoneInfo("Europe/Madrid"))
    noon = madrid.replace(hour=12, minute=0, second=0, microsecond=0)
    noon -= timedelta(days=1) if noon > madrid else timedelta(0)  # the last noon, within the 24 h window
    noon = noon.astimezone(UTC)  # 16 h before it in real time: a DST night makes Madrid's wall clock 15 or 17 h
    abandoned = iso(noon - timedelta(hours=16))  # Prime's SMS falls due at noon, inside the window
    twilio_api.fail_for(PHONE, 21614)
    twilio_api.fail_for(OTHER_PHONE, 20503, status=503)
    store.deliver("checkouts/create", store.checkout("c1", abandoned))
    store.deliver("checkouts/create", store.checkout("c2", abandoned, phone=OTHER_PHONE, email="bea@example.com"))
    store.tick(noon)

    sms = store.messages(channel="sms")
    assert sorted((m["status"], m["reason"][:17]) for m in sms) == [
        ("failed", "failed: Twilio 21"),
        ("scheduled", "transient failure"),
    ], sms
    found = samples(store.client)
    assert value(found, "reclaim_provider_errors", channel="sms", kind="rejected") == 1
    assert value(found, "reclaim_provider_errors", channel="sms", kind="retrying") == 1
    assert value(found, "reclaim_messages", channel="sms", status="failed") == 1
    assert not [key for key in found if key[0] == "reclaim_provider_errors" and dict(key[1])["channel"] != "sms"]
