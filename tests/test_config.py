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


PRODUCTION = {
    "RECLAIM_ENV": "production",
    "DATABASE_URL": "postgresql://reclaim@db.internal/reclaim",
    "REDIS_URL": "redis://cache.internal:6379/0",
    "SHOPIFY_API_KEY": "key",
    "SHOPIFY_API_SECRET": "secret",
    "RECLAIM_SECRET_KEY": "a-production-secret-key",
    "SHOPIFY_APP_URL": "https://reclaim.example.com",
}


@pytest.mark.parametrize("name", ["prod", "Production", "staging", "dev", " production"])
def test_an_unknown_environment_is_refused_in_one_line(name):
    with pytest.raises(ConfigurationError) as refused:
        Settings.from_env({"RECLAIM_ENV": name})
    assert str(refused.value) == f"RECLAIM_ENV must be one of development, test, production, not {name!r}"


@pytest.mark.parametrize("name", ["development", "test"])
def test_development_and_test_keep_the_development_defaults(name, tmp_path):
    settings = Settings.from_env({"RECLAIM_ENV": name, "RECLAIM_INSTANCE_DIR": str(tmp_path)})
    assert settings.dev_mode
    assert settings.database_url.startswith("sqlite:///") and settings.redis_url is None
    assert settings.shopify_app_url == "http://localhost:8080"


def test_production_starts_with_everything_given():
    settings = Settings.from_env(PRODUCTION)
    assert not settings.dev_mode
    assert settings.database_url == "postgresql+psycopg://reclaim@db.internal/reclaim"


def test_production_has_no_fallback_and_lists_every_missing_variable_at_once():
    with pytest.raises(ConfigurationError) as refused:
        Settings.from_env({"RECLAIM_ENV": "production"})
    problems = str(refused.value).splitlines()[1:]
    assert [p.strip("- ").split()[0] for p in problems] == [
        "SHOPIFY_API_KEY",
        "SHOPIFY_API_SECRET",
        "RECLAIM_SECRET_KEY",
        "DATABASE_URL",
        "REDIS_URL",
        "SHOPIFY_APP_URL",
    ]
    assert all("required in production" in p for p in problems)


@pytest.mark.parametrize("url", ["http://reclaim.example.com", "reclaim.example.com"])
def test_production_wants_an_https_app_url(url):
    with pytest.raises(ConfigurationError, match=r"SHOPIFY_APP_URL must be an https:// URL in production"):
        Settings.from_env({**PRODUCTION, "SHOPIFY_APP_URL": url})
    assert Settings.from_env({"SHOPIFY_APP_URL": "http://localhost:9000"}).shopify_app_url == "http://localhost:9000"


def test_production_may_name_an_sqlite_file_explicitly(tmp_path):
    url = f"sqlite:///{tmp_path / 'one-box.db'}"
    assert Settings.from_env({**PRODUCTION, "DATABASE_URL": url}).database_url == url
