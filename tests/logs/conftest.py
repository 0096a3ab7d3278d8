"""`json_log`: the process's logging as `reclaim` configures it under RECLAIM_LOG_FORMAT=json,
writing to a buffer the test reads back line by line; put back as it was afterwards."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from shop_app import log_format

#: Loggers a test may find quieted by an earlier one in the same process (the demo's story).
TOUCHED = ("", "jobs", "shop_app", "werkzeug", "alembic", *log_format.CHATTY)


class JsonLog:
    def __init__(self) -> None:
        self.buffer = io.StringIO()

    def configure(self, **env: str) -> None:
        log_format.configure({"RECLAIM_LOG_FORMAT": "json", **env}, stream=self.buffer, force=True)
        for name in ("jobs", "shop_app", "werkzeug"):
            logging.getLogger(name).setLevel(logging.NOTSET)

    def text(self) -> str:
        return self.buffer.getvalue()

    def lines(self) -> list[dict]:
        """Every line written, each parsed as one JSON object (a line that is not fails the test)."""
        return [json.loads(line) for line in self.text().splitlines()]

    def events(self, event: str) -> list[dict]:
        return [line for line in self.lines() if line.get("event") == event]

    def events_of(self, logger: str) -> list[dict]:
        return [line for line in self.lines() if line["logger"] == logger]


@pytest.fixture
def json_log() -> Iterator[JsonLog]:
    levels = {name: logging.getLogger(name).level for name in TOUCHED}
    before = list(logging.getLogger().handlers)
    log = JsonLog()
    log.configure()
    yield log
    logging.getLogger().handlers[:] = before
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)
