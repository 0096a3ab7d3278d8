"""What `reclaim` says about its configuration and its servers: a refused environment, production
without its variables, an unreachable PostgreSQL or Redis (one line naming the host, never the
password, no traceback, exit 1), and `db upgrade` on a fresh folder (what it applied)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from click.testing import CliRunner
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy.exc import OperationalError

from shop_app import runtime
from shop_app.cli.commands import main
from shop_app.storage.database import alembic_config

PASSWORD = "hunter2-do-not-print"
DOWN_DATABASE = f"postgresql+psycopg://root:{PASSWORD}@127.0.0.1:1/x"
DOWN_REDIS = f"redis://:{PASSWORD}@127.0.0.1:1/0"
DOMAIN = "acme.myshopify.com"
#: Everything the settings read, so nothing leaks in from the test session's environment.
UNSET = ("SHOPIFY_API_KEY", "SHOPIFY_API_SECRET", "RECLAIM_SECRET_KEY", "SHOPIFY_APP_URL", "RECLAIM_OUTBOX_FILE")


@pytest.fixture(autouse=True)
def no_installed_runtime():
    """Each command builds its runtime from the environment it is given, as a fresh process would."""
    runtime.reset()
    yield
    runtime.reset()


@pytest.fixture
def reclaim(tmp_path):
    """Run `reclaim ARGS` in-process with a development environment over a fresh SQLite file,
    `changes` on top. An exception other than click's own fails the test: no traceback."""

    def invoke(*args: str, **changes: str | None):
        env: dict[str, str | None] = {
            "RECLAIM_ENV": "development",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'reclaim.db'}",
            "REDIS_URL": DOWN_REDIS,
            "RECLAIM_INSTANCE_DIR": str(tmp_path / "instance"),
            **dict.fromkeys(UNSET),
            **changes,
        }
        return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)

    return invoke


def head() -> str:
    revision = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert revision is not None
    return revision


COMMANDS = [
    ("db", "upgrade"),
    ("tick",),
    ("messages",),
    ("report", "--shop", DOMAIN),
    ("status",),
    ("retry", "1"),
    ("replan", "c1"),
    ("privacy", "exports", DOMAIN),
]
EVERY_COMMAND = [
    *COMMANDS,
    ("serve",),
    ("worker",),
    ("demo",),
    ("settings", "show", DOMAIN),
    ("shop", "install", DOMAIN, "--token", "shpat_x"),
]


@pytest.mark.parametrize("name", ["prod", "staging", "Production"])
@pytest.mark.parametrize("command", EVERY_COMMAND, ids=" ".join)
def test_an_unknown_environment_is_refused_in_one_line(reclaim, command, name):
    result = reclaim(*command, RECLAIM_ENV=name)
    assert result.exit_code == 1
    assert result.output == f"Error: RECLAIM_ENV must be one of development, test, production, not {name!r}\n"


def test_test_runs_with_the_development_defaults(reclaim, tmp_path):
    result = reclaim("db", "upgrade", RECLAIM_ENV="test", DATABASE_URL=None, REDIS_URL=None)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "instance" / "reclaim.db").exists()


def test_production_lists_every_missing_variable_at_once(reclaim):
    result = reclaim("db", "upgrade", RECLAIM_ENV="production", DATABASE_URL=None, REDIS_URL=None)
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "Error: invalid configuration:",
        "  - SHOPIFY_API_KEY is required in production",
        "  - SHOPIFY_API_SECRET is required in production",
        "  - RECLAIM_SECRET_KEY is required in production",
        "  - DATABASE_URL is required in production (the embedded SQLite is for development)",
        "  - REDIS_URL is required in production (the embedded Redis is for development)",
        "  - SHOPIFY_APP_URL is required in production (the app's public https:// URL)",
    ]


def test_production_refuses_an_http_app_url(reclaim):
    secrets = {"SHOPIFY_API_KEY": "key", "SHOPIFY_API_SECRET": "secret", "RECLAIM_SECRET_KEY": "s" * 32}
    result = reclaim("tick", RECLAIM_ENV="production", SHOPIFY_APP_URL="http://reclaim.example.com", **secrets)
    assert result.exit_code == 1
    assert result.output.splitlines()[1:] == ["  - SHOPIFY_APP_URL must be an https:// URL in production"]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_an_unreachable_database_is_one_line_with_its_host(reclaim, command):
    result = reclaim(*command, DATABASE_URL=DOWN_DATABASE)
    assert result.exit_code == 1
    assert result.output == "Error: database unavailable at 127.0.0.1:1/x: Connection refused\n"


@pytest.mark.parametrize("command", [("tick",), ("status",)], ids=" ".join)
def test_an_unreachable_redis_stops_tick_and_status_in_one_line(reclaim, command):
    reclaim("db", "upgrade")
    result = reclaim(*command)
    assert result.exit_code == 1
    assert result.output == "Error: Redis unavailable at 127.0.0.1:1/0: Connection refused\n"


def test_commands_that_need_no_redis_run_without_it(reclaim, admin_api):
    assert reclaim("db", "upgrade").exit_code == 0
    admin_api.reset()
    token = admin_api.issue_token(DOMAIN)  # the install tries it on the (development) Admin API
    installed = reclaim("shop", "install", DOMAIN, "--token", token, SHOPIFY_ADMIN_BASE_URL=admin_api.admin_base_url)
    assert installed.exit_code == 0, installed.output
    listed = reclaim("messages")
    assert listed.exit_code == 0 and listed.output == "no messages yet\n"
    reported = reclaim("report", "--shop", DOMAIN, "--now", "2026-03-10T12:00:00Z")
    assert reported.exit_code == 0, reported.output


def test_a_server_lost_during_a_command_is_one_line_too(reclaim, monkeypatch, tmp_path):
    """The group's own catch: a failure after the start-up checks (here: raised by the work itself)."""
    import jobs.dispatch
    import shop_app.recovery.activity

    def lost_redis(now_iso=None):
        raise RedisConnectionError("Error 104 while writing to socket. Connection reset by peer.")

    def lost_database(session, shop_domain, **filters):
        raise OperationalError("SELECT 1", {}, Exception("server closed the connection unexpectedly"))

    monkeypatch.setattr(jobs.dispatch, "tick", lost_redis)
    monkeypatch.setattr(shop_app.recovery.activity, "message_rows", lost_database)
    ticked = reclaim("tick", REDIS_URL=None)  # the embedded Redis answers the start-up ping
    assert ticked.exit_code == 1
    assert ticked.output.startswith("Error: Redis unavailable at the embedded Redis (")
    assert ticked.output.endswith("redis.db): Connection reset by peer\n")
    listed = reclaim("messages")
    assert listed.exit_code == 1
    where = tmp_path / "reclaim.db"
    assert listed.output == f"Error: database unavailable at {where}: server closed the connection unexpectedly\n"


def test_db_upgrade_creates_the_instance_folder_and_says_what_it_applied(reclaim, tmp_path):
    instance = tmp_path / "not" / "there" / "yet"
    newest = head()
    first = reclaim("db", "upgrade", DATABASE_URL=None, RECLAIM_INSTANCE_DIR=str(instance))
    assert first.exit_code == 0, first.output
    assert first.output == f"applied 0001 … {newest} ({int(newest)} migrations); the database is at {newest}\n"
    assert (instance / "reclaim.db").is_file()
    again = reclaim("db", "upgrade", DATABASE_URL=None, RECLAIM_INSTANCE_DIR=str(instance))
    assert again.exit_code == 0 and again.output == f"already at {newest}; nothing to apply\n"


def test_tick_with_redis_down_exits_1_in_a_real_process(tmp_path):
    """The whole process: stderr is the one line (no traceback, no password), stdout is empty."""
    env = {k: v for k, v in os.environ.items() if k not in UNSET}
    env.update(
        RECLAIM_ENV="development",
        DATABASE_URL=f"sqlite:///{tmp_path / 'reclaim.db'}",
        REDIS_URL=DOWN_REDIS,
        RECLAIM_INSTANCE_DIR=str(tmp_path / "instance"),
    )
    reclaim = [sys.executable, "-m", "shop_app.cli.commands", "tick"]
    done = subprocess.run(reclaim, env=env, capture_output=True, text=True, timeout=60, cwd=Path(__file__).parents[2])
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr == "Error: Redis unavailable at 127.0.0.1:1/0: Connection refused\n"


def test_no_message_carries_the_password(reclaim):
    outputs = [reclaim(*command, DATABASE_URL=DOWN_DATABASE).output for command in COMMANDS]
    outputs.append(reclaim("tick").output)
    assert outputs and all(PASSWORD not in output and "root" not in output for output in outputs)


def test_an_instance_folder_that_cannot_be_made_is_one_line(reclaim, tmp_path):
    (tmp_path / "a-file").write_text("")
    instance = tmp_path / "a-file" / "instance"
    expected = f"Error: database unavailable at {instance / 'reclaim.db'}: Not a directory: {instance}\n"
    for command in COMMANDS:
        result = reclaim(*command, DATABASE_URL=None, RECLAIM_INSTANCE_DIR=str(instance))
        assert (result.exit_code, result.output) == (1, expected)


def test_a_redis_that_answers_the_ping_with_an_error_stops_tick_too(reclaim, monkeypatch):
    from redis import Redis
    from redis.exceptions import ResponseError

    def refuses(self, **kwargs):
        raise ResponseError("NOAUTH Authentication required.")

    monkeypatch.setattr(Redis, "ping", refuses)
    result = reclaim("tick", REDIS_URL="redis://cache.internal:6380/3")
    assert (result.exit_code, result.output) == (
        1,
        "Error: Redis unavailable at cache.internal:6380/3: NOAUTH Authentication required\n",
    )
