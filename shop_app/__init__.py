"""Reclaim: abandoned-checkout recovery for Shopify merchants.

`create_app` wires things together; nothing is created at import time.
"""

from __future__ import annotations

from flask import Flask, jsonify
from sqlalchemy import text
from werkzeug.exceptions import HTTPException

from shop_app import runtime as runtime_mod
from shop_app.config import MAX_WEBHOOK_BYTES, Settings


def create_app(settings: Settings | None = None, runtime: runtime_mod.Runtime | None = None) -> Flask:
    if runtime is None:
        runtime = runtime_mod.Runtime.build(settings or Settings.from_env())
    runtime_mod.install(runtime)

    app = Flask(__name__)
    app.config.update(MAX_CONTENT_LENGTH=MAX_WEBHOOK_BYTES, SECRET_KEY=runtime.settings.secret_key)
    app.extensions["reclaim"] = runtime

    from webhooks import bp as webhooks_bp

    app.register_blueprint(webhooks_bp)
    from webhooks.clicks import bp as clicks_bp
    from webhooks.sendgrid_events import bp as sendgrid_bp
    from webhooks.twilio_callbacks import bp as twilio_bp
    from webhooks.unsubscribe import bp as unsubscribe_bp

    for blueprint in (unsubscribe_bp, clicks_bp, sendgrid_bp, twilio_bp):
        app.register_blueprint(blueprint)

    from storefront import bp as storefront_bp

    app.register_blueprint(storefront_bp)

    from admin_ui import bp as admin_ui_bp

    app.register_blueprint(admin_ui_bp)

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
