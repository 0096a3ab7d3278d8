"""What every `reclaim` command starts from: the checked settings, the runtime's handles, and
a `--now` read as a time."""

from __future__ import annotations

from datetime import UTC, datetime

import click
from sqlalchemy.orm import Session

from shop_app import runtime
from shop_app.cli.unreachable import require_database, require_redis
from shop_app.config import Settings
from shop_app.errors import ConfigurationError, InvalidShopDomain, UnknownShop
from shop_app.storage.database import upgrade
from shop_app.storage.tables import Shop


def checked_settings() -> Settings:
    try:
        return Settings.from_env()
    except ConfigurationError as exc:
        raise click.ClickException(str(exc)) from None


def checked_runtime(*, redis: bool = False) -> runtime.Runtime:
    """The checked configuration's handles. `redis`: the command enqueues or runs jobs, so an
    unreachable Redis ends it at once (one line, exit 1), before it changes anything. An
    unreachable database ends any command the same way (ReclaimGroup)."""
    require_database(checked_settings().database_url)  # refused before anything is built or started
    rt = runtime.current()
    if redis:
        require_redis(rt.redis, rt.settings)
    if rt.settings.database_url.startswith("sqlite"):
        upgrade(rt.settings.database_url)  # the embedded database keeps itself current
    return rt


def parse_time(value: str | None) -> datetime | None:
    """An ISO 8601 time (a trailing Z, or no zone: UTC) in UTC; None for None."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"not an ISO 8601 time: {value}") from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


def shop_named(session: Session, domain: str) -> Shop:
    """The installed shop of `domain`, or the command's one-line refusal (unknown, malformed)."""
    from shop_app.shopify.shops import get_shop  # noqa: PLC0415 (commands import what they use when run)

    try:
        return get_shop(session, domain)
    except (UnknownShop, InvalidShopDomain) as exc:
        raise click.ClickException(str(exc)) from None
