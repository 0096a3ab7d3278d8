"""One route per webhook subscription declared in shopify.app.toml.

Each request: size limit (413) → HMAC over the raw body (401) → headers and shop
(400, or 200-and-drop for a shop not installed here) → JSON (400, recorded) →
record the delivery, unique on X-Shopify-Webhook-Id (a repeat is a 200) → 200. A checkout body's
token is recorded with it (its subject): the ingest's first read locks that checkout. The request
does not touch Redis: the dispatcher's next pass (every second, jobs/pickup.py) gives each new
delivery its ingest job, so a webhook is ingested within about a second of its 200, and a Redis
outage costs Shopify's requests nothing.

Kept cheap (issue 13, item 5): the shop comes from a per-process cache of installed shops
(shop_app/shopify/shop_cache.py: at most TTL_SECONDS stale, see there), and the delivery is
recorded by one autocommit `INSERT … ON CONFLICT DO NOTHING RETURNING id` (no row back: a
repeat), so a known shop's webhook costs one SQL statement and no Redis round trip (that round
trip, a fifth of the request's time, now serves a whole dispatcher pass's deliveries). The pool
does not pre-ping; a connection found dead by that INSERT is retried once on a fresh one (the
INSERT is idempotent).
"""

from __future__ import annotations

import json
import logging
from functools import partial
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, request
from sqlalchemy import Connection, Executable, bindparam, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, IntegrityError
from werkzeug.exceptions import RequestEntityTooLarge

from shop_app.config import MAX_WEBHOOK_BYTES
from shop_app.domain.models import WebhookStatus
from shop_app.domain.payloads import checkout_token
from shop_app.errors import InvalidShopDomain
from shop_app.request_body import read_body
from shop_app.runtime import Runtime
from shop_app.shopify.shop_cache import ShopCache
from shop_app.shopify.shop_secrets import own_webhook_secret
from shop_app.shopify.signatures import clean_shop_domain, verify_shop_webhook
from shop_app.shopify.topics import AFTER_UNINSTALL, CHECKOUT_TOPICS, ENDING_TOPICS, TOPICS
from shop_app.storage.tables import Shop, WebhookDelivery, utcnow

log = logging.getLogger(__name__)
bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")

#: app.extensions key of the app's ShopCache (one per app, so one per web process).
SHOP_CACHE = "reclaim.shop_cache"


def init_cache(app: Flask) -> ShopCache:
    cache = app.extensions[SHOP_CACHE] = ShopCache()
    return cache


def _answer(code: int, **body: object) -> tuple[Response, int]:
    return jsonify(body), code


def _parsed(body: bytes) -> tuple[dict[str, Any] | None, str | None]:
    """The body as a JSON object, or None and why it is not one (recorded as the delivery's reason)."""
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        return None, f"malformed JSON: {exc}"[:500]
    except RecursionError:
        return None, "malformed JSON: nested too deeply"
    if not isinstance(payload, dict):
        return None, "malformed JSON: the body must be a JSON object"
    return payload, None


def receive(topic: str) -> tuple[Response, int]:
    runtime = current_app.extensions["reclaim"]
    try:
        body = read_body(request, MAX_WEBHOOK_BYTES)
    except RequestEntityTooLarge:
        return _answer(413, error=f"body larger than {MAX_WEBHOOK_BYTES} bytes")

    signature, shop_header = request.headers.get("X-Shopify-Hmac-Sha256"), request.headers.get("X-Shopify-Shop-Domain")
    own_secret = partial(own_webhook_secret, runtime)  # a custom app's own secret (reclaim shop install)
    if not verify_shop_webhook(body, signature, runtime.settings.webhook_secrets, shop_header, own_secret, topic):
        return _answer(401, error="invalid or missing HMAC signature (X-Shopify-Hmac-Sha256)")

    header_topic = (request.headers.get("X-Shopify-Topic") or "").strip().lower()
    if header_topic != topic:
        return _answer(400, error=f"X-Shopify-Topic {header_topic!r} does not match this endpoint ({topic})")
    webhook_id = (request.headers.get("X-Shopify-Webhook-Id") or "").strip()
    if not webhook_id or len(webhook_id) > 128:
        return _answer(400, error="X-Shopify-Webhook-Id is missing or too long")
    try:
        domain = clean_shop_domain(request.headers.get("X-Shopify-Shop-Domain"))
    except InvalidShopDomain as exc:
        return _answer(400, error=str(exc))

    payload, reason = _parsed(body)
    status = WebhookStatus.REJECTED if reason else WebhookStatus.RECEIVED

    delivery = {
        "webhook_id": webhook_id,
        "topic": topic,
        "api_version": (request.headers.get("X-Shopify-API-Version") or "")[:16] or None,
        "triggered_at": (request.headers.get("X-Shopify-Triggered-At") or "")[:64] or None,
        "status": status.value,
        "reason": reason,
        # Kept for re-ingest; a rejected body may hold bytes PostgreSQL text cannot.
        "body": body.decode("utf-8", errors="replace").replace("\x00", "\ufffd"),
        "job_id": None,  # given by the dispatcher's pick-up (jobs/pickup.py)
        # The checkout the ingest's first read locks with the delivery (issue 13).
        "subject": checkout_token(payload) if topic in CHECKOUT_TOPICS else None,
    }
    cache: ShopCache = current_app.extensions[SHOP_CACHE]
    if topic in ENDING_TOPICS:
        cache.hold(domain)
    recorded = _record(runtime, cache, domain, topic, delivery)
    if recorded is None:
        log.warning("webhook %s for %s dropped: shop not installed", topic, domain)
        return _answer(200, status="ignored", reason="shop not installed")
    if recorded is False:
        return _answer(200, status="duplicate")

    if status is WebhookStatus.REJECTED:
        return _answer(400, error=reason)
    return _answer(200, status="accepted")


def _record(runtime: Runtime, cache: ShopCache, domain: str, topic: str, delivery: dict[str, Any]) -> int | bool | None:
    """Record the delivery in autocommit: its new id, False for a repeat (unique per shop and
    webhook id), None when the shop is not installed here (or gone). A known shop costs one statement."""
    try:
        return _record_once(runtime, cache, domain, topic, delivery)
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
        # A pooled connection the server had closed (no pre-ping): the pool replaces it, once more.
        return _record_once(runtime, cache, domain, topic, delivery)


def _record_once(
    runtime: Runtime, cache: ShopCache, domain: str, topic: str, delivery: dict[str, Any]
) -> int | bool | None:
    with runtime.engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        shop_id = cache.get(domain)
        if shop_id is not None:
            try:
                return _insert(conn, shop_id, delivery)
            except IntegrityError:  # its row went since it was cached (shop/redact): ask again
                cache.forget(domain)
        shop_id = _installed_shop(conn, cache, domain, topic)
        if shop_id is None:
            return None
        try:
            return _insert(conn, shop_id, delivery)
        except IntegrityError:  # erased between the two statements
            cache.forget(domain)
            return None


def _installed_shop(conn: Connection, cache: ShopCache, domain: str, topic: str) -> int | None:
    """The shop's id from the database when webhooks of `topic` are accepted for it; an
    installed shop is kept in the cache."""
    row = conn.execute(select(Shop.id, Shop.status).where(Shop.domain == domain)).first()
    if row is None:
        return None
    if row.status == "installed":
        cache.keep(domain, row.id)
        return row.id
    return row.id if topic in AFTER_UNINSTALL else None


#: The columns `_insert` writes: the delivery's fields (`receive`), then the shop and the time.
DELIVERY_COLUMNS = (
    "webhook_id", "topic", "api_version", "triggered_at", "status", "reason", "body", "job_id", "subject"
)  # fmt: skip
_INSERTS: dict[str, Executable] = {}


def _insert_statement(dialect_name: str) -> Executable:
    """The `INSERT … ON CONFLICT DO NOTHING RETURNING id` with bound parameters, built once per
    dialect: one statement object, so SQLAlchemy computes its cache key once and compiles it once
    (a statement built per request cost ~0.25 ms of Python per webhook, issue 13 item 5)."""
    statement = _INSERTS.get(dialect_name)
    if statement is None:
        dialect = postgresql if dialect_name == "postgresql" else sqlite
        table = WebhookDelivery.__table__
        columns = ("shop_id", "received_at", *DELIVERY_COLUMNS)
        statement = _INSERTS[dialect_name] = (
            dialect.insert(table)
            .values({name: bindparam(name, type_=table.c[name].type) for name in columns})
            .on_conflict_do_nothing(index_elements=["shop_id", "webhook_id"])
            .returning(table.c.id)
        )
    return statement


def _insert(conn: Connection, shop_id: int, delivery: dict[str, Any]) -> int | bool:
    """One `INSERT … ON CONFLICT DO NOTHING RETURNING id` (SQLite ≥ 3.35 and PostgreSQL)."""
    statement = _insert_statement(conn.dialect.name)
    new_id = conn.execute(statement, {"shop_id": shop_id, "received_at": utcnow(), **delivery}).scalar()
    return False if new_id is None else new_id


for _topic in TOPICS:
    bp.add_url_rule(
        f"/{_topic}", endpoint=_topic.replace("/", "_"), view_func=partial(receive, _topic), methods=["POST"]
    )
