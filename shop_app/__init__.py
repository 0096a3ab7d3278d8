"""Reclaim: abandoned-checkout recovery for Shopify merchants.

`create_app` wires things together; nothing is created at import time.
"""

from __future__ import annotations

import importlib
import logging
from urllib.parse import parse_qsl

from flask import Flask, Request, jsonify, request
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import HTTPException
from werkzeug.utils import cached_property

from shop_app import log_format
from shop_app import runtime as runtime_mod
from shop_app.config import MAX_WEBHOOK_BYTES, Settings
from shop_app.errors import describe

log = logging.getLogger(__name__)

#: The web packages beside shop_app; each registers its blueprints with `init_app(app)`.
BLUEPRINT_PACKAGES = ("webhooks", "storefront", "admin_ui")


class LenientQueryRequest(Request):
    """Flask's request, except that a query string's raw bytes that are not UTF-8 stay
    percent-encoded, as Werkzeug already leaves invalid percent-encoded ones, instead of raising in
    whatever reads `args` first (the CSP hook reads it on every page): a 500. gunicorn refuses such
    a request line; another WSGI server may pass it on."""

    @cached_property
    def args(self) -> MultiDict[str, str]:
        text = self.query_string.decode("utf-8", "werkzeug.url_quote")
        return self.parameter_storage_class(parse_qsl(text, keep_blank_values=True, errors="werkzeug.url_quote"))


def create_app(settings: Settings | None = None, runtime: runtime_mod.Runtime | None = None) -> Flask:
    from shop_app import health, metrics  # here: they read jobs.worker, which imports this package

    if runtime is None:
        runtime = runtime_mod.Runtime.build(settings or Settings.from_env(), web=True)
    runtime_mod.install(runtime)

    app = Flask(__name__)
    app.request_class = LenientQueryRequest
    app.config.update(MAX_CONTENT_LENGTH=MAX_WEBHOOK_BYTES, SECRET_KEY=runtime.settings.secret_key)
    app.extensions["reclaim"] = runtime

    for package in BLUEPRINT_PACKAGES:
        importlib.import_module(package).init_app(app)

    metrics.init_app(app, runtime)  # request hooks and GET /metrics

    @app.get("/healthz")
    def healthz():  # 503 only when the database or Redis fails; stale workers are reported (health.py)
        document, healthy = health.report(runtime)
        return jsonify(document), (200 if healthy else 503)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        return jsonify(error=exc.description or exc.name), exc.code

    @app.errorhandler(OperationalError)
    @app.errorhandler(PoolTimeout)
    def database_unavailable(exc: Exception):
        # A lock or statement timeout, a full pool, a lost server: say so quickly. Shopify
        # retries a webhook answered 503, and nothing was recorded half-way (one transaction).
        log.warning("database unavailable on %s %s: %s", request.method, request.path, describe(exc))
        return jsonify(error="the database is busy or unreachable; try again shortly"), 503, {"Retry-After": "5"}

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        # The traceback without the exception's text, which may quote a customer's data: the log
        # format writes errors.trace(exc) (JSON: the `trace` field); not exc_info, which any other
        # handler would print with the text.
        log.error("unhandled error on %s %s: %s", request.method, request.path, describe(exc),
                  extra={log_format.ERROR: exc})  # fmt: skip
        return jsonify(error="internal error; it has been logged"), 500

    return app
