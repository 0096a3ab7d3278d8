"""An unreachable database or Redis, told by every `reclaim` command in one line.

The line names where the command tried to go (host, port and database; a file's path for
SQLite and the embedded Redis) and the driver's own reason, but never the URL itself: it may
carry a password. No traceback. Exit status 1 (click's ClickException).
"""

from __future__ import annotations

import re
from typing import Any

import click
from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError

from shop_app.config import Settings
from shop_app.errors import ConfigurationError
from shop_app.storage.database import make_engine

#: What a lost or refused Redis connection raises (redis-py's own ConnectionError and TimeoutError).
REDIS_DOWN = (RedisConnectionError, RedisTimeoutError)


def database_place(url: str) -> str:
    """`host:port/database`, or the SQLite file's path: the URL without its user and password."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return "(an unreadable DATABASE_URL)"
    if parsed.get_backend_name() == "sqlite":
        return parsed.database or ":memory:"
    port = f":{parsed.port}" if parsed.port else ""
    return f"{parsed.host or 'localhost'}{port}/{parsed.database or ''}"


def redis_place(url: str | None, settings: Settings | None = None) -> str:
    """`host:port/db`, a socket's path, or the embedded Redis's file."""
    if not url:
        where = settings.instance_dir / "redis.db" if settings else "instance/redis.db"
        return f"the embedded Redis ({where})"
    kwargs = Redis.from_url(url).connection_pool.connection_kwargs
    if "path" in kwargs:
        return str(kwargs["path"])
    return f"{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}/{kwargs.get('db', 0)}"


def _reason(error: BaseException, *secrets: str | None) -> str:
    """The driver's reason, the last clause of its first line only (`Connection refused`,
    `password authentication failed for user "root"`), with any password taken out."""
    cause: Any = getattr(error, "orig", None) or error
    if isinstance(cause, OSError) and cause.strerror:  # an SQLite file's folder that cannot be made
        return f"{cause.strerror}: {cause.filename}" if cause.filename else cause.strerror
    lines = str(cause).strip().splitlines() or [type(cause).__name__]
    reason = re.split(r"[.:]\s+", lines[0])[-1].strip().rstrip(".")
    for secret in secrets:
        if secret:
            reason = reason.replace(secret, "***")
    return reason or type(cause).__name__


def _password(url: str | None) -> str | None:
    try:
        return make_url(url).password if url else None
    except ArgumentError:
        return None


def database_unavailable(error: BaseException, url: str) -> click.ClickException:
    return click.ClickException(f"database unavailable at {database_place(url)}: {_reason(error, _password(url))}")


def redis_unavailable(error: BaseException, url: str | None, settings: Settings | None = None) -> click.ClickException:
    return click.ClickException(f"Redis unavailable at {redis_place(url, settings)}: {_reason(error, _password(url))}")


def require_database(url: str) -> None:
    """Connect once before a command builds anything (the embedded Redis is not started for a
    command that cannot run): a worker with no job to run would otherwise never notice. An
    SQLite file's folder is made here (OSError when it cannot be)."""
    try:
        engine = make_engine(url)
    except OSError as exc:
        raise database_unavailable(exc, url) from None
    try:
        with engine.connect():
            pass
    except OperationalError as exc:
        raise database_unavailable(exc, url) from None
    finally:
        engine.dispose()


def require_redis(connection: Redis, settings: Settings) -> None:
    """Ping Redis before a command that needs it does anything: a dispatcher pass logs a failed
    enqueue and goes on (the reconciler retries), so `reclaim tick` would otherwise exit 0."""
    try:
        connection.ping()
    except RedisError as exc:  # refused, timed out, or answering with an error (NOAUTH, LOADING)
        raise redis_unavailable(exc, settings.redis_url, settings) from None


def _configured() -> Settings | None:
    try:
        return Settings.from_env()
    except ConfigurationError:
        return None


class ReclaimGroup(click.Group):
    """The `reclaim` group: a command that loses its database or Redis on the way, or meets a
    configuration it cannot run with (`reclaim demo` reads its own), ends in one line."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ConfigurationError as exc:
            raise click.ClickException(str(exc)) from None
        except OperationalError as exc:
            settings = _configured()
            raise database_unavailable(exc, settings.database_url if settings else "") from None
        except REDIS_DOWN as exc:
            settings = _configured()
            raise redis_unavailable(exc, settings.redis_url if settings else None, settings) from None
