"""The shop's plan as the app knows it: read through the Admin API, followed by webhook.

Two ways in, both from Shopify (the app never makes a charge under Shopify App Pricing):
- `refresh_plan` asks `currentAppInstallation.activeSubscriptions` and `shop.plan.partnerDevelopment`
  (after install, in the setup job; any time the app wants to be sure);
- `on_subscription_update` applies an `app_subscriptions/update` webhook. Its body
  (`{"app_subscription": {admin_graphql_api_id, name, status, plan_handle, updated_at, …}}`,
  shopify.dev webhooks reference; `plan_handle` since 2025-04) is applied only when it is not older
  than the newest moment applied (`ShopPlan.updated_at`): webhooks come in any order. An ACTIVE one becomes
  the shop's plan; CANCELLED, DECLINED, EXPIRED or FROZEN ends the plan only when it is the
  subscription the shop is on (the old one cancelled after a new one was activated changes
  nothing); PENDING changes nothing until the merchant approves.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.orm import Session

from shop_app.adapters.shopify_admin import AdminClient
from shop_app.adapters.shopify_admin_billing import BillingState, Subscription, read_billing_state
from shop_app.billing.plans import FREE, PLANS
from shop_app.domain.payloads import PayloadProblem
from shop_app.domain.plan_limits import ACTIVE, Entitlement, ShopPlanFacts, entitlement, find_plan
from shop_app.storage.billing_tables import ShopPlan
from shop_app.storage.tables import Shop

log = logging.getLogger(__name__)

TOPIC = "app_subscriptions/update"
#: Statuses that end the subscription they name (FROZEN: on hold for non-payment, back when paid).
ENDING = frozenset({"CANCELLED", "DECLINED", "EXPIRED", "FROZEN"})


def facts(plan: ShopPlan | None) -> ShopPlanFacts:
    if plan is None:
        return ShopPlanFacts(checked=False)
    public = plan.app_category in (None, "PUBLIC")
    return ShopPlanFacts(True, bool(plan.development), plan.handle, plan.name, plan.status, public)


def plan_of(session: Session, shop_id: int) -> ShopPlan | None:
    """What the app last read of the shop's plan (None: never read)."""
    return session.get(ShopPlan, shop_id)


def shop_entitlement(session: Session, shop_id: int) -> Entitlement:
    """What the shop's plan allows, from what the app last read."""
    return entitlement(PLANS, FREE, facts(plan_of(session, shop_id)))


def _row(session: Session, shop_id: int, now: datetime) -> ShopPlan:
    plan = session.get(ShopPlan, shop_id, with_for_update=True)
    if plan is None:
        plan = ShopPlan(shop_id=shop_id, development=False, checked_at=now, updated_at=now)
        session.add(plan)
    return plan


def refresh_plan(session: Session, shop: Shop, client: AdminClient, now: datetime) -> str:
    """Read the shop's subscriptions and development flag from Shopify and store them."""
    return store_state(session, shop, read_billing_state(client), now)


def store_state(session: Session, shop: Shop, state: BillingState, now: datetime) -> str:
    active = _current(state.subscriptions)
    plan = _row(session, shop.id, now)
    plan.development, plan.app_category = state.development, state.app_category[:16]
    _set(plan, active.id if active else None, active.name if active else None,
         active.plan_handle if active else None, active.status if active else None)  # fmt: skip
    # What Shopify said at `now` wins over a webhook about an earlier second that arrives later
    # (webhook times have whole seconds: one of the same second is applied, the tie goes to it).
    plan.checked_at, plan.updated_at = now, now.replace(microsecond=0)
    warn_if_unknown(shop.id, plan)
    return f"plan read: {describe(plan)}"


def warn_if_unknown(shop_id: int, plan: ShopPlan) -> None:
    """A warning line when the shop's active subscription is none of the app's plans (so it is
    not limited): plans.py's handles and names must be the Partner Dashboard's."""
    known = facts(plan)
    if known.development or not known.public_app or plan.status != ACTIVE or not (plan.handle or plan.name):
        return
    if find_plan(PLANS, plan.handle, plan.name) is None:
        log.warning(
            "shop %s: subscription plan handle %r, name %r is none of the app's plans (billing/plans.py): no limit",
            shop_id, plan.handle, plan.name,
        )  # fmt: skip


def _current(subscriptions: tuple[Subscription, ...]) -> Subscription | None:
    """The ACTIVE one (Shopify bills one per app and shop; if ever two, the one with the later period end)."""
    active = [s for s in subscriptions if s.status == ACTIVE]
    active.sort(key=lambda s: (s.current_period_end is not None, s.current_period_end or datetime.min))
    return active[-1] if active else None


def _set(plan: ShopPlan, subscription_id: str | None, name: str | None, handle: str | None, status: str | None) -> None:
    plan.subscription_id, plan.name = subscription_id, (name or None) and name[:255]
    plan.handle, plan.status = (handle or None) and handle[:64], status


def describe(plan: ShopPlan | None) -> str:
    granted = entitlement(PLANS, FREE, facts(plan))
    limit = "unlimited" if granted.monthly_journeys is None else f"{granted.monthly_journeys:,} journeys a month"
    return f"{granted.label} ({limit})"


def parse_subscription_update(payload: dict) -> tuple[str, str, str | None, str | None, datetime]:
    """(subscription gid, status, name, plan handle, updated_at) of an app_subscriptions/update body."""
    body = payload.get("app_subscription")
    if not isinstance(body, dict):
        raise PayloadProblem("app_subscription is missing")
    gid, status, updated = body.get("admin_graphql_api_id"), body.get("status"), body.get("updated_at")
    if not isinstance(gid, str) or not gid.startswith("gid://shopify/AppSubscription/"):
        raise PayloadProblem("app_subscription.admin_graphql_api_id is not an AppSubscription id")
    if not isinstance(status, str) or not status.strip():
        raise PayloadProblem("app_subscription.status is missing")
    try:
        updated_at = datetime.fromisoformat(str(updated))
    except ValueError:
        raise PayloadProblem("app_subscription.updated_at is not a time") from None
    if updated_at.tzinfo is None:
        raise PayloadProblem("app_subscription.updated_at has no offset")
    name, handle = body.get("name"), body.get("plan_handle")
    for field, value, longest in (("admin_graphql_api_id", gid, 128), ("status", status.strip(), 16),
                                  ("name", name, 255), ("plan_handle", handle, 64)):  # fmt: skip
        if isinstance(value, str) and len(value) > longest:  # the shop_plans columns' widths
            raise PayloadProblem(f"app_subscription.{field} is longer than {longest} characters")
    return (gid, status.strip().upper(), name if isinstance(name, str) else None,
            handle if isinstance(handle, str) else None, updated_at)  # fmt: skip


def on_subscription_update(session: Session, shop: Shop, payload: dict, now: datetime) -> str:
    """The ingest handler of app_subscriptions/update (jobs/ingest.py); returns the delivery's reason."""
    gid, status, name, handle, updated_at = parse_subscription_update(payload)
    known = plan_of(session, shop.id)
    if known is not None and updated_at < known.updated_at:
        return f"stale: subscription {status} of {updated_at:%Y-%m-%d %H:%M:%S} is older than the plan applied; ignored"
    if status not in ENDING and status != ACTIVE:
        return f"subscription {status}: plan unchanged until the merchant approves ({describe(known)})"
    if status in ENDING and known is not None and known.subscription_id not in (None, gid):
        return f"subscription {status}: not the one the shop is on; plan unchanged ({describe(known)})"
    plan = _row(session, shop.id, now)
    if status in (ACTIVE, "FROZEN"):
        _set(plan, gid, name, handle, status)
        warn_if_unknown(shop.id, plan)
    else:
        _set(plan, None, None, None, status)
    plan.updated_at, plan.checked_at = updated_at, max(plan.checked_at, now)
    return f"subscription {status}: plan now {describe(plan)}"


HANDLERS = {TOPIC: on_subscription_update}
