"""Reclaim: abandoned-checkout recovery for Shopify merchants.

`create_app` wires things together; nothing is created at import time.
"""

from __future__ import annotations

import importlib

from flask import Flask, jsonify
from sqlalchemy import text
from werkzeug.exceptions import HTTPException

from shop_app import runtime as runtime_mod
from shop_app.config import MAX_WEBHOOK_BYTES, Settings

#: The web packages beside shop_app; each registers its blueprints with `init_app(app)`.
BLUEPRINT_PACKAGES = ("webhooks", "storefront", "admin_ui")


def create_app(settings: Settings | None = None, runtime: runtime_mod.Runtime | None = None) -> Flask:
    if runtime is None:
        runtime = runtime_mod.Runtime.build(settings or Settings.from_env())
    runtime_mod.install(runtime)

    app = Flask(__name__)
    app.config.update(MAX_CONTENT_LENGTH=MAX_WEBHOOK_BYTES, SECRET_KEY=runtime.settings.secret_key)
    app.extensions["reclaim"] = runtime

    for package in BLUEPRINT_PACKAGES:
        importlib.import_module(package).init_app(app)

    @app.get("/healthz")
    def healthz():
        problems = {}
        try:
            with runtime.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:  # report, don't crash: this is what operators poll
            problems["database"] = type(exc).__name__
        try:
            runtime.queue.ping()
        except Exception as exc:
            problems["redis"] = type(exc).__name__
        return jsonify(ok=not problems, problems=problems), (503 if problems else 200)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        return jsonify(error=exc.description or exc.name), exc.code

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        app.logger.exception("unhandled error")
        return jsonify(error="internal error; it has been logged"), 500

    return app
