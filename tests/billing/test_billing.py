"""Billing end to end (issue 14, item 1): the plan read through the development Admin API
(subscriptions answered from memory, every request validated against the 2026-07 schema), the
signed app_subscriptions/update webhook, the planner refusing journeys over the plan's monthly
limit with the reason "plan limit" (through the real checkout webhook and ingest job), a
development store unlimited, and the admin page showing the plan and the month's usage."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

import jobs.shop
from shop_app.adapters.shopify_admin import AdminClient
from shop_app.adapters.shopify_admin_billing import read_billing_state
from shop_app.billing.plans import APP_HANDLE, FREE, plan_selection_url
from shop_app.billing.subscriptions import plan_of
from shop_app.billing.usage import journeys_used
from shop_app.devtools.admin_billing import billing_of
from shop_app.shopify.shops import get_shop
from shop_app.storage.billing_tables import ShopPlan
from shop_app.storage.database import transaction
from shop_app.storage.tables import CheckoutRow, Journey
from tests.conftest import admin_schema_path, shared_path
from tests.tokens import session_token

SHOP_A = "demo-shop.myshopify.com"  # the `store` fixture's shop
ROOT = Path(__file__).resolve().parents[2]
BROWSER = {"Accept": "text/html"}


@pytest.fixture
def sign_in(rt):
    def make(shop: str = SHOP_A) -> str:
        return session_token(shop, api_key=rt.settings.shopify_api_key, secret=rt.settings.shopify_api_secret)

    return make


def now() -> datetime:
    return datetime.now(UTC)


def recent() -> str:
    """An abandonment a few minutes ago: the planner plans its steps in the future."""
    return (now() - timedelta(minutes=5)).replace(microsecond=0).isoformat()


def plan_row(rt, domain: str = SHOP_A) -> ShopPlan | None:
    """What the app stored of the shop's plan (None: never read)."""
    with transaction(rt.sessions) as session:
        plan = plan_of(session, get_shop(session, domain).id)
        if plan is not None:
            session.expunge(plan)
        return plan


def plan_fields(rt) -> tuple:
    plan = plan_row(rt)
    assert plan is not None
    return plan.handle, plan.name, plan.status


def run_setup(rt, domain: str = SHOP_A) -> str:
    """The post-install setup job, as after a fresh install (it reads the plan too)."""
    with transaction(rt.sessions) as session:
        shop = get_shop(session, domain)
        shop.setup_completed_at, shop.setup_attempts = None, 0
        shop_id = shop.id
    return jobs.shop.after_install(shop_id)


def used_up(rt, count: int, domain: str = SHOP_A) -> None:
    """`count` recovery journeys already started this month (and one last month, not counted)."""
    with transaction(rt.sessions) as session:
        shop_id = get_shop(session, domain).id
        at = now()
        rows = [Journey(shop_id=shop_id, flow="recovery", abandoned_at=at, started_at=at) for _ in range(count)]
        last_month = at.replace(day=1) - timedelta(days=1)
        rows.append(Journey(shop_id=shop_id, flow="recovery", abandoned_at=last_month, started_at=last_month))
        session.add_all(rows)


def journey_of(rt, token: str) -> Journey:
    with transaction(rt.sessions) as session:
        found = session.scalars(
            select(Journey).join(CheckoutRow, CheckoutRow.id == Journey.checkout_id).where(CheckoutRow.token == token)
        ).one()
        session.expunge(found)
        return found


# --- reading the plan ------------------------------------------------------------------------------


def test_the_development_admin_api_answers_the_subscriptions_validated_against_the_schema(rt, store, admin_api):
    admin_schema_path()  # skips in a clone without ../shared
    assert admin_api.validating
    billing = billing_of(admin_api)
    billing.set_development(SHOP_A, False)
    billing.subscribe(SHOP_A, "Free", "free", at=now() - timedelta(days=3))
    growth = billing.subscribe(SHOP_A, "Growth", "growth")
    with AdminClient(rt.settings, SHOP_A, admin_api.issue_token(SHOP_A)) as client:
        state = read_billing_state(client)
    assert not state.development
    assert [(s.id, s.name, s.status, s.plan_handle) for s in state.subscriptions] == [
        (growth.id, "Growth", "ACTIVE", "growth")  # the Free one was replaced: CANCELLED, no longer active
    ]
    [request] = admin_api.graphql_requests("AppBillingState")
    assert request.status == 200 and "errors" not in request.answer


def test_the_setup_job_reads_the_plan_after_install(rt, store, admin_api):
    billing_of(admin_api).set_development(SHOP_A, False)
    assert plan_row(rt) is None  # installed before billing: never read, not limited yet
    assert run_setup(rt).startswith("set up ")
    plan = plan_row(rt)
    assert plan is not None and not plan.development and plan.name is None

    billing_of(admin_api).subscribe(SHOP_A, "Scale", "scale")
    run_setup(rt)
    assert plan_fields(rt) == ("scale", "Scale", "ACTIVE")


# --- following the webhook ----------------------------------------------------------------------------


def test_app_subscriptions_update_is_signed_recorded_and_applied_in_order(rt, store, admin_api):
    billing = billing_of(admin_api)
    billing.set_development(SHOP_A, False)
    run_setup(rt)  # Free: no subscription
    start = now()
    growth = billing.subscribe(SHOP_A, "Growth", "growth", at=start + timedelta(minutes=1))
    activated = billing.webhook_payload(SHOP_A, growth)

    # Unsigned (wrong secret): refused, nothing recorded.
    assert store.post("app_subscriptions/update", activated, secret="not-the-secret").status_code == 401
    assert plan_fields(rt) == (None, None, None)

    store.deliver("app_subscriptions/update", activated)
    assert plan_fields(rt) == ("growth", "Growth", "ACTIVE")
    assert plan_row(rt).subscription_id == growth.id

    # The merchant moves to Scale: Shopify cancels Growth and activates Scale; the cancellation
    # arrives after the activation, and must not take the shop back to Free.
    scale = billing.subscribe(SHOP_A, "Scale", "scale", at=start + timedelta(minutes=2))
    [cancelled] = [s for s in billing.subscriptions(SHOP_A) if s.id == growth.id]
    store.deliver("app_subscriptions/update", billing.webhook_payload(SHOP_A, scale))
    store.deliver("app_subscriptions/update", billing.webhook_payload(SHOP_A, cancelled))
    assert plan_fields(rt)[0] == "scale"

    # A late copy of the first activation (older updated_at) changes nothing either.
    store.deliver("app_subscriptions/update", activated)
    assert plan_fields(rt)[0] == "scale"

    # Scale is cancelled: back to Free.
    ended = billing.cancel(SHOP_A, at=start + timedelta(minutes=3))
    store.deliver("app_subscriptions/update", billing.webhook_payload(SHOP_A, ended))
    assert plan_fields(rt) == (None, None, "CANCELLED")


def test_the_topic_is_subscribed_in_the_app_toml_and_the_handle_matches():
    config = tomllib.loads((ROOT / "shopify.app.toml").read_text())
    topics = {t for s in config["webhooks"]["subscriptions"] for t in s.get("topics", ())}
    assert "app_subscriptions/update" in topics
    assert config["handle"] == APP_HANDLE
    assert plan_selection_url(SHOP_A) == "https://admin.shopify.com/store/demo-shop/charges/reclaim/pricing_plans"


# --- the planner's limit -------------------------------------------------------------------------------


def test_over_the_free_limit_a_journey_is_recorded_and_its_messages_skipped_with_plan_limit(rt, store, admin_api):
    billing_of(admin_api).set_development(SHOP_A, False)
    run_setup(rt)
    assert FREE.monthly_journeys == 50
    used_up(rt, 49)

    store.deliver("checkouts/create", store.checkout("last-one", recent()))
    assert [m["status"] for m in store.messages(checkout_token="last-one")] != []
    assert {m["status"] for m in store.messages(checkout_token="last-one")} == {"scheduled"}
    with transaction(rt.sessions) as session:
        assert journeys_used(session, get_shop(session, SHOP_A).id, now()) == 50

    store.deliver("checkouts/create", store.checkout("over", recent()))
    over = store.messages(checkout_token="over")
    assert over and {m["status"] for m in over} == {"skipped"}
    assert all(m["reason"].startswith("plan limit: the Free plan includes 50 recovery journeys") for m in over)
    journey = journey_of(rt, "over")
    assert (journey.status, journey.plan_limited) == ("stopped", True)
    assert journey.stop_reason.startswith("plan limit")
    with transaction(rt.sessions) as session:  # a refused journey is not usage
        assert journeys_used(session, get_shop(session, SHOP_A).id, now()) == 50

    # An update of the refused checkout does not restart it.
    store.deliver("checkouts/update", store.checkout("over", recent()))
    assert {m["status"] for m in store.messages(checkout_token="over")} == {"skipped"}

    # The merchant upgrades (webhook): the next checkout is planned again.
    growth = billing_of(admin_api).subscribe(SHOP_A, "Growth", "growth")
    store.deliver("app_subscriptions/update", billing_of(admin_api).webhook_payload(SHOP_A, growth))
    store.deliver("checkouts/create", store.checkout("after-upgrade", recent()))
    assert {m["status"] for m in store.messages(checkout_token="after-upgrade")} == {"scheduled"}


def test_a_development_store_is_free_and_unlimited(rt, store, admin_api):
    run_setup(rt)  # the development Admin API stands in for a development store
    assert plan_row(rt).development
    used_up(rt, 60)
    store.deliver("checkouts/create", store.checkout("dev-store", recent()))
    assert {m["status"] for m in store.messages(checkout_token="dev-store")} == {"scheduled"}


def test_a_shop_whose_plan_was_never_read_is_not_limited(rt, store):
    used_up(rt, 60)
    store.deliver("checkouts/create", store.checkout("unread", recent()))
    assert {m["status"] for m in store.messages(checkout_token="unread")} == {"scheduled"}


# --- the admin ----------------------------------------------------------------------------------------


def open_plan_page(client, sign_in) -> str:
    response = client.get(f"/settings/plan?shop={SHOP_A}&id_token={sign_in(SHOP_A)}", headers=BROWSER)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_the_admin_shows_the_plan_the_usage_and_links_to_shopifys_plan_selection(rt, client, store, admin_api, sign_in):
    billing_of(admin_api).set_development(SHOP_A, False)
    run_setup(rt)
    used_up(rt, 50)
    store.deliver("checkouts/create", store.checkout("refused", recent()))
    page = open_plan_page(client, sign_in)
    assert "data-plan-name>Free<" in page
    assert "50 recovery journeys of 50" in page and "1 refused by the plan limit" in page
    assert "data-limit-reached" in page
    url = "https://admin.shopify.com/store/demo-shop/charges/reclaim/pricing_plans"
    assert f'<s-button href="{url}" target="_top"' in page
    assert '<s-table-row data-plan="growth">' in page and "1,000" in page

    # /activity shows the refused journey and why its messages were skipped.
    refused = journey_of(rt, "refused")
    response = client.get(f"/activity/{refused.id}?shop={SHOP_A}&id_token={sign_in(SHOP_A)}", headers=BROWSER)
    assert response.status_code == 200
    assert response.get_data(as_text=True).count("plan limit: the Free plan includes 50 recovery journeys") >= 2

    growth = billing_of(admin_api).subscribe(SHOP_A, "Growth", "growth")
    store.deliver("app_subscriptions/update", billing_of(admin_api).webhook_payload(SHOP_A, growth))
    page = open_plan_page(client, sign_in)
    assert "data-plan-name>Growth<" in page and "50 recovery journeys of 1,000" in page
    assert "data-limit-reached" not in page


@pytest.mark.contract
def test_the_plan_page_uses_only_what_polaris_defines(rt, client, store, sign_in):
    from tests.admin_ui.markup_spec import load_spec, markup_problems

    spec = load_spec(
        shared_path("fixtures", "polaris", "custom-elements.json"), shared_path("fixtures", "app-bridge", "index.d.ts")
    )
    assert markup_problems(open_plan_page(client, sign_in), spec) == []


def test_a_merchants_custom_app_is_not_limited_by_the_public_plans(rt, store, admin_api):
    billing_of(admin_api).set_development(SHOP_A, False)
    billing_of(admin_api).set_app_category(SHOP_A, "CUSTOM")
    run_setup(rt)
    assert plan_row(rt).app_category == "CUSTOM"
    used_up(rt, 60)
    store.deliver("checkouts/create", store.checkout("custom-app", recent()))
    assert {m["status"] for m in store.messages(checkout_token="custom-app")} == {"scheduled"}
