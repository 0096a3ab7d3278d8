"""Which migrations a database has: Alembic's revision before and after an upgrade."""

from __future__ import annotations

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from shop_app.storage.database import alembic_config, make_engine


def revision_of(url: str) -> str | None:
    """The database's current revision (None: no migration applied yet). Connecting creates an
    SQLite file's folder, as the app does, and fails here (OperationalError) on an unreachable server."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def revisions_between(url: str, before: str | None, after: str | None) -> list[str]:
    """The revisions an upgrade from `before` to `after` applied, oldest first."""
    if after is None or after == before:
        return []
    script = ScriptDirectory.from_config(alembic_config(url))
    newest_first = script.iterate_revisions(after, before)
    return [revision.revision for revision in reversed(list(newest_first))]
