"""The admin's privacy actions under /api (session token required, scoped by its shop):

    POST /api/suppressions/<id>/lift  {"confirm": true} → {"lifted": {...}, "consent": "..."}
                                      422 without the confirmation; 409 {"error"} when the suppression
                                      may not be lifted (a provider's, or an erased customer's);
                                      404 when the id is not this shop's
    GET  /api/exports                 {"exports": [...], "page": {...}} customers/data_request exports,
                                      newest first, without their contents (keyset pages as /api/messages)
    GET  /api/exports/<id>            the export itself, as a JSON attachment

Who lifted a suppression is the session token's `sub` (the staff user id); see
shop_app/compliance/privacy_admin.py for the rules.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, Response, jsonify
from flask.typing import ResponseReturnValue

from admin_ui.api import _errors, _json_body, _shop, page_json, paging
from admin_ui.auth import app_runtime, authenticate, current_token
from shop_app.compliance.privacy_admin import (
    LiftRefused,
    export_document,
    export_for,
    export_page,
    find_suppression,
    lift_json,
    lift_suppression,
)
from shop_app.domain.validation import FieldError
from shop_app.storage.database import transaction
from shop_app.storage.keyset import BadCursor

bp = Blueprint("privacy_api", __name__, url_prefix="/api")
_BIGGEST_ID = 2**63 - 1

#: What the answer to a lift says about consent, so the page can tell the merchant.
CONSENT_UNCHANGED = (
    "The address is no longer suppressed, but no consent was given: the customer's consent stays as "
    "they last stated it, and messages go out only where the shop's consent rules allow them."
)


CONFIRM_NEEDED = "must be true: confirm that the customer asked to hear from you again"


@bp.before_request
def _require_session() -> ResponseReturnValue | None:
    return authenticate(documents=False)


@bp.post("/suppressions/<int:suppression_id>/lift")
def lift(suppression_id: int) -> ResponseReturnValue:
    missing = jsonify(error=f"no suppression {suppression_id}"), 404
    if not 0 < suppression_id <= _BIGGEST_ID:
        return missing
    document, bad_json = _json_body()
    if bad_json is not None:
        return bad_json
    confirmed = isinstance(document, dict) and document.get("confirm") is True
    staff_user = current_token().user_id
    try:
        with transaction(app_runtime().sessions) as session:
            shop_id = _shop(session).id
            if find_suppression(session, shop_id, suppression_id) is None:
                return missing  # another shop's id looks exactly like one that does not exist
            if not confirmed:
                return _errors([FieldError("confirm", CONFIRM_NEEDED)])
            lifted = lift_suppression(session, shop_id, suppression_id, staff_user=staff_user, now=datetime.now(UTC))
            answer = None if lifted is None else lift_json(lifted)
    except LiftRefused as refused:
        return jsonify(error=str(refused)), 409
    if answer is None:  # gone since it was found (lifted concurrently)
        return missing
    return jsonify(lifted=answer, consent=CONSENT_UNCHANGED)


@bp.get("/exports")
def list_exports() -> ResponseReturnValue:
    try:
        cursor = paging()
    except BadCursor as exc:
        return jsonify(error=str(exc)), 400
    with transaction(app_runtime().sessions) as session:
        page = export_page(session, _shop(session).id, **cursor)
    return jsonify(exports=page.rows, page=page_json(page, cursor["limit"]))


@bp.get("/exports/<int:export_id>")
def download_export(export_id: int) -> ResponseReturnValue:
    missing = jsonify(error=f"no export {export_id}"), 404
    if not 0 < export_id <= _BIGGEST_ID:
        return missing
    with transaction(app_runtime().sessions) as session:
        row = export_for(session, _shop(session).id, export_id)
        body = None if row is None else export_document(row)
    if body is None:
        return missing
    response = Response(body, mimetype="application/json")
    response.headers["Content-Disposition"] = f'attachment; filename="data-request-{export_id}.json"'
    response.headers["Cache-Control"] = "no-store"
    return response
