"""Settings from the environment: development defaults, and a clear refusal in production."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, inspect

from shop_app.cli.commands import main
from shop_app.config import Settings
from shop_app.errors import ConfigurationError


def test_development_defaults_use_embedded_storage(tmp_path):
    settings = Settings.from_env({"RECLAIM_INSTANCE_DIR": str(tmp_path)})
    assert settings.database_url == f"sqlite:///{tmp_path / 'reclaim.db'}"
    assert settings.redis_url is None
    assert settings.shopify_api_version == "2026-07"
    assert settings.shopify_admin_base_url == "https://{shop}"


def test_postgres_urls_use_psycopg_3():
    settings = Settings.from_env({"DATABASE_URL": "postgres://u@db/reclaim"})
    assert settings.database_url == "postgresql+psycopg://u@db/reclaim"


def test_production_refuses_to_start_without_secrets_and_lists_every_problem():
    with pytest.raises(ConfigurationError) as refused:
        Settings.from_env({"RECLAIM_ENV": "production", "SHOPIFY_ADMIN_BASE_URL": "https://example.com"})
    message = str(refused.value)
    for problem in ("SHOPIFY_API_KEY", "SHOPIFY_API_SECRET", "RECLAIM_SECRET_KEY", "REDIS_URL", "{shop}"):
        assert problem in message


def test_a_bad_url_is_refused():
    with pytest.raises(ConfigurationError, match="DATABASE_URL"):
        Settings.from_env({"DATABASE_URL": "mysql://x"})


def test_db_upgrade_creates_the_schema(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    result = CliRunner().invoke(main, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    engine = create_engine(url)
    tables = set(inspect(engine).get_table_names())
    engine.dispose()
    assert {
        "shops",
        "shop_settings",
        "profiles",
        "checkouts",
        "orders",
        "journeys",
        "messages",
        "discounts",
        "webhook_deliveries",
        "suppressions",
        "alembic_version",
    } <= tables
