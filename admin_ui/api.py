"""The admin's JSON API under /api. Every request is a fetch authenticated by its session token,
and every query is scoped by the shop of that token (never by a parameter or the body).

    GET /api/settings             {"settings": {...}, "warnings": [...]}
    PUT /api/settings             the whole settings document; 400 bad JSON, 422 {"errors": [...]}
    GET /api/messages[?status=s]  {"messages": [...], "page": {...}} newest first, a keyset page at a time
                                  (rows as shop_app.recovery.activity.message_rows); see `paging`
    GET /api/messages/<id>        {"message": {...}}; 404 when the id is not this shop's
    GET /api/suppressions         {"suppressions": [{"channel", "address", "reason", "since"}]}

    GET    /api/templates                             {"templates": [entry...], "tone", "fields", "sms_cap"}
    PUT    /api/templates/<step>/<channel>/<language> {"subject", "body", "html"} → {"template": entry};
                                                      422 {"errors": [...]} (merchant_templates.check_template)
    DELETE /api/templates/<step>/<channel>/<language> back to the default → {"template": entry, "removed": bool}
    POST   /api/templates/preview                     {"channel", "language"?, "tone"?, "step"?, "subject"?,
                                                      "body"?, "html"?, "with_discount"?} → {"preview", "problems"}

Listings are keyset pages, newest first: `?limit=` (default 50, at most 100), `?after=<page.next>` for
older rows, `?before=<page.previous>` for newer ones; `page.next`/`page.previous` are null at the ends.
A cursor or limit that is not one the API gave out is a 400 {"error": ...}, never a 500.

An entry is merchant_templates.TemplateEntry.to_json(). An unknown step, channel or language is a 404.
A preview answers 422 only when a part does not render; what a save would still refuse comes back as
"problems", so a live preview can show "4 segments" while the merchant types.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, abort, jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.orm import Session

from admin_ui.auth import app_runtime, authenticate, current_shop
from shop_app.config import MAX_WEBHOOK_BYTES
from shop_app.domain.models import Channel, Status, Step
from shop_app.domain.settings import TONES
from shop_app.domain.sms import MAX_SMS_SEGMENTS
from shop_app.domain.validation import FieldError, ValidationError
from shop_app.messaging.defaults import LANGUAGES, default_template
from shop_app.messaging.merchant_templates import (
    EDITABLE,
    PARTS,
    UnknownTemplate,
    check_template,
    reset_template,
    save_template,
    template_entry,
    template_key,
    templates_for,
)
from shop_app.messaging.sandbox import FIELD_NAMES, TemplateRefused, preview
from shop_app.messaging.texts import text_to_html
from shop_app.recovery.activity import message_page, message_rows
from shop_app.request_body import read_body
from shop_app.shopify.shops import load_settings, save_settings
from shop_app.storage.database import transaction
from shop_app.storage.keyset import BadCursor, Page, decode, page_size
from shop_app.storage.tables import Shop, Suppression

bp = Blueprint("api", __name__, url_prefix="/api")
STATUSES = tuple(s.value for s in Status)


@bp.before_request
def _require_session() -> ResponseReturnValue | None:
    return authenticate(documents=False)


def _errors(errors: list[FieldError], status: int = 422) -> ResponseReturnValue:
    return jsonify(errors=[{"field": e.field, "message": e.message} for e in errors]), status


def _shop(session: Session) -> Shop:
    """The authenticated shop, loaded in this unit of work."""
    shop = session.get(Shop, current_shop().id)
    if shop is None:  # erased (shop/redact) between authentication and now
        abort(401, description="this shop is no longer installed")
    return shop


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in JSON")


def _json_body() -> tuple[Any, ResponseReturnValue | None]:
    """The request's JSON document, or a 400 answer saying why it is not one."""
    raw = read_body(request, request.max_content_length or MAX_WEBHOOK_BYTES)  # 413 past the app's limit
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_reject_constant), None
    except (ValueError, RecursionError) as exc:  # includes UnicodeDecodeError and JSONDecodeError
        return None, (jsonify(error=f"request body is not valid JSON: {exc}"), 400)


@bp.errorhandler(413)
def _too_large(exc: Exception) -> ResponseReturnValue:
    return jsonify(error="request body is too large"), 413


@bp.get("/settings")
def read_settings() -> ResponseReturnValue:
    rt = app_runtime()
    with transaction(rt.sessions) as session:
        shop = _shop(session)
        settings = load_settings(session, shop)
        connected = rt.transports.connection_facts(session, shop.id)
    return jsonify(settings=settings.to_document(), warnings=settings.warnings(connected))


@bp.put("/settings")
def write_settings() -> ResponseReturnValue:
    document, bad_json = _json_body()
    if bad_json is not None:
        return bad_json
    if not isinstance(document, dict):
        return _errors([FieldError("settings", "must be a JSON object")])
    rt = app_runtime()
    try:
        with transaction(rt.sessions) as session:  # a ValidationError rolls it back
            shop = _shop(session)
            settings = save_settings(session, shop, document)
            connected = rt.transports.connection_facts(session, shop.id)
    except ValidationError as exc:
        return _errors(exc.errors)
    return jsonify(settings=settings.to_document(), warnings=settings.warnings(connected))


def paging() -> dict[str, Any]:
    """`after`, `before` and `limit` from the query string, checked; BadCursor when they are not
    usable (the caller answers 400)."""
    after, before = request.args.get("after"), request.args.get("before")
    if after is not None and before is not None:
        raise BadCursor("give either after or before, not both")
    for cursor in (after, before):
        if cursor is not None:
            decode(cursor)
    return {"after": after, "before": before, "limit": page_size(request.args.get("limit"))}


def page_json(page: Page[Any], limit: int) -> dict[str, Any]:
    return {"next": page.older, "previous": page.newer, "limit": limit}


@bp.get("/messages")
def list_messages() -> ResponseReturnValue:
    wanted = request.args.getlist("status")
    bad = [value for value in wanted if value not in STATUSES]
    if bad:
        return _errors([FieldError("status", f"{value!r} is not one of {', '.join(STATUSES)}") for value in bad])
    try:
        cursor = paging()
    except BadCursor as exc:
        return jsonify(error=str(exc)), 400
    with transaction(app_runtime().sessions) as session:
        page = message_page(session, _shop(session).id, statuses=tuple(wanted), **cursor)
    return jsonify(messages=page.rows, page=page_json(page, cursor["limit"]))


@bp.get("/messages/<int:message_id>")
def show_message(message_id: int) -> ResponseReturnValue:
    if not 0 < message_id < 2**63:  # not a row id at all; the database would refuse the number
        return jsonify(error=f"no message {message_id}"), 404
    with transaction(app_runtime().sessions) as session:
        rows = message_rows(session, _shop(session).domain, message_id=message_id)
    row = rows[0] if rows else None
    if row is None:  # another shop's id looks exactly like one that does not exist
        return jsonify(error=f"no message {message_id}"), 404
    return jsonify(message=row)


# --- templates ---------------------------------------------------------------------------------


@bp.get("/templates")
def list_templates() -> ResponseReturnValue:
    with transaction(app_runtime().sessions) as session:
        shop = _shop(session)
        entries = templates_for(session, shop.id)
        tone = load_settings(session, shop).tone
    return jsonify(templates=[entry.to_json() for entry in entries], tone=tone, fields=sorted(FIELD_NAMES),
                   sms_cap=MAX_SMS_SEGMENTS)  # fmt: skip


@bp.put("/templates/<step>/<channel>/<language>")
def write_template(step: str, channel: str, language: str) -> ResponseReturnValue:
    try:
        template_key(step, channel, language)
    except UnknownTemplate as exc:
        return jsonify(error=str(exc)), 404
    document, bad_json = _json_body()
    if bad_json is not None:
        return bad_json
    if not isinstance(document, dict):
        return _errors([FieldError("template", "must be a JSON object with subject, body and html")])
    unknown = sorted(set(document) - set(PARTS))
    if unknown:
        return _errors([FieldError(key, "unknown field; a template has subject, body and html") for key in unknown])
    try:
        with transaction(app_runtime().sessions) as session:  # an InvalidTemplate rolls it back
            shop = _shop(session)
            save_template(session, shop.id, step, channel, language, **{part: document.get(part) for part in PARTS})
            entry = template_entry(session, shop.id, step, channel, language)
    except ValidationError as exc:
        return _errors(exc.errors)
    return jsonify(template=entry.to_json())


@bp.delete("/templates/<step>/<channel>/<language>")
def delete_template(step: str, channel: str, language: str) -> ResponseReturnValue:
    try:
        with transaction(app_runtime().sessions) as session:
            shop = _shop(session)
            removed = reset_template(session, shop.id, step, channel, language)
            entry = template_entry(session, shop.id, step, channel, language)
    except UnknownTemplate as exc:
        return jsonify(error=str(exc)), 404
    return jsonify(template=entry.to_json(), removed=removed)


_PREVIEW_KEYS = {"channel", "language", "tone", "step", "with_discount", *PARTS}
_EDITABLE_CHANNELS = tuple(dict.fromkeys(channel.value for _, channel in EDITABLE))


@dataclass
class _PreviewRequest:
    channel: Channel
    language: str
    tone: str
    step: Step
    parts: dict[str, str]  # subject / body / html sources
    with_discount: bool


@bp.post("/templates/preview")
def preview_template() -> ResponseReturnValue:
    document, bad_json = _json_body()
    if bad_json is not None:
        return bad_json
    if not isinstance(document, dict):
        return _errors([FieldError("preview", "must be a JSON object")])
    with transaction(app_runtime().sessions) as session:
        shop = _shop(session)
        shop_name, shop_domain, shop_tone = shop.name, shop.domain, load_settings(session, shop).tone
    wanted = _preview_request(document, shop_tone)
    if isinstance(wanted, list):
        return _errors(wanted)
    shown: dict[str, Any] = {"subject": None, "body": None, "html": None, "sms": None}
    errors: list[FieldError] = []
    for name, source in wanted.parts.items():
        try:
            result = preview(source, wanted.channel, wanted.language, wanted.tone, html=name == "html",
                             with_discount=wanted.with_discount, shop_name=shop_name,
                             shop_domain=shop_domain)  # fmt: skip
        except TemplateRefused as refused:
            errors.append(FieldError(name, refused.reason))
            continue
        if name == "subject":
            shown[name] = " ".join(result.text.split())  # sent on one line
        elif name == "body":
            shown[name] = result.text.strip()
        else:
            shown[name] = result.text
        if result.report is not None:
            shown["sms"] = result.report.to_json()
    if errors:
        return _errors(errors)
    if wanted.channel is Channel.EMAIL and shown["html"] is None:  # as compose() sends it
        shown["html"] = text_to_html(shown["body"])
    key = template_key(wanted.step, wanted.channel, wanted.language)
    problems = check_template(key, **{name: wanted.parts.get(name) for name in PARTS}, shop_name=shop_name,
                              shop_domain=shop_domain)  # fmt: skip
    return jsonify(preview=shown, problems=[{"field": e.field, "message": e.message} for e in problems])


def _preview_request(document: dict[str, Any], shop_tone: str) -> _PreviewRequest | list[FieldError]:
    """What to preview, or every problem with the request. Without a body, the step's default
    text in the tone is previewed; with a body and no subject, the default subject is shown."""
    errors = [FieldError(str(key), "unknown field") for key in sorted(set(document) - _PREVIEW_KEYS, key=str)]
    channel = document.get("channel")
    if channel not in _EDITABLE_CHANNELS:
        return [*errors, FieldError("channel", "must be one of " + ", ".join(_EDITABLE_CHANNELS))]
    channel = Channel(channel)
    language = document.get("language", "en")
    if language not in LANGUAGES:
        errors.append(FieldError("language", "must be one of " + ", ".join(LANGUAGES)))
        language = "en"
    tone = document.get("tone", shop_tone)
    if tone not in TONES:
        errors.append(FieldError("tone", "must be one of " + ", ".join(TONES)))
    with_discount = document.get("with_discount", True)
    if not isinstance(with_discount, bool):
        errors.append(FieldError("with_discount", "must be true or false"))
    step = document.get("step")
    try:
        key = template_key(step, channel, language) if step is not None else None
    except UnknownTemplate as exc:
        errors.append(FieldError("step", str(exc)))
        key = None
    parts = {name: document[name] for name in PARTS if document.get(name) is not None}
    errors += [FieldError(name, "must be text (a string) or null") for name, value in parts.items()
               if not isinstance(value, str)]  # fmt: skip
    if "body" not in parts and step is None:
        errors.append(FieldError("body", "is required (or give a step to preview its default text)"))
    if errors:
        return errors
    step = key.step if key else next(s for s, c in EDITABLE if c is channel)
    default = default_template(step, channel, language, tone)
    filled = PARTS if "body" not in parts else ("subject",)
    for name in filled:
        if name not in parts and getattr(default, name) is not None:
            parts[name] = getattr(default, name)
    return _PreviewRequest(channel, language, tone, step, parts, with_discount)


@bp.get("/suppressions")
def list_suppressions() -> ResponseReturnValue:
    """Who will not be contacted, on which channel, and why. An erased customer's opt-out is kept
    only as a keyed hash, shown as such: it still blocks sends, but names nobody."""
    with transaction(app_runtime().sessions) as session:
        shop = _shop(session)
        rows = session.scalars(
            select(Suppression).where(Suppression.shop_id == shop.id).order_by(Suppression.created_at.desc())
        ).all()
        listed = [
            {
                "channel": row.channel,
                "address": "(erased customer)" if row.address.startswith("hmac-sha256:") else row.address,
                "reason": row.reason,
                "since": row.created_at.isoformat(),
            }
            for row in rows
        ]
    return jsonify(suppressions=listed)
