"""GET /metrics: Prometheus figures, for a bearer token (RECLAIM_METRICS_TOKEN).

Without the token configured /metrics answers 404, as if it did not exist; a missing or wrong
token is a 401 that says only that a token is needed. Two kinds of figures:

- measured in this web process, by request hooks: Shopify webhooks by topic and outcome
  (`reclaim_webhooks_total`), and every request's latency by Flask endpoint
  (`reclaim_http_request_duration_seconds`). Under gunicorn each worker process counts its
  own; set PROMETHEUS_MULTIPROC_DIR (a writable folder: `reclaim serve` refuses to start
  without one and clears its *.db files before the workers start) to have them summed across
  processes (prometheus_client's multiprocess mode). Counting never fails a request: a
  failure to record is logged (at most once a minute) and the answer goes out unchanged; a
  folder whose files cannot be read shows as `reclaim_source_up{source="processes"} 0`;
- read at scrape time from the database and Redis, since ingests and sends happen in the
  worker processes (`Snapshot`): webhook deliveries and messages by status, provider errors,
  queue depths, dispatch lateness, worker heartbeats and passes. The database figures cover
  the last WINDOW (rows received, or due, since then): each is one grouped count over an index
  whose leading column is the status (ix_webhook_deliveries_status, ix_messages_status_due),
  so a scrape stays cheap (0.3 s measured with 1M messages, 86k in the window). They are gauges:
  they go down as rows age out.
"""

from __future__ import annotations

import hmac
import logging
import os
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from flask import Flask, Response, abort, current_app, g, jsonify, request
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import and_, case, func, select

from shop_app import health
from shop_app.adapters.queue import QUEUE_NAMES
from shop_app.domain.models import Status, WebhookStatus
from shop_app.errors import ConfigurationError, describe
from shop_app.recovery.backlog import backlog
from shop_app.runtime import Runtime
from shop_app.storage.database import transaction
from shop_app.storage.tables import Message, WebhookDelivery
from webhooks import routes

log = logging.getLogger(__name__)
#: app.extensions key of the app's WebMetrics.
EXTENSION = "reclaim.metrics"
#: How far back the database figures reach.
WINDOW = timedelta(hours=24)
#: A Shopify webhook's answer, by status code (a 200's outcome is its body's `status`).
_OUTCOMES = {400: "invalid", 401: "unauthorized", 413: "too_large", 500: "error", 503: "unavailable"}
#: At most one "could not record" warning per process per this many seconds.
FAILURE_LOG_INTERVAL = 60.0
#: Provider errors, told by the reason the send job records (shop_app/recovery/outcomes.py):
#: refused for good; transient failures until the attempts ran out; a transient failure
#: waiting for its retry; the transport broke mid-send (never resent). Job failures
#: ("gave up after …", jobs/attempts.py) are not the provider's and are not counted.
_PROVIDER_ERRORS = (
    ("rejected", Status.FAILED, "failed: %"),
    ("gave_up", Status.FAILED, "failed after %"),
    ("retrying", Status.SCHEDULED, "transient failure (%"),
    ("transport_error", Status.UNKNOWN, "unknown: transport error%"),
)


class WebMetrics:
    """The web process's own figures, in a registry of the app's (each test builds apps)."""

    def __init__(self, topics: dict[str, str]):
        self.registry = CollectorRegistry()
        self.topics = topics  # Flask endpoint → Shopify topic
        self.webhooks = Counter(
            "reclaim_webhooks", "Shopify webhooks answered by the web process(es), by topic and outcome",
            ["topic", "outcome"], registry=self.registry,
        )  # fmt: skip
        self.latency = Histogram(
            "reclaim_http_request_duration_seconds", "Time to answer a request, by Flask endpoint",
            ["endpoint"], registry=self.registry,
        )  # fmt: skip
        self.failure_logged_at: float | None = None

    def started(self) -> None:
        g.reclaim_started = time.perf_counter()

    def answered(self, response: Response) -> Response:
        """Count the request; never fails it (a webhook answered is answered, counted or not)."""
        try:
            self._count(response)
        except Exception as exc:  # e.g. PROMETHEUS_MULTIPROC_DIR removed under a running server
            now = time.monotonic()
            if self.failure_logged_at is None or now - self.failure_logged_at >= FAILURE_LOG_INTERVAL:
                self.failure_logged_at = now
                log.warning("metrics: could not record a request (%s); answers go out uncounted "
                            "(logged at most once a minute)", describe(exc))  # fmt: skip
        return response

    def _count(self, response: Response) -> None:
        started = g.pop("reclaim_started", None)
        endpoint = request.endpoint or "unmatched"  # a 404: one label for every unknown path
        if started is not None:
            self.latency.labels(endpoint).observe(time.perf_counter() - started)
        topic = self.topics.get(endpoint)
        if topic is not None:
            self.webhooks.labels(topic, _outcome(response)).inc()


def _outcome(response: Response) -> str:
    if response.status_code == 200:
        body = response.get_json(silent=True)
        status = body.get("status") if isinstance(body, dict) else None
        return status if status in ("accepted", "duplicate", "ignored") else "ok"
    return _OUTCOMES.get(response.status_code, f"http_{response.status_code}")


def _gauge(name: str, documentation: str, labels: list[str] | None = None) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, labels=labels)


class Snapshot(Collector):
    """The cross-process figures, read when Prometheus scrapes. A source that fails is
    reported as `reclaim_source_up{source} 0` and its figures are left out; the scrape goes on."""

    def __init__(self, runtime: Runtime, processes: str | None = None):
        self.runtime = runtime
        self.processes = processes  # PROMETHEUS_MULTIPROC_DIR: every web process's figures, summed

    def describe(self) -> Iterator[Metric]:
        yield from self._families().values()

    def collect(self) -> Iterator[Metric]:
        families, now = self._families(), datetime.now(UTC)
        if self.processes is not None:
            try:  # a folder gone, or a truncated/corrupt *.db file, must not fail the scrape
                yield from list(MultiProcessCollector(None, path=self.processes).collect())
                up = 1.0
            except Exception as exc:
                log.warning("/metrics could not read the web processes' figures: %s", describe(exc))
                up = 0.0
            families["reclaim_source_up"].add_metric(["processes"], up)
        for source, read in (("database", self._database), ("redis", self._redis)):
            try:
                read(families, now)
                up = 1.0
            except Exception as exc:  # a scrape reports a failed source, it never breaks
                log.warning("/metrics could not read the %s: %s", source, describe(exc))
                up = 0.0
            families["reclaim_source_up"].add_metric([source], up)
        yield from families.values()

    @staticmethod
    def _families() -> dict[str, GaugeMetricFamily]:
        window = f"{WINDOW.total_seconds() / 3600:g} h"
        return {family.name: family for family in (
            _gauge("reclaim_source_up", "Whether this scrape could read the database / Redis / the web "
                   "processes' figures (PROMETHEUS_MULTIPROC_DIR)", ["source"]),
            _gauge("reclaim_webhook_deliveries", f"Recorded Shopify webhook deliveries received in the last "
                   f"{window}, by topic and ingest status", ["topic", "status"]),
            _gauge("reclaim_messages", f"Messages due from {window} ago on (or later), by channel and status",
                   ["channel", "status"]),
            _gauge("reclaim_provider_errors", f"Messages due from {window} ago on that a provider refused "
                   "(rejected), failed until the attempts ran out (gave_up), failed and wait to retry "
                   "(retrying), or broke mid-send (transport_error), by channel", ["channel", "kind"]),
            _gauge("reclaim_messages_due", "Scheduled messages due now and not yet handed to a send job"),
            _gauge("reclaim_messages_overdue", "Of those, due more than a minute ago"),
            _gauge("reclaim_dispatch_lateness_seconds", "How long past its due time the oldest due scheduled "
                   "(not yet dispatched) or queued (not yet sent) message is; 0 when none", ["status"]),
            _gauge("reclaim_queue_jobs", "RQ jobs per queue: waiting, running, failed", ["queue", "state"]),
            _gauge("reclaim_workers", "RQ workers registered"),
            _gauge("reclaim_workers_unreadable", "RQ worker records in Redis that RQ could not parse "
                   "(another RQ version's?); not counted in reclaim_workers"),
            _gauge("reclaim_worker_heartbeat_age_seconds", "Age of the newest RQ worker heartbeat (absent: none)"),
            _gauge("reclaim_last_pass_age_seconds", "Since the scheduler last finished each periodic pass "
                   "(absent: none recorded)", ["pass"]),
        )}  # fmt: skip

    def _database(self, families: dict[str, GaugeMetricFamily], now: datetime) -> None:
        """Every statement runs before a sample is added: a source that fails adds none."""
        since = now - WINDOW
        with transaction(self.runtime.sessions) as session:
            deliveries = [tuple(row) for row in session.execute(_deliveries_query(since))]
            messages = [tuple(row) for row in session.execute(_messages_query(since))]
            found = backlog(session, now)
            oldest_queued = session.scalar(
                select(func.min(Message.due_at)).where(Message.status == Status.QUEUED.value)
            )
        for topic, status, count in deliveries:
            families["reclaim_webhook_deliveries"].add_metric([topic, status], count)
        for (channel, status), count in _sums(messages, lambda row: (row[0], row[1])):
            families["reclaim_messages"].add_metric([channel, status], count)
        for (channel, kind), count in _sums(messages, lambda row: (row[0], row[2]) if row[2] else None):
            families["reclaim_provider_errors"].add_metric([channel, kind], count)
        families["reclaim_messages_due"].add_metric([], found.due)
        families["reclaim_messages_overdue"].add_metric([], found.overdue)
        lateness = families["reclaim_dispatch_lateness_seconds"]
        for status, oldest in (("scheduled", found.oldest_due_at), ("queued", oldest_queued)):
            lateness.add_metric([status], max(0.0, (now - oldest).total_seconds()) if oldest else 0.0)

    def _redis(self, families: dict[str, GaugeMetricFamily], now: datetime) -> None:
        jobs = [
            (name, state, count)
            for name, queue in ((name, self.runtime.queue.queues[name]) for name in QUEUE_NAMES)
            for state, count in (("waiting", queue.count), ("running", queue.started_job_registry.count),
                                 ("failed", queue.failed_job_registry.count))
        ]  # fmt: skip
        alive = health.liveness(self.runtime.redis)
        for name, state, count in jobs:
            families["reclaim_queue_jobs"].add_metric([name, state], count)
        families["reclaim_workers"].add_metric([], alive.workers)
        families["reclaim_workers_unreadable"].add_metric([], len(alive.unreadable))
        if (age := alive.heartbeat_age()) is not None:
            families["reclaim_worker_heartbeat_age_seconds"].add_metric([], age)
        for name, pass_age in alive.pass_ages().items():
            if pass_age is not None:
                families["reclaim_last_pass_age_seconds"].add_metric([name], pass_age)


def _deliveries_query(since: datetime) -> Any:
    statuses = [status.value for status in WebhookStatus]
    return (
        select(WebhookDelivery.topic, WebhookDelivery.status, func.count())
        .where(WebhookDelivery.status.in_(statuses), WebhookDelivery.received_at >= since)
        .group_by(WebhookDelivery.topic, WebhookDelivery.status)
    )


def _messages_query(since: datetime) -> Any:
    """Messages by channel, status and provider error kind ('' when none), due since `since`."""
    kind = case(
        *((and_(Message.status == status.value, Message.reason.like(pattern)), name)
          for name, status, pattern in _PROVIDER_ERRORS),
        else_="",
    ).label("kind")  # fmt: skip
    statuses = [status.value for status in Status]
    return (
        select(Message.channel, Message.status, kind, func.count())
        .where(Message.status.in_(statuses), Message.due_at >= since)
        .group_by(Message.channel, Message.status, kind)
    )


_Key = Callable[[tuple[Any, ...]], tuple[str, str] | None]


def _sums(rows: Sequence[tuple[Any, ...]], key: _Key) -> list[tuple[tuple[str, str], int]]:
    """The rows' counts (their last column) summed by `key`; rows whose key is None left out."""
    sums: dict[tuple[str, str], int] = {}
    for row in rows:
        if (found := key(row)) is not None:
            sums[found] = sums.get(found, 0) + row[-1]
    return sorted(sums.items())


def scrape() -> tuple[Response, int] | Response:
    runtime: Runtime = current_app.extensions["reclaim"]
    expected = runtime.settings.metrics_token
    if expected is None:
        abort(404)
    given = request.headers.get("Authorization", "")
    scheme, _, token = given.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), expected.encode()):
        answer = jsonify(error="a bearer token is required (Authorization: Bearer <RECLAIM_METRICS_TOKEN>)")
        answer.headers["WWW-Authenticate"] = 'Bearer realm="reclaim-metrics"'
        return answer, 401
    web: WebMetrics = current_app.extensions[EXTENSION]
    registry = web.registry
    if folder := os.environ.get("PROMETHEUS_MULTIPROC_DIR"):  # every web process's counts, summed
        registry = CollectorRegistry()
        registry.register(Snapshot(runtime, processes=folder))
    encode, content_type = choose_encoder(request.headers.get("Accept", ""))
    return Response(encode(registry), content_type=content_type)


def prepare_processes_folder(folder: str) -> int:
    """Check PROMETHEUS_MULTIPROC_DIR is a writable folder and remove the figures a previous run
    left in it (prometheus_client's *.db files only; anything else stays). ConfigurationError
    (one line) when it is not usable. Returns how many files were removed."""
    path = Path(folder)
    if not path.is_dir():
        raise ConfigurationError(f"PROMETHEUS_MULTIPROC_DIR={folder} is not a folder (create it, or unset it)")
    if not os.access(path, os.W_OK | os.X_OK):
        raise ConfigurationError(f"PROMETHEUS_MULTIPROC_DIR={folder} is not writable by this user")
    stale = sorted(path.glob("*.db"))
    for file in stale:
        file.unlink(missing_ok=True)
    return len(stale)


def init_app(app: Flask, runtime: Runtime) -> None:
    """Time every request, count Shopify's webhooks, serve /metrics."""
    web = WebMetrics({f"{routes.bp.name}.{topic.replace('/', '_')}": topic for topic in routes.TOPICS})
    web.registry.register(Snapshot(runtime))
    app.extensions[EXTENSION] = web
    app.before_request(web.started)
    app.after_request(web.answered)
    app.add_url_rule("/metrics", "metrics", scrape, methods=["GET"])
