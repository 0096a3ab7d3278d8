"""The webhook request kept cheap (issue 13, item 5) without loosening a rule.

A known shop's webhook is one SQL statement (an autocommit INSERT … ON CONFLICT DO NOTHING
RETURNING) and no Redis round trip: the dispatcher's next pass (jobs/pickup.py) gives the new
deliveries their ingest jobs, all in one round trip; the shop comes from a per-process cache of installed shops
whose staleness is bounded (shop_app/shopify/shop_cache.py). Each "process" here is its own app
(create_app), as each gunicorn worker builds its own; the ingest runs in the real worker.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import redis.client
from sqlalchemy import create_engine, event, func, select, text
from sqlalchemy.pool import NullPool

from jobs.pickup import pick_up
from shop_app import create_app, runtime
from shop_app.shopify.shop_cache import TTL_SECONDS, ShopCache
from shop_app.storage.database import transaction
from shop_app.storage.tables import Shop, WebhookDelivery
from tests.support import ShopifyStore, postgres_only
from webhooks.routes import SHOP_CACHE

T0 = "2026-03-02T19:00:00+01:00"


class Clock:
    """The cache's monotonic clock, moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@contextmanager
def statements(rt) -> Iterator[list[str]]:
    """Every SQL statement the engine sends while inside."""
    sent: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        sent.append(statement.split(None, 1)[0].upper())

    event.listen(rt.engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(rt.engine, "before_cursor_execute", record)


@contextmanager
def redis_round_trips() -> Iterator[list[str]]:
    """Every command or pipeline sent to Redis while inside (a pipeline is one round trip)."""
    trips: list[str] = []
    command, pipeline = redis.client.Redis.execute_command, redis.client.Pipeline.execute

    def one_command(self, *args, **options):
        trips.append(str(args[0]))
        return command(self, *args, **options)

    def one_pipeline(self, *args, **options):
        trips.append("pipeline: " + " ".join(str(c[0][0]) for c in self.command_stack))
        return pipeline(self, *args, **options)

    redis.client.Redis.execute_command = one_command  # type: ignore[method-assign]
    redis.client.Pipeline.execute = one_pipeline  # type: ignore[method-assign]
    try:
        yield trips
    finally:
        redis.client.Redis.execute_command = command  # type: ignore[method-assign]
        redis.client.Pipeline.execute = pipeline  # type: ignore[method-assign]


def process(store: ShopifyStore, clock: Clock | None = None) -> ShopifyStore:
    """Another web process of the same deployment: its own app and shop cache."""
    app = create_app(runtime=store.rt)
    if clock is not None:
        app.extensions[SHOP_CACHE] = ShopCache(clock=clock)
    return ShopifyStore(store.rt, app.test_client(), store.domain, store.admin_api)


@pytest.fixture
def web(store) -> Iterator[ShopifyStore]:
    """The shop seen through a web process as `reclaim serve` builds it: the web tier's engine
    (its timeouts, no pre-ping) and Redis connection, over the same database and queues."""
    built = runtime.Runtime.build(store.rt.settings, web=True)
    try:
        yield ShopifyStore(built, create_app(runtime=built).test_client(), store.domain, store.admin_api)
    finally:
        built.close()
        runtime.install(store.rt)


def delivery_count(rt, domain: str | None = None) -> int:
    with transaction(rt.sessions) as session:
        query = select(func.count()).select_from(WebhookDelivery)
        if domain is not None:
            query = query.join(Shop).where(Shop.domain == domain)
        return session.scalar(query)


def shop_status(rt, domain: str) -> str | None:
    with transaction(rt.sessions) as session:
        return session.scalar(select(Shop.status).where(Shop.domain == domain))


def test_a_known_shops_webhook_is_one_insert_and_no_redis_and_a_pass_picks_them_up_at_once(web):
    store = web
    with statements(store.rt) as first:
        assert store.post("checkouts/update", store.checkout("c0", T0)).get_json()["status"] == "accepted"
    with statements(store.rt) as sql, redis_round_trips() as trips:
        for n in range(1, 4):
            assert store.post("checkouts/update", store.checkout(f"c{n}", T0)).get_json()["status"] == "accepted"
    print(f"first webhook: {first}; then per webhook: {sql[:1]} and Redis {trips[:1]}")
    assert first == ["SELECT", "INSERT"]  # the shop, then the delivery
    assert sql == ["INSERT"] * 3  # the shop from the cache; autocommit: no BEGIN or COMMIT statement
    assert trips == []  # the dispatcher's pass enqueues them
    assert delivery_count(store.rt) == 4
    assert store.rt.queue.queues["ingest"].count == 0

    # The dispatcher's next pass: the four deliveries' jobs, one round trip for them all.
    with statements(store.rt) as sql, redis_round_trips() as trips:
        assert pick_up(store.rt) == 4
    print(f"pick-up of 4 deliveries: {sql} and Redis {trips}")
    assert sql == ["SELECT", "UPDATE"]  # in one transaction; the UPDATE one executemany by id
    without_version = [trip for trip in trips if trip != "INFO"]  # RQ asks the server's version once per process
    assert without_version == ["pipeline: SADD " + " ".join(["HSET HSET RPUSH"] * 4)]
    with transaction(store.rt.sessions) as session:
        job_ids = session.scalars(select(WebhookDelivery.job_id)).all()
    assert len(set(job_ids)) == 4 and set(job_ids) == set(store.rt.queue.queues["ingest"].get_job_ids())
    assert pick_up(store.rt) == 0  # each delivery gets one job
    store.drain()
    with transaction(store.rt.sessions) as session:
        assert set(session.scalars(select(WebhookDelivery.status))) == {"processed"}


def test_a_repeat_is_recorded_once_and_its_job_enqueued_once(store):
    payload = store.checkout("c1", T0)
    answers = [store.post("checkouts/update", payload, webhook_id="same").get_json()["status"] for _ in range(3)]
    assert answers == ["accepted", "duplicate", "duplicate"]
    assert delivery_count(store.rt) == 1
    assert pick_up(store.rt) == 1 and store.rt.queue.queues["ingest"].count == 1


def test_the_process_that_receives_app_uninstalled_drops_the_shop_as_soon_as_it_is_processed(store):
    assert store.post("checkouts/update", store.checkout("c1", T0)).get_json()["status"] == "accepted"  # cached
    store.deliver("app/uninstalled", {"id": 1, "domain": store.domain})
    assert shop_status(store.rt, store.domain) == "uninstalled"
    answer = store.post("checkouts/update", store.checkout("c2", T0))
    assert (answer.status_code, answer.get_json()["status"]) == (200, "ignored")
    assert delivery_count(store.rt) == 2  # the checkout and the uninstall, not the late checkout


def test_another_process_drops_an_uninstalled_shop_within_the_cache_ttl(store):
    clock = Clock()
    other = process(store, clock)
    assert other.post("checkouts/update", other.checkout("c1", T0)).get_json()["status"] == "accepted"  # cached
    store.deliver("app/uninstalled", {"id": 1, "domain": store.domain})  # received and processed elsewhere

    clock.now += TTL_SECONDS - 0.5  # the documented staleness: recorded, nothing lost or broken
    assert other.post("checkouts/update", other.checkout("c2", T0)).get_json()["status"] == "accepted"
    clock.now += 0.5
    answer = other.post("checkouts/update", other.checkout("c3", T0))
    assert (answer.status_code, answer.get_json()["status"]) == (200, "ignored")
    # The compliance topics still reach an uninstalled shop, from any process.
    assert other.post("customers/redact", {"shop_domain": store.domain, "customer": {"id": 1}}).status_code == 200
    assert delivery_count(store.rt) == 4


def test_a_shop_erased_while_another_process_keeps_it_is_dropped_not_a_500(store):
    other = process(store, Clock())  # its clock never moves: the shop stays cached there
    assert other.post("checkouts/update", other.checkout("c1", T0)).get_json()["status"] == "accepted"
    store.deliver("app/uninstalled", {"id": 1, "domain": store.domain})
    store.deliver("shop/redact", {"shop_id": 1, "shop_domain": store.domain})
    assert shop_status(store.rt, store.domain) is None

    answer = other.post("checkouts/update", other.checkout("c2", T0))  # the cached id's row is gone
    assert (answer.status_code, answer.get_json()["status"]) == (200, "ignored")
    assert delivery_count(store.rt) == 0  # everything of the shop went with it


def test_a_shop_installed_a_moment_ago_is_accepted_at_once(rt, client, admin_api):
    newcomer = ShopifyStore(rt, client, "newcomer.myshopify.com")
    assert newcomer.post("checkouts/update", newcomer.checkout("c1", T0)).get_json()["status"] == "ignored"
    ShopifyStore.install(rt, client, newcomer.domain)  # not-installed answers are never cached
    assert newcomer.post("checkouts/update", newcomer.checkout("c2", T0)).get_json()["status"] == "accepted"
    assert delivery_count(rt, newcomer.domain) == 1


def test_a_reinstalled_shop_is_accepted_by_the_process_that_saw_it_leave(store):
    store.deliver("app/uninstalled", {"id": 1, "domain": store.domain})
    assert store.post("checkouts/update", store.checkout("c1", T0)).get_json()["status"] == "ignored"
    ShopifyStore.install(store.rt, store.client, store.domain)
    assert store.post("checkouts/update", store.checkout("c2", T0)).get_json()["status"] == "accepted"


@pytest.mark.parametrize("bad", ["hmac", "json"])
def test_a_cached_shop_keeps_every_check(store, bad):
    assert store.post("checkouts/update", store.checkout("c1", T0)).get_json()["status"] == "accepted"  # cached
    if bad == "hmac":
        answer = store.post("checkouts/update", store.checkout("c2", T0), secret="not-the-secret")
        assert answer.status_code == 401
        assert delivery_count(store.rt) == 1
    else:
        answer = store.post("checkouts/update", None, body=b'{"token": ')
        assert answer.status_code == 400 and "malformed JSON" in answer.get_json()["error"]
        assert delivery_count(store.rt) == 2  # recorded, with its reason


def test_a_connection_the_server_closed_costs_the_webhook_nothing(web):
    store = web
    assert not store.rt.engine.pool._pre_ping  # the web tier's pool: nothing checks a connection before use
    postgres_only(store.rt, "pg_terminate_backend closes the pooled connections under the app")
    assert store.post("checkouts/update", store.checkout("c1", T0)).get_json()["status"] == "accepted"
    outsider = create_engine(store.rt.settings.database_url, poolclass=NullPool)
    with outsider.connect() as admin:  # every pooled connection dies, as in a server restart
        killed = admin.execute(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
            )
        ).scalar()
    outsider.dispose()
    assert killed >= 1
    answer = store.post("checkouts/update", store.checkout("c2", T0))  # no pre-ping: the INSERT finds it dead
    assert (answer.status_code, answer.get_json()["status"]) == (200, "accepted")
    assert delivery_count(store.rt) == 2


def test_a_checkout_delivery_keeps_its_token_for_the_ingests_lock_and_no_other_does(store):
    """The request parses the body anyway: a checkouts/create or checkouts/update delivery records
    its token (WebhookDelivery.subject), so the ingest's first read locks that checkout (issue 13)."""
    for topic, payload in (
        ("checkouts/create", store.checkout("c1", T0)),
        ("checkouts/update", store.checkout("c2", T0)),
        ("checkouts/delete", {"id": 1, "token": "c3"}),
        ("orders/create", store.order("c1", T0, id=9001, token="c4")),
    ):
        assert store.post(topic, payload).get_json()["status"] == "accepted"
    with transaction(store.rt.sessions) as session:
        recorded = set(session.execute(select(WebhookDelivery.topic, WebhookDelivery.subject)))
    assert recorded == {
        ("checkouts/create", "c1"),
        ("checkouts/update", "c2"),
        ("checkouts/delete", None),
        ("orders/create", None),
    }
