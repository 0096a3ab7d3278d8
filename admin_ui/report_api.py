"""The results report under /api (issue 12, point 3): session token required, scoped by its shop.

GET /api/report[?days=N | ?from=YYYY-MM-DD&to=YYYY-MM-DD]
    the report document (shop_app/reporting/measurement.to_json), the same numbers as
    `reclaim report --json`: the N local days ending today (default 15, the validation cycle),
    or the days from … to (both, at most 366); 400 {"error"} naming what is wrong otherwise.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from admin_ui.api import _shop
from admin_ui.auth import app_runtime, authenticate
from shop_app.reporting.measurement import BadRange, measure, parse_range, to_json, today_in
from shop_app.storage.database import transaction

bp = Blueprint("report_api", __name__, url_prefix="/api")


@bp.before_request
def _require_session() -> ResponseReturnValue | None:
    return authenticate(documents=False)


@bp.get("/report")
def report() -> ResponseReturnValue:
    args = request.args
    now = datetime.now(UTC)
    with transaction(app_runtime().sessions) as session:
        shop = _shop(session)
        try:
            first, last = parse_range(today_in(shop, now), args.get("days"), args.get("from"), args.get("to"))
        except BadRange as exc:
            return jsonify(error=str(exc)), 400
        return jsonify(to_json(measure(session, shop, first, last, now)))
