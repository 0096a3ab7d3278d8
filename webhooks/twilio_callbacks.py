"""What Twilio tells us: message status callbacks and inbound SMS/WhatsApp messages.

Both are signed with `X-Twilio-Signature` by the auth token of the shop's own Twilio
account. The signature covers the URL Twilio requested, which is the public URL we gave
it (SHOPIFY_APP_URL + path), not whatever a TLS-terminating proxy hands to Flask.

Status callbacks come late, twice and out of order
(twilio.com/docs/messaging/guides/outbound-message-status-in-status-callbacks): each (sid, status) is
kept once as a MessageEvent, and the message's delivery status only moves forward.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from xml.sax.saxutils import escape

from flask import Blueprint, Response, current_app, request
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from shop_app.adapters.twilio_messaging import normalized_status, valid_signature
from shop_app.channels.accounts import twilio_account
from shop_app.compliance.suppressions import lift, record_consent, suppress
from shop_app.domain import delivery
from shop_app.domain.addresses import scrub_provider_text
from shop_app.domain.keywords import Intent, intent_of
from shop_app.domain.models import Status
from shop_app.recovery import outbox
from shop_app.runtime import Runtime
from shop_app.shopify.signatures import InvalidShopDomain, clean_shop_domain
from shop_app.storage.database import insert_new, transaction
from shop_app.storage.tables import Message, MessageEvent, Shop

log = logging.getLogger(__name__)
bp = Blueprint("twilio_callbacks", __name__, url_prefix="/webhooks/twilio")

#: Delivery-time error codes that mean the person opted out (21610) or blocked us on WhatsApp
#: (63014); twilio.com/docs/api/errors. 30004 "message blocked" also covers carrier filtering and DND, which
#: say nothing about the customer's wishes: it is kept as the delivery detail only.
OPTED_OUT_CODES = {"21610", "63014"}
#: The longest address we store (an email's limit; a phone number or whatsapp:+… is far shorter).
MAX_ADDRESS = 320
#: Message ids are BIGINT row ids; anything outside that range is no message of ours.
MAX_ID = 2**63 - 1


def _public_url() -> str:
    app_url = current_app.extensions["reclaim"].settings.shopify_app_url
    # Twilio percent-encodes its URLs: a byte that is not UTF-8 makes a URL it never signed (403).
    query = request.query_string.decode("utf-8", "replace")
    return app_url + request.path + (f"?{query}" if query else "")


def _refused() -> tuple[str, int]:
    # One answer for "unknown message" and "bad signature": nothing to learn by probing ids.
    return "signature not valid for this callback", 403


@bp.post("/status/<int:message_id>")
def message_status(message_id: int):
    rt = current_app.extensions["reclaim"]
    form = request.form
    sid, raw_status = form.get("MessageSid", ""), form.get("MessageStatus", "")
    if not 0 < message_id <= MAX_ID:
        return _refused()
    with transaction(rt.sessions) as session:
        message = session.get(Message, message_id)
        account = twilio_account(session, rt.box, message.shop_id) if message is not None else None
        if account is None or not valid_signature(
            account.auth_token, _public_url(), form, request.headers.get("X-Twilio-Signature", "")
        ):
            return _refused()
        message = session.get_one(Message, message_id, with_for_update=True, populate_existing=True)
        if not sid or (message.provider_id and message.provider_id != sid):
            return "callback does not belong to this message", 400
        status = normalized_status(raw_status)
        error = form.get("ErrorCode") or None
        if not _record_event(session, message, sid, status or f"twilio:{raw_status}"[:24], error, form):
            return "", 200  # the same callback again
        if message.provider_id is None:
            message.provider_id = sid  # the create answer was lost; Twilio signed this URL for this message only
        _apply(rt, session, message, status, error)
    return "", 200


def _record_event(
    session: Session, message: Message, sid: str, event: str, error: str | None, form: MultiDict[str, str]
) -> bool:
    """Keep the callback once per (sid, status); False when it came before."""
    return insert_new(
        session,
        MessageEvent,
        shop_id=message.shop_id,
        message_id=message.id,
        provider="twilio",
        provider_id=sid,
        event=event,
        detail=f"error {error}" if error else None,
        raw=form.to_dict(flat=True),
    )


def _apply(rt: Runtime, session: Session, message: Message, status: str | None, error: str | None) -> None:
    now = datetime.now(UTC)
    if status is None:
        return
    moved = delivery.advance(message.delivery_status, status)
    if moved is not None:
        message.delivery_status = moved
        message.delivery_detail = f"Twilio error {error}" if error else None
    # A row left `unknown` (we never heard Twilio's answer) is settled by what Twilio says.
    if message.status == Status.UNKNOWN.value:
        if status in delivery.NOT_DELIVERED:
            reason = f"failed: Twilio says {status} (error {error})"
            outbox.settle_unknown(session, message.id, Status.FAILED, now, reason)
        elif delivery.RANK.get(status, 0) >= delivery.RANK["queued"]:
            outbox.settle_unknown(session, message.id, Status.SENT, now, None)
    if error in OPTED_OUT_CODES and message.recipient:
        suppress(
            session,
            rt.settings.secret_key,
            message.shop_id,
            message.channel,
            message.recipient,
            f"Twilio error {error}: the recipient opted out or blocked this sender",
        )
        record_consent(
            session, message.shop_id, message.channel, message.recipient, granted=False, source="provider", at=now
        )


@bp.post("/inbound/<shop_domain>")
def inbound(shop_domain: str):
    rt = current_app.extensions["reclaim"]
    try:
        domain = clean_shop_domain(shop_domain)
    except InvalidShopDomain:
        return "unknown shop", 404
    form = request.form
    with transaction(rt.sessions) as session:
        shop = session.scalar(select(Shop).where(Shop.domain == domain, Shop.status == "installed"))
        account = twilio_account(session, rt.box, shop.id) if shop is not None else None
        if (
            shop is None
            or account is None
            or not valid_signature(
                account.auth_token, _public_url(), form, request.headers.get("X-Twilio-Signature", "")
            )
        ):
            return _refused()
        sender = form.get("From", "")
        if len(sender) > MAX_ADDRESS or "\x00" in sender:
            return "From is not a phone number or WhatsApp address", 400
        channel, address = (
            ("whatsapp", sender[len("whatsapp:") :]) if sender.startswith("whatsapp:") else ("sms", sender)
        )
        intent = intent_of(form.get("Body"), form.get("OptOutType"))
        if not address or intent is None:
            return _twiml()
        now = datetime.now(UTC)
        secret = rt.settings.secret_key
        if intent is Intent.STOP:
            said = scrub_provider_text(form.get("Body", ""), address).strip()  # a reply may quote a number
            suppress(
                session,
                secret,
                shop.id,
                channel,
                address,
                f"replied {said[:20]!r} by {channel.upper() if channel == 'sms' else 'WhatsApp'} on {now:%Y-%m-%d}",
                source="keyword",
            )
            record_consent(session, shop.id, channel, address, granted=False, source="keyword", at=now)
            log.info("shop %s: %s opt-out by keyword", shop.id, channel)
            return _twiml()
        if intent is Intent.START:
            lift(session, secret, shop.id, channel, address)
            record_consent(session, shop.id, channel, address, granted=True, source="keyword", at=now)
            return _twiml()
        contact = f" Help: {shop.email}." if shop.email else ""
        return _twiml(f"{shop.name}: cart reminders.{contact} Reply STOP to opt out.")


def _twiml(reply: str | None = None) -> Response:
    body = f"<Message>{escape(reply)}</Message>" if reply else ""
    return Response(f'<?xml version="1.0" encoding="UTF-8"?><Response>{body}</Response>', mimetype="text/xml")
