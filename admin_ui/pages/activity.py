"""/activity: journeys newest first, a keyset page at a time, searched by email, phone or checkout
token and filtered by status and flow; /activity/<journey id>: one journey's timeline.

A page link that is no longer valid (a changed cursor, an unknown status) never fails: the page
says so and shows the first page, or ignores the filter.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import request, url_for
from flask.typing import ResponseReturnValue

from admin_ui.auth import app_runtime, current_shop
from admin_ui.layout import render_page
from admin_ui.pages import bp
from shop_app.recovery.activity import FLOW_NAMES, JOURNEY_STATUSES, JourneyFilter, journey_page, read_search
from shop_app.recovery.timeline import journey_timeline
from shop_app.storage.database import transaction
from shop_app.storage.keyset import BadCursor, decode, page_size

MAX_SEARCH = 320
STATUS_NAMES = {"active": "Active", "converted": "Converted", "stopped": "Stopped"}
SEARCH_KINDS = {"email": "an email address", "phone": "a phone number (or checkout token)", "token": "a checkout token"}


def when(value: datetime | str | None) -> str:
    """A stored time in the shop's time zone, as the merchant reads it."""
    if value is None or value == "":
        return "—"
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    try:
        zone = ZoneInfo(current_shop().timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    local = moment.astimezone(zone)
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"


def link(endpoint: str, params: dict[str, Any]) -> str:
    """The URL of a page with these query parameters (those that are None left out)."""
    return url_for(endpoint, **{k: v for k, v in params.items() if v is not None})


def cursor_args(args: Any, after_key: str = "after", before_key: str = "before") -> tuple[dict[str, Any], str | None]:
    """The page's cursor and size from the query string, or the first page and a notice saying why."""
    after, before = args.get(after_key), args.get(before_key)
    try:
        if after is not None and before is not None:
            raise BadCursor("two page positions at once")
        for cursor in (after, before):
            if cursor is not None:
                decode(cursor)
        limit = page_size(args.get("limit"))
    except BadCursor:
        return {"after": None, "before": None, "limit": page_size(None)}, (
            "That page link is not valid any more, so the first page is shown."
        )
    return {"after": after, "before": before, "limit": limit}, None


def _journey_filter() -> tuple[JourneyFilter, list[str]]:
    notices = []
    search = request.args.get("q", "")[:MAX_SEARCH]
    status = request.args.get("status") or None
    if status is not None and status not in JOURNEY_STATUSES:
        notices.append(f"There is no journey status {status!r}; showing every status.")
        status = None
    flow = request.args.get("flow") or None
    if flow is not None and flow not in FLOW_NAMES:
        notices.append(f"There is no flow {flow!r}; showing every flow.")
        flow = None
    return JourneyFilter(search=search, status=status, flow=flow), notices


@bp.get("/activity")
def activity() -> ResponseReturnValue:
    wanted, notices = _journey_filter()
    cursor, bad_cursor = cursor_args(request.args)
    if bad_cursor:
        notices.append(bad_cursor)
    shop = current_shop()
    with transaction(app_runtime().sessions) as session:
        page = journey_page(session, shop, wanted, **cursor)
    kept: dict[str, Any] = {"q": wanted.search or None, "status": wanted.status, "flow": wanted.flow}
    if cursor["limit"] != page_size(None):
        kept["limit"] = cursor["limit"]
    search = read_search(wanted.search, shop.country_code)
    return render_page(
        "activity/index.html",
        title="Activity",
        journeys=page.rows,
        wanted=wanted,
        notices=notices,
        searched_as=SEARCH_KINDS[search.kind] if search else None,
        filtered=any(kept.values()),
        paged=bool(cursor["after"] or cursor["before"]),
        older_url=link("admin_ui.pages.activity", {**kept, "after": page.older}) if page.older else None,
        newer_url=link("admin_ui.pages.activity", {**kept, "before": page.newer}) if page.newer else None,
        first_url=link("admin_ui.pages.activity", kept),
        statuses=STATUS_NAMES,
        flows=FLOW_NAMES,
        when=when,
    )


@bp.get("/activity/<int:journey_id>")
def journey(journey_id: int) -> ResponseReturnValue:
    found = None
    if 0 < journey_id < 2**63:
        with transaction(app_runtime().sessions) as session:
            found = journey_timeline(session, current_shop().id, journey_id)
    if found is None:  # another shop's journey looks exactly like one that does not exist
        return render_page("activity/missing.html", title="Journey not found", status=404, journey_id=journey_id)
    return render_page(
        "activity/journey.html", title=f"Journey {journey_id}", timeline=found, statuses=STATUS_NAMES, when=when
    )
