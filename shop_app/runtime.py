"""The process-wide handles (settings, database, Redis, transports), built once.

The web app and the workers share this: `create_app` installs its runtime, and a
worker process builds one from the environment on first use.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from redis import Redis
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from shop_app.adapters.queue import JobQueue, connect
from shop_app.channels.transports import Transports
from shop_app.config import Settings
from shop_app.storage import database
from shop_app.storage.database import make_engine, session_factory
from shop_app.storage.secret_box import SecretBox


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    redis: Redis
    queue: JobQueue
    transports: Transports
    box: SecretBox
    #: How Admin API retries wait; tests record the waits instead of sleeping.
    admin_sleep: Callable[[float], None] = field(default=time.sleep)

    @classmethod
    def build(cls, settings: Settings, *, web: bool = False) -> Runtime:
        """The handles for a worker, or (`web`) for the web tier, which waits on nothing for
        long: its database and Redis calls give up within Shopify's 5-second webhook budget."""
        engine = make_engine(settings.database_url, database.WEB if web else database.WORKER)
        redis = connect(settings.redis_url, settings.instance_dir, quick=web)
        sessions = session_factory(engine)
        box = SecretBox(settings.secret_key)
        return cls(
            settings=settings,
            engine=engine,
            sessions=sessions,
            redis=redis,
            queue=JobQueue(redis),
            transports=Transports(settings, sessions, box),
            box=box,
        )

    def close(self) -> None:
        self.transports.close()
        self.engine.dispose()
        self.redis.close()


_current: Runtime | None = None


def install(runtime: Runtime) -> Runtime:
    global _current
    _current = runtime
    return runtime


def current() -> Runtime:
    """The installed runtime, or one built from the environment (worker processes)."""
    return _current if _current is not None else install(Runtime.build(Settings.from_env()))


def reset() -> None:
    """Forget the installed runtime (tests switch configurations)."""
    global _current
    if _current is not None:
        _current.close()
    _current = None
