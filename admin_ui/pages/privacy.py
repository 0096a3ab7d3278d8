"""/privacy: the suppression list (newest first, a keyset page at a time), lifting a customer's
own opt-out with a confirmation, the latest lifts and who made them, and the
customers/data_request exports to download as JSON.

The lift and the download go through the JSON API (admin_ui/privacy_api.py) from privacy.js.
The suppression list pages with `?after=`/`?before=`, the exports with
`?exports_after=`/`?exports_before=`; a page link that is not valid shows the first page.
"""

from __future__ import annotations

from typing import Any

from flask import request
from flask.typing import ResponseReturnValue

from admin_ui.auth import app_runtime, current_shop
from admin_ui.layout import render_page
from admin_ui.pages import bp
from admin_ui.pages.activity import cursor_args, link, when
from admin_ui.privacy_api import CONSENT_UNCHANGED
from shop_app.compliance.privacy_admin import LIFTABLE, export_page, recent_lifts, suppression_page
from shop_app.storage.database import transaction
from shop_app.storage.keyset import Page

CHANNEL_NAMES = {"email": "Email", "sms": "SMS", "whatsapp": "WhatsApp", "push": "Browser push"}


def _links(page: Page[Any], kept: dict[str, str], after: str, before: str) -> dict[str, str | None]:
    return {
        "older": link("admin_ui.pages.privacy", {**kept, after: page.older}) if page.older else None,
        "newer": link("admin_ui.pages.privacy", {**kept, before: page.newer}) if page.newer else None,
    }


def _position(cursor: dict[str, Any], after: str, before: str) -> dict[str, str]:
    return {name: cursor[key] for name, key in ((after, "after"), (before, "before")) if cursor[key]}


@bp.get("/privacy")
def privacy() -> ResponseReturnValue:
    notices = []
    suppressions_at, bad = cursor_args(request.args)
    exports_at, bad_exports = cursor_args(request.args, "exports_after", "exports_before")
    notices += [notice for notice in (bad, bad_exports) if notice]
    shop_id = current_shop().id
    with transaction(app_runtime().sessions) as session:
        suppressions = suppression_page(session, shop_id, **suppressions_at)
        exports = export_page(session, shop_id, **exports_at)
        lifts = recent_lifts(session, shop_id)
    # Each list keeps the other's position when it pages.
    keep_exports = {
        k: v for k, v in (("exports_after", exports_at["after"]), ("exports_before", exports_at["before"])) if v
    }
    keep_suppressions = {
        k: v for k, v in (("after", suppressions_at["after"]), ("before", suppressions_at["before"])) if v
    }
    return render_page(
        "privacy/index.html",
        title="Privacy",
        notices=notices,
        suppressions=suppressions.rows,
        suppression_links=_links(suppressions, keep_exports, "after", "before"),
        exports=exports.rows,
        export_links=_links(exports, keep_suppressions, "exports_after", "exports_before"),
        lifts=lifts,
        liftable=LIFTABLE,
        channels=CHANNEL_NAMES,
        consent_unchanged=CONSENT_UNCHANGED,
        when=when,
    )
