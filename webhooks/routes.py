"""One route per webhook subscription declared in shopify.app.toml.

Each request: size limit (413) → HMAC over the raw body (401) → headers and shop
(400, or 200-and-drop for a shop not installed here) → JSON (400, recorded) →
record the delivery, unique on X-Shopify-Webhook-Id (a repeat is a 200) →
enqueue one ingest job → 200. If Redis is down the delivery is still recorded
and the reconciler enqueues it later, so Shopify gets its 200 and nothing is lost.
"""

from __future__ import annotations

import json
import logging
from functools import partial

from flask import Blueprint, Response, current_app, jsonify, request
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import RequestEntityTooLarge

from shop_app.config import MAX_WEBHOOK_BYTES
from shop_app.domain.models import WebhookStatus
from shop_app.errors import InvalidShopDomain, describe
from shop_app.request_body import read_body
from shop_app.shopify.signatures import clean_shop_domain, verify_webhook
from shop_app.storage.database import transaction
from shop_app.storage.tables import Shop, WebhookDelivery

log = logging.getLogger(__name__)
bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")

RECOVERY_TOPICS = (
    "checkouts/create",
    "checkouts/update",
    "checkouts/delete",
    "orders/create",
    "orders/paid",
)
#: The Referral Generation Flow's (issue 11): capture, fulfilment, cancellation and refunds.
REFERRAL_TOPICS = ("customers/create", "orders/fulfilled", "orders/cancelled", "refunds/create")
LIFECYCLE_TOPICS = ("app/uninstalled",)
COMPLIANCE_TOPICS = ("customers/data_request", "customers/redact", "shop/redact")
TOPICS = RECOVERY_TOPICS + REFERRAL_TOPICS + LIFECYCLE_TOPICS + COMPLIANCE_TOPICS
#: Topics still accepted after uninstall (shop/redact arrives 48 h later).
AFTER_UNINSTALL = LIFECYCLE_TOPICS + COMPLIANCE_TOPICS


def _answer(code: int, **body: object) -> tuple[Response, int]:
    return jsonify(body), code


def _malformed(body: bytes) -> str | None:
    """Why the body is not a JSON object (recorded as the delivery's reason), or None."""
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        return f"malformed JSON: {exc}"[:500]
    except RecursionError:
        return "malformed JSON: nested too deeply"
    return None if isinstance(payload, dict) else "malformed JSON: the body must be a JSON object"


def receive(topic: str) -> tuple[Response, int]:
    runtime = current_app.extensions["reclaim"]
    try:
        body = read_body(request, MAX_WEBHOOK_BYTES)
    except RequestEntityTooLarge:
        return _answer(413, error=f"body larger than {MAX_WEBHOOK_BYTES} bytes")

    if not verify_webhook(body, request.headers.get("X-Shopify-Hmac-Sha256"), runtime.settings.webhook_secrets):
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

    reason = _malformed(body)
    status = WebhookStatus.REJECTED if reason else WebhookStatus.RECEIVED

    job_id = runtime.queue.new_job_id("ingest") if status is WebhookStatus.RECEIVED else None
    delivery = WebhookDelivery(
        webhook_id=webhook_id,
        topic=topic,
        api_version=(request.headers.get("X-Shopify-API-Version") or "")[:16] or None,
        triggered_at=(request.headers.get("X-Shopify-Triggered-At") or "")[:64] or None,
        status=status.value,
        reason=reason,
        # Kept for re-ingest; a rejected body may hold bytes PostgreSQL text cannot.
        body=body.decode("utf-8", errors="replace").replace("\x00", "\ufffd"),
        job_id=job_id,
    )
    # One transaction: find the shop, record the delivery (unique per shop and webhook id).
    try:
        with transaction(runtime.sessions) as session:
            shop = session.scalar(select(Shop).where(Shop.domain == domain))
            if shop is None or (shop.status != "installed" and topic not in AFTER_UNINSTALL):
                log.warning("webhook %s for %s dropped: shop not installed", topic, domain)
                return _answer(200, status="ignored", reason="shop not installed")
            delivery.shop_id = shop.id
            session.add(delivery)
    except IntegrityError:
        return _answer(200, status="duplicate")

    if status is WebhookStatus.REJECTED:
        return _answer(400, error=reason)
    try:
        runtime.queue.enqueue_ingest(delivery.id, job_id)
    except Exception as exc:  # Redis unavailable: the row is safe, the reconciler will enqueue it
        log.warning(
            "could not enqueue ingest for delivery %s (%s); the reconciler will retry", delivery.id, describe(exc)
        )
    return _answer(200, status="accepted")


for _topic in TOPICS:
    bp.add_url_rule(
        f"/{_topic}", endpoint=_topic.replace("/", "_"), view_func=partial(receive, _topic), methods=["POST"]
    )
