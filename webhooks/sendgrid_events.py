"""`POST /webhooks/sendgrid/events`: SendGrid's Signed Event Webhook. Verify → record → answer.

Each request: key configured (503: unsigned events are refused, never trusted) → size (413) →
ECDSA P-256 signature over the timestamp header and the raw body, and a fresh timestamp (403) →
JSON array (400) → each event stored once as a MessageEvent and acted on the first time only →
200 with counts. An event joins a message only when our custom args (shop_app/adapters/email.py)
name an email of that shop sent to the event's address; otherwise it is kept unjoined with its
address hashed, or dropped when it names no shop of ours. Database errors answer 500 (SendGrid
retries); a malformed element is counted and skipped.
"""

from __future__ import annotations

import base64
import binascii
import functools
import logging
import re
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from flask import Blueprint, Response, current_app, jsonify, request
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from werkzeug.exceptions import RequestEntityTooLarge

from shop_app.compliance.consent_records import record_consent
from shop_app.compliance.suppressions import suppress
from shop_app.config import MAX_WEBHOOK_BYTES
from shop_app.domain.addresses import address_hash, scrub_provider_text
from shop_app.domain.delivery import advance
from shop_app.domain.email_events import EmailEvent, InvalidBatch, InvalidEvent, decode_batch, parse_sendgrid_event
from shop_app.errors import InvalidShopDomain, ReclaimError
from shop_app.request_body import read_body
from shop_app.shopify.signatures import clean_shop_domain
from shop_app.storage.database import transaction
from shop_app.storage.tables import Message, MessageEvent, Shop

log = logging.getLogger(__name__)
bp = Blueprint("sendgrid_events", __name__)

PROVIDER = "sendgrid"
SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"
#: How old a signed timestamp may be. SendGrid documents no tolerance; within the hour a replay
#: changes nothing, because every event is kept once (sg_event_id) and acted on once.
MAX_SIGNATURE_AGE_SECONDS = 3600
#: How far ahead of our clock a timestamp may be.
MAX_CLOCK_SKEW_SECONDS = 300
#: A DER ECDSA P-256 signature is at most 72 bytes: 96 base64 characters.
MAX_SIGNATURE_LENGTH = 200
_TIMESTAMP = re.compile(r"^[0-9]{1,12}$")


class UnusableKey(ReclaimError, ValueError):
    """SENDGRID_WEBHOOK_PUBLIC_KEY is set but is not a P-256 public key."""


@functools.lru_cache(maxsize=4)
def load_public_key(text: str) -> ec.EllipticCurvePublicKey:
    """The key as SendGrid shows it (base64 DER), or the same wrapped in PEM armour."""
    try:
        if "BEGIN PUBLIC KEY" in text:
            key = serialization.load_pem_public_key(text.strip().encode())
        else:
            key = serialization.load_der_public_key(base64.b64decode("".join(text.split()), validate=True))
    except (ValueError, UnsupportedAlgorithm) as exc:  # binascii.Error is a ValueError
        raise UnusableKey("it is not a base64 DER (SubjectPublicKeyInfo) public key") from exc
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise UnusableKey("it is not an ECDSA P-256 key, which SendGrid signs with")
    return key


def signature_problem(
    key: ec.EllipticCurvePublicKey, body: bytes, signature: str | None, timestamp: str | None, now: float
) -> str | None:
    """None when SendGrid signed exactly this body at an acceptable time; else what is wrong."""
    if not signature or not timestamp:
        return f"missing {SIGNATURE_HEADER} or {TIMESTAMP_HEADER}"
    timestamp = timestamp.strip()
    if not _TIMESTAMP.match(timestamp) or len(signature) > MAX_SIGNATURE_LENGTH:
        return "malformed signature headers"
    if not -MAX_CLOCK_SKEW_SECONDS <= now - int(timestamp) <= MAX_SIGNATURE_AGE_SECONDS:
        return "signature timestamp is outside the accepted window (replayed or clock skew)"
    try:
        key.verify(
            base64.b64decode(signature.strip(), validate=True), timestamp.encode() + body, ec.ECDSA(hashes.SHA256())
        )
    except (binascii.Error, InvalidSignature):
        return "signature does not verify with SENDGRID_WEBHOOK_PUBLIC_KEY"
    return None


def _answer(code: int, **body: object) -> tuple[Response, int]:
    return jsonify(body), code


@bp.post("/webhooks/sendgrid/events")
def receive() -> tuple[Response, int]:
    runtime = current_app.extensions["reclaim"]
    configured = runtime.settings.sendgrid_webhook_public_key
    if not configured:
        return _answer(
            503,
            error="SendGrid event webhook is not configured: set SENDGRID_WEBHOOK_PUBLIC_KEY to the "
            "verification key of SendGrid's Signed Event Webhook",
        )
    try:
        key = load_public_key(configured)
    except UnusableKey as exc:
        log.error("SENDGRID_WEBHOOK_PUBLIC_KEY is unusable: %s", exc)
        return _answer(503, error=f"SENDGRID_WEBHOOK_PUBLIC_KEY is unusable: {exc}")
    try:
        body = read_body(request, MAX_WEBHOOK_BYTES)
    except RequestEntityTooLarge:
        return _answer(413, error=f"body larger than {MAX_WEBHOOK_BYTES} bytes")

    problem = signature_problem(
        key, body, request.headers.get(SIGNATURE_HEADER), request.headers.get(TIMESTAMP_HEADER), time.time()
    )
    if problem:
        log.warning("SendGrid event webhook refused: %s", problem)
        return _answer(403, error=problem)
    try:
        batch = decode_batch(body)
    except InvalidBatch as exc:
        return _answer(400, error=str(exc))

    now = datetime.now(UTC)
    with transaction(runtime.sessions) as session:
        counts = record_events(session, runtime.settings.secret_key, batch, now)
    log.info("SendGrid events: %s", dict(counts))
    return _answer(200, status="accepted", events=len(batch), **{k: counts[k] for k in OUTCOMES})


#: What became of each element of a batch.
OUTCOMES = ("stored", "duplicates", "unjoined", "ignored", "invalid")


def record_events(session: Session, secret_key: str, batch: list[Any], now: datetime) -> Counter[str]:
    """Store and act on each event; counts per outcome (see OUTCOMES)."""
    counts: Counter[str] = Counter({outcome: 0 for outcome in OUTCOMES})
    shops: dict[str, Shop | None] = {}
    for raw in batch:
        try:
            event = parse_sendgrid_event(raw)
        except InvalidEvent as exc:
            log.warning("SendGrid event skipped: %s", exc)
            counts["invalid"] += 1
            continue
        counts[_record(session, secret_key, event, raw, now, shops)] += 1
    return counts


def _record(
    session: Session,
    secret_key: str,
    event: EmailEvent,
    raw: dict[str, Any],
    now: datetime,
    shops: dict[str, Shop | None],
) -> str:
    shop = _shop(session, event.shop_ref, shops)
    if shop is None:
        return "ignored"  # no shop of ours to keep it under (MessageEvent rows belong to a shop)
    if _exists(session, event):
        return "duplicates"
    message = _message_for(session, shop, event)
    stored = raw
    if message is None:  # never joined, so never erased with a customer: kept without addresses
        stored = {k: scrub_provider_text(v, event.email) if isinstance(v, str) else v for k, v in raw.items()}
        if event.email:
            stored["email"] = address_hash(secret_key, event.email)
    try:
        with session.begin_nested():
            session.add(
                MessageEvent(
                    shop_id=shop.id,
                    message_id=message.id if message else None,
                    provider=PROVIDER,
                    provider_id=event.key,
                    event=event.kind,
                    detail=event.detail,
                    raw=stored,
                )
            )
    except IntegrityError:  # the same event in a concurrent request
        return "duplicates"
    if message is None:
        return "unjoined"

    moved = advance(message.delivery_status, event.kind)
    if moved is not None:
        message.delivery_status, message.delivery_detail = moved, event.detail
    recipient = message.recipient
    assert recipient, "_message_for joins only messages with a recipient"
    if event.suppress:
        suppress(session, secret_key, shop.id, "email", recipient, event.suppress)
    if event.revokes_consent:
        record_consent(
            session, shop.id, "email", recipient, granted=False, source="provider", at=event.occurred_at or now
        )
    return "stored"


def _shop(session: Session, domain: str | None, cache: dict[str, Shop | None]) -> Shop | None:
    if not domain:
        return None
    if domain not in cache:
        try:
            cache[domain] = session.scalar(select(Shop).where(Shop.domain == clean_shop_domain(domain)))
        except InvalidShopDomain:
            cache[domain] = None
    return cache[domain]


def _exists(session: Session, event: EmailEvent) -> bool:
    return (
        session.scalar(
            select(MessageEvent.id).where(
                MessageEvent.provider == PROVIDER,
                MessageEvent.provider_id == event.key,
                MessageEvent.event == event.kind,
            )
        )
        is not None
    )


def _message_for(session: Session, shop: Shop, event: EmailEvent) -> Message | None:
    """The message the event names, if it really is this shop's email to this address; locked."""
    if event.message_ref is None or not event.email:
        return None
    message = session.get(Message, event.message_ref, with_for_update=True)
    if message is None or message.shop_id != shop.id or message.channel != "email" or not message.recipient:
        return None
    if message.recipient.strip().lower() != event.email.strip().lower():
        return None
    return message
