"""Engine, sessions and migrations. Alembic owns the schema; nothing calls create_all."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from alembic import command
from alembic.config import Config
from sqlalchemy import CursorResult, Engine, Executable, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).parent / "migrations"


@dataclass(frozen=True)
class Timeouts:
    """How long one process waits on the database before it gives up and says so."""

    lock_ms: int  # for a row or table lock (PostgreSQL lock_timeout; SQLite busy_timeout)
    statement_ms: int  # for one statement (PostgreSQL statement_timeout)
    connect_s: int  # for a new connection
    pool_wait_s: float  # for a free connection from the pool
    #: PostgreSQL: ping a pooled connection before handing it out (a round trip per checkout).
    #: Jobs keep it: a send records its outcome after a long provider call, on a connection that
    #: must not turn out dead then. The web tier does without it (issue 13): its requests are
    #: short, and the webhook endpoint retries its idempotent INSERT once on a dead connection.
    pre_ping: bool = True


#: The web tier answers Shopify within its 5-second budget: a locked table or a stuck
#: statement is a quick error (a 503 Shopify retries), never a stalled worker thread.
WEB = Timeouts(lock_ms=1500, statement_ms=3000, connect_s=2, pool_wait_s=1.5, pre_ping=False)
#: Jobs may wait longer, but never longer than RQ gives a job (adapters.queue.JOB_TIMEOUT).
WORKER = Timeouts(lock_ms=10_000, statement_ms=60_000, connect_s=5, pool_wait_s=10)
#: A pooled PostgreSQL connection older than this is closed and replaced at its next checkout.
POOL_RECYCLE_S = 300


def make_engine(url: str, timeouts: Timeouts = WORKER) -> Engine:
    """The engine, with `timeouts`. SQL parameters (customers' emails, names, URLs) are never
    put into exception messages, so no traceback or log line can carry them."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": timeouts.lock_ms / 1000}, hide_parameters=True)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={timeouts.lock_ms:d}")
            cursor.close()

        return engine
    options = f"-c lock_timeout={timeouts.lock_ms:d} -c statement_timeout={timeouts.statement_ms:d}"
    # Connections are replaced after POOL_RECYCLE_S, before idle-connection killers (firewalls,
    # proxies) get to them. Without pre-ping (the web tier), one the server closed anyway fails
    # its first statement, invalidating the pool's older ones: the webhook endpoint retries its
    # INSERT once, another request answers 503.
    return create_engine(
        url,
        pool_pre_ping=timeouts.pre_ping,
        pool_recycle=POOL_RECYCLE_S,
        pool_timeout=timeouts.pool_wait_s,
        hide_parameters=True,
        connect_args={"connect_timeout": timeouts.connect_s, "options": options},
    )


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def rows_changed(session: Session, statement: Executable) -> int:
    """Run an UPDATE or DELETE; how many rows it changed (0 when the driver cannot tell)."""
    result = session.execute(statement)
    return cast(CursorResult[Any], result).rowcount or 0  # a DML statement's result is a CursorResult


def insert_new(session: Session, model: type[Any], **values: Any) -> bool:
    """INSERT one row unless it would break a unique constraint; True when the row is new.
    One statement, no savepoint (PostgreSQL and SQLite both know ON CONFLICT DO NOTHING).
    Whether a row went in is read from RETURNING: drivers disagree on an INSERT's rowcount."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    table = model.__table__
    statement = dialect.insert(table).values(**values).on_conflict_do_nothing().returning(*table.primary_key)
    return session.execute(statement).first() is not None


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    with factory() as session, session.begin():
        yield session


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)
