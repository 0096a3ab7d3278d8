"""The Alembic migrations build exactly the schema the models describe, on the test database
(PostgreSQL in CI, SQLite otherwise)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from shop_app.storage.tables import Base


def test_migrations_match_the_models(rt):
    with rt.engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert differences == []
