"""The admin's JSON API under /api. Every request is a fetch authenticated by its session token,
and every query is scoped by the shop of that token (never by a parameter or the body).

    GET /api/settings             {"settings": {...}, "warnings": [...]}
    PUT /api/settings             the whole settings document; 400 bad JSON, 422 {"errors": [...]}
    GET /api/messages[?status=s]  {"messages": [...]} with the keys of reports.message_rows
    GET /api/messages/<id>        {"message": {...}}; 404 when the id is not this shop's
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, abort, jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session

from admin_ui.auth import app_runtime, authenticate, current_shop
from shop_app.database import transaction
from shop_app.domain.models import Status
from shop_app.domain.validation import FieldError, ValidationError
from shop_app.reports import message_rows
from shop_app.shops import load_settings, save_settings
from shop_app.tables import Shop

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


@bp.get("/settings")
def read_settings() -> ResponseReturnValue:
    with transaction(app_runtime().sessions) as session:
        settings = load_settings(session, _shop(session))
    return jsonify(settings=settings.to_document(), warnings=settings.warnings())


@bp.put("/settings")
def write_settings() -> ResponseReturnValue:
    raw = request.get_data(cache=False)
    try:
        document = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:  # includes UnicodeDecodeError and JSONDecodeError
        return jsonify(error=f"request body is not valid JSON: {exc}"), 400
    if not isinstance(document, dict):
        return _errors([FieldError("settings", "must be a JSON object")])
    try:
        with transaction(app_runtime().sessions) as session:  # a ValidationError rolls it back
            settings = save_settings(session, _shop(session), document)
    except ValidationError as exc:
        return _errors(exc.errors)
    return jsonify(settings=settings.to_document(), warnings=settings.warnings())


@bp.get("/messages")
def list_messages() -> ResponseReturnValue:
    wanted = request.args.getlist("status")
    bad = [value for value in wanted if value not in STATUSES]
    if bad:
        return _errors([FieldError("status", f"{value!r} is not one of {', '.join(STATUSES)}") for value in bad])
    with transaction(app_runtime().sessions) as session:
        rows = message_rows(session, _shop(session).domain, statuses=tuple(wanted))
    return jsonify(messages=rows)


@bp.get("/messages/<int:message_id>")
def show_message(message_id: int) -> ResponseReturnValue:
    with transaction(app_runtime().sessions) as session:
        rows = message_rows(session, _shop(session).domain, message_id=message_id)
    row = rows[0] if rows else None
    if row is None:  # another shop's id looks exactly like one that does not exist
        return jsonify(error=f"no message {message_id}"), 404
    return jsonify(message=row)
