"""/settings/plan: the shop's plan (Shopify App Pricing) and this month's recovery journeys.

Read from what the app stored (shop_app/billing): the plan Shopify last reported, the journeys
started this month (UTC) against its limit, and the journeys the limit refused. Plans are chosen on
Shopify's own plan selection page, in the admin's top window (`target="_top"`: the app runs in an
iframe and cannot navigate the admin itself).
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask.typing import ResponseReturnValue
from sqlalchemy import func, select

from admin_ui.auth import app_runtime, current_shop
from admin_ui.layout import render_page
from admin_ui.pages import bp
from shop_app.billing.plans import PLANS, plan_selection_url
from shop_app.billing.subscriptions import facts, plan_of, shop_entitlement
from shop_app.billing.usage import RECOVERY, journeys_used
from shop_app.domain.plan_limits import usage_month
from shop_app.storage.database import transaction
from shop_app.storage.tables import Journey, Shop


@bp.get("/settings/plan")
def plan() -> ResponseReturnValue:
    rt = app_runtime()
    now = datetime.now(UTC)
    start, end = usage_month(now)
    with transaction(rt.sessions) as session:
        shop = session.get_one(Shop, current_shop().id)
        granted = shop_entitlement(session, shop.id)
        used = journeys_used(session, shop.id, now)
        refused = session.scalar(
            select(func.count())
            .select_from(Journey)
            .where(
                Journey.shop_id == shop.id,
                Journey.flow == RECOVERY,
                Journey.started_at >= start,
                Journey.started_at < end,
                Journey.plan_limited.is_(True),
            )
        )
        stored = plan_of(session, shop.id)
        checked_at, domain = (stored.checked_at if stored else None), shop.domain
        known = facts(stored)  # Shopify's plan selection page is a public app's, and not for a development store
    limit = granted.monthly_journeys
    return render_page(
        "plan/index.html",
        title="Plan",
        granted=granted,
        month=f"{start:%B %Y}",
        used=used,
        limit=limit,
        percent=_percent(used, limit),
        reached=limit is not None and used >= limit,
        refused=refused or 0,
        checked_at=checked_at,
        plans=PLANS,
        selection_url=plan_selection_url(domain) if known.public_app and not known.development else None,
    )


def _percent(used: int, limit: int | None) -> int | None:
    if limit is None:
        return None
    return min(100, round(100 * used / limit)) if limit else 100
