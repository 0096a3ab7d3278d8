"""The admin's channel connections under /api/channels (session token required, scoped by its shop).

    GET    /api/channels                          what is connected, the URLs to give Twilio, WhatsApp templates
    PUT    /api/channels/twilio                   connect the shop's Twilio account; 422 {"errors": [...]}
    DELETE /api/channels/twilio                   disconnect it (SMS and WhatsApp then need a connection)
    POST   /api/channels/whatsapp-templates       create and submit the WhatsApp templates the app needs
    POST   /api/channels/whatsapp-templates/refresh  ask Twilio for their approval state
    POST   /api/channels/test                     {"channel", "to"?, "language"?}: a test to the merchant's own
                                                  address (shop_app/channels/test_sends.py), never counted; 422
                                                  {"errors": [...]}, 409 not possible now, 502 the provider refused

The auth token is sealed at rest and never sent back.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue
from twilio.base.exceptions import TwilioException

from admin_ui.api import _errors, _json_body, _shop
from admin_ui.auth import app_runtime, authenticate
from shop_app import public_urls
from shop_app.adapters.twilio_messaging import ContentApiError, TwilioAccount, TwilioTransport
from shop_app.channels import accounts, test_sends
from shop_app.domain.validation import FieldError
from shop_app.messaging import whatsapp_templates
from shop_app.runtime import Runtime
from shop_app.storage.database import transaction

bp = Blueprint("channels", __name__, url_prefix="/api/channels")
_FIELDS = ("account_sid", "auth_token", "messaging_service_sid", "from_number", "whatsapp_from")
MAX_BODY = 4096


@bp.before_request
def _require_session() -> ResponseReturnValue | None:
    return authenticate(documents=False)


@bp.get("")
def overview() -> ResponseReturnValue:
    rt = app_runtime()
    settings = rt.settings
    with transaction(rt.sessions) as session:
        shop = _shop(session)
        connected = accounts.describe(session, shop.id)
        templates = whatsapp_templates.listing(session, shop.id)
    email = (
        "smtp"
        if settings.smtp_url
        else "sendgrid"
        if settings.sendgrid_api_key
        else ("development outbox" if settings.outbox_file else None)
    )
    return jsonify(
        email={"provider": email},
        twilio=connected["twilio"],
        twilio_urls={
            "inbound": public_urls.twilio_inbound(settings.shopify_app_url, shop.domain),
            "status_callbacks": f"{settings.shopify_app_url}/webhooks/twilio/status/…",
        },
        whatsapp_templates=templates,
    )


@bp.put("/twilio")
def connect_twilio() -> ResponseReturnValue:
    document, refused = _object_body("twilio", "must be a JSON object")
    if refused:
        return refused
    errors = [FieldError(f"twilio.{k}", "unknown field") for k in document if k not in _FIELDS]
    errors += [
        FieldError(f"twilio.{k}", "must be a string")
        for k in _FIELDS
        if document.get(k) is not None and not isinstance(document.get(k), str)
    ]
    if errors:
        return _errors(errors)
    account = _account(document)
    problems = account.validate(channels=("sms",) if not account.whatsapp_from else ("sms", "whatsapp"))
    if problems:
        return _errors([FieldError("twilio", problem) for problem in problems])
    rt = app_runtime()
    with transaction(rt.sessions) as session:
        shop = _shop(session)
        accounts.save_twilio(session, rt.box, shop.id, account)
        described = accounts.describe(session, shop.id)
    return jsonify(twilio=described["twilio"])


@bp.delete("/twilio")
def disconnect_twilio() -> ResponseReturnValue:
    rt = app_runtime()
    with transaction(rt.sessions) as session:
        accounts.forget(session, _shop(session).id)
    return jsonify(twilio=None)


@bp.post("/whatsapp-templates")
def create_templates() -> ResponseReturnValue:
    return _with_twilio(
        lambda rt, transport, shop_id, now: (
            whatsapp_templates.create_missing(rt.sessions, transport, shop_id, now),
            _listing(rt, shop_id),
        )[1]
    )


@bp.post("/whatsapp-templates/refresh")
def refresh_templates() -> ResponseReturnValue:
    return _with_twilio(
        lambda rt, transport, shop_id, now: whatsapp_templates.refresh(rt.sessions, transport, shop_id, now)
    )


@bp.post("/test")
def send_test_to_me() -> ResponseReturnValue:
    document, refused = _object_body("test", "must be a JSON object with channel and to")
    if refused:
        return refused
    unknown = [FieldError(str(k), "unknown field") for k in document if k not in ("channel", "to", "language")]
    if unknown:
        return _errors(unknown)
    rt = app_runtime()
    with transaction(rt.sessions) as session:
        shop_id = _shop(session).id
    try:
        test = test_sends.send_test(rt, shop_id, document.get("channel"), document.get("to"),
                                    document.get("language", "en"))  # fmt: skip
    except test_sends.NotSent as exc:
        return _errors(exc.errors) if exc.errors else (jsonify(error=str(exc)), 409)
    if not test.sent:
        refused = f"{test.provider} did not take the test: {test.result.detail or 'no reason given'}"
        return jsonify(error=refused, test=test.to_json()), 502
    return jsonify(test=test.to_json())


def _account(document: dict[str, object]) -> TwilioAccount:
    """The submitted account with every value trimmed. A blank optional value is None; a blank SID
    or token is "", which `validate` reports as missing (as it would None)."""
    given = {k: value.strip() for k in _FIELDS if isinstance(value := document.get(k), str)}
    return TwilioAccount(
        account_sid=given.get("account_sid", ""),
        auth_token=given.get("auth_token", ""),
        messaging_service_sid=given.get("messaging_service_sid") or None,
        from_number=given.get("from_number") or None,
        whatsapp_from=given.get("whatsapp_from") or None,
    )


#: A Content API action: (runtime, the shop's Twilio transport, shop id, now) → the template listing.
_Action = Callable[[Runtime, TwilioTransport, int, datetime], list[whatsapp_templates.Listed]]


def _listing(rt: Runtime, shop_id: int) -> list[whatsapp_templates.Listed]:
    with transaction(rt.sessions) as session:
        return whatsapp_templates.listing(session, shop_id)


def _with_twilio(action: _Action) -> ResponseReturnValue:
    """Run a Content API action for the shop's Twilio account; Twilio's refusals come back as 502."""
    rt = app_runtime()
    with transaction(rt.sessions) as session:
        shop_id = _shop(session).id
        transport = rt.transports.twilio(session, shop_id)
    if transport is None:
        return jsonify(error="connect a Twilio account first"), 409
    try:
        templates = action(rt, transport, shop_id, datetime.now(UTC))
    except (ContentApiError, TwilioException) as exc:
        return jsonify(error=f"Twilio refused the request: {exc}"), 502
    return jsonify(whatsapp_templates=templates)


def _object_body(field: str, message: str) -> tuple[dict, ResponseReturnValue | None]:
    """The request's JSON object within MAX_BODY, or the answer refusing it (413, 400, 422)."""
    if (request.content_length or 0) > MAX_BODY:
        return {}, (jsonify(error=f"request body is larger than {MAX_BODY} bytes"), 413)
    document, bad_json = _json_body()
    if bad_json:
        return {}, bad_json
    if not isinstance(document, dict):
        return {}, _errors([FieldError(field, message)])
    return document, None
