"""`reclaim tick` fails when Redis fails during its pass (issue 14's leftover: it exited 0).

The dispatcher and the reconciler log an enqueue that fails and go on (the rows stay in the
database and the reconciler's next pass enqueues them again): right for the worker's scheduler,
wrong for an operator's command, whose exit status must say the pass did not do its work.
`EnqueueWatch` records, for the length of one command, every enqueue of the runtime's queue
that raised; `check` then ends the command in one line (exit 1) naming where Redis is, and
pings Redis too, for a Redis lost after the last enqueue.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click
from redis.exceptions import RedisError

from shop_app.cli.unreachable import redis_unavailable
from shop_app.errors import describe
from shop_app.runtime import Runtime


class EnqueueWatch:
    """`with EnqueueWatch(rt) as watch: …; watch.check()`: the queue's `enqueue*` methods,
    wrapped on this one object while the block runs."""

    def __init__(self, rt: Runtime):
        self.rt = rt
        self.failures: list[BaseException] = []
        self._wrapped: list[str] = []

    def __enter__(self) -> EnqueueWatch:
        queue = self.rt.queue
        for name in dir(type(queue)):
            if name.startswith("enqueue") and callable(getattr(queue, name)):
                setattr(queue, name, self._watched(getattr(queue, name)))
                self._wrapped.append(name)
        return self

    def __exit__(self, *exc_info: object) -> None:
        for name in self._wrapped:
            delattr(self.rt.queue, name)  # the class's own method again
        self._wrapped.clear()

    def _watched(self, method: Callable[..., Any]) -> Callable[..., Any]:
        def watched(*args: Any, **kwargs: Any) -> Any:
            try:
                return method(*args, **kwargs)
            except Exception as exc:
                self.failures.append(exc)
                raise

        return watched

    def check(self) -> None:
        """Raise the command's one-line failure when an enqueue failed or Redis is gone now."""
        settings = self.rt.settings
        try:
            self.rt.redis.ping()
        except RedisError as exc:
            raise redis_unavailable(exc, settings.redis_url, settings) from None
        if self.failures:
            first = describe(self.failures[0])
            raise click.ClickException(
                f"Redis failed during the pass ({len(self.failures)} enqueue(s) failed, the first: {first}); "
                "the rows stay in the database and the next pass enqueues them"
            )
