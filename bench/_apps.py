"""WSGI entry points for the benchmarks, loaded by gunicorn as `_apps:bare()` / `_apps:floor()`.

The real app is not here: webhook_ingest.py runs it with `reclaim serve` itself.
"""

import os

from flask import Flask, jsonify, request
from sqlalchemy import create_engine, insert

from shop_app.config import Settings
from shop_app.shopify.signatures import verify_webhook
from shop_app.storage.database import WEB, make_engine
from shop_app.storage.tables import WebhookDelivery


def bare():
    """The HTTP floor: the same server and Flask, one POST route that reads the body and says 200."""
    app = Flask("bare")

    @app.get("/healthz")
    def healthz():
        return jsonify(ok=True)

    @app.post("/webhooks/<path:topic>")
    def accept(topic):
        request.get_data(cache=False)
        return jsonify(status="accepted")

    return app


def floor():
    """The durable-write floor: the same server and Flask, one POST route that checks the HMAC
    (the app's constant-time check) and INSERTs + COMMITs the body as a delivery row of the
    floor's own shop (BENCH_FLOOR_SHOP_ID), in one transaction, and says 200. Nothing else: no
    header checks, no shop lookup, no JSON parse, no queue. Its engine is a plain one (no pre-ping);
    SQLite gets the app's engine for its WAL and busy timeout, without which two workers collide."""
    settings = Settings.from_env()
    url = settings.database_url
    engine = make_engine(url, WEB) if url.startswith("sqlite") else create_engine(url)
    shop_id = int(os.environ["BENCH_FLOOR_SHOP_ID"])
    secrets = settings.webhook_secrets
    table = WebhookDelivery.__table__
    app = Flask("floor")

    @app.get("/healthz")
    def healthz():
        return jsonify(ok=True)

    @app.post("/webhooks/<path:topic>")
    def accept(topic):
        body = request.get_data(cache=False)
        if not verify_webhook(body, request.headers.get("X-Shopify-Hmac-Sha256"), secrets):
            return jsonify(error="invalid HMAC"), 401
        with engine.begin() as conn:
            conn.execute(
                insert(table).values(
                    shop_id=shop_id,
                    webhook_id=request.headers["X-Shopify-Webhook-Id"],
                    topic=topic,
                    body=body.decode(),
                    status="processed",  # no ingest's to run: the dispatcher's pick-up leaves the floor's rows alone
                )
            )
        return jsonify(status="accepted")

    return app
