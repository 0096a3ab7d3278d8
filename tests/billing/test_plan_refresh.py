"""A plan the app could not read, or read long ago (issue 14 review): the setup goes on without it,
and the reconciler's pass reads it later, a few shops a pass, backing off a shop whose reads fail."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from click.testing import CliRunner
from sqlalchemy import delete, func, select

from jobs.dispatch import reconcile
from shop_app.billing.refresh import PER_PASS, SETTLE
from shop_app.cli.commands import main
from shop_app.devtools.admin_billing import billing_of
from shop_app.shopify.shop_secrets import forget_cached
from shop_app.storage.billing_tables import ShopPlan
from shop_app.storage.database import transaction
from shop_app.storage.tables import Profile, Shop

DOMAIN = "casa-lino.myshopify.com"


def cli(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def install(admin_api) -> str:
    forget_cached()
    admin_api.add_shop(DOMAIN, name="Casa Lino", iana_timezone="Europe/Madrid", currency_code="EUR")
    admin_api.add_customer(
        DOMAIN, first_name="Old", email="old@example.com", created_at=datetime(2025, 1, 1, tzinfo=UTC)
    )
    return admin_api.issue_token(DOMAIN)


def test_a_failed_plan_read_does_not_hold_back_the_setup(rt, admin_api, caplog):
    token = install(admin_api)
    admin_api.inject_status(503, 50, operation="AppBillingState")
    with caplog.at_level(logging.INFO):
        result = cli("shop", "install", DOMAIN, "--token", token)
    assert result.exit_code == 0, result.output
    assert "1 existing customer(s) imported; plan not read (Admin API failed)" in result.output
    with transaction(rt.sessions) as session:
        shop = session.scalars(select(Shop).where(Shop.domain == DOMAIN)).one()
        assert shop.setup_completed_at is not None and shop.setup_error is None and shop.name == "Casa Lino"
        assert session.get(ShopPlan, shop.id) is None  # left to the reconciler's pass
        assert session.scalar(select(Profile.origin).where(Profile.shop_id == shop.id)) == "imported"
    said = [r.getMessage() for r in caplog.records if r.name == "shop_app.billing.refresh"]
    assert len(said) == 1 and "not read" in said[0] and "503" in said[0]
    assert not any("old@example.com" in r.getMessage() or token in r.getMessage() for r in caplog.records)


def reads(admin_api) -> int:
    return len(admin_api.graphql_requests("AppBillingState"))


def test_the_reconciler_reads_a_plan_never_read_backing_off_while_it_fails(rt, admin_api, caplog):
    token = install(admin_api)
    admin_api.inject_status(503, 2, operation="AppBillingState")  # the setup's two tries
    cli("shop", "install", DOMAIN, "--token", token)
    assert "not read yet (no limit)" in cli("shop", "list").output
    billing_of(admin_api).set_development(DOMAIN, False)
    at = datetime.now(UTC)
    reconcile(at)  # just installed: the setup's to read
    at += SETTLE

    admin_api.inject_status(503, 1, operation="AppBillingState")
    before = reads(admin_api)
    with caplog.at_level(logging.INFO):
        reconcile(at)
    assert reads(admin_api) == before + 1 and plan_of_shop(rt) is None  # one try a pass
    assert any("not read (failure 1 in a row)" in r.getMessage() for r in caplog.records)
    reconcile(at + timedelta(seconds=5))  # the reconciler runs every few seconds: Shopify is not asked again
    reconcile(at + timedelta(seconds=59))
    assert reads(admin_api) == before + 1 and plan_of_shop(rt) is None

    reconcile(at + timedelta(seconds=61))  # its next try
    plan = plan_of_shop(rt)
    assert plan is not None and not plan.development
    assert "Free (50 journeys a month)" in cli("shop", "list").output


def test_a_plan_read_over_a_day_ago_is_read_again_and_an_unknown_plan_is_warned(rt, admin_api, caplog):
    token = install(admin_api)
    cli("shop", "install", DOMAIN, "--token", token)
    plan = plan_of_shop(rt)
    assert plan is not None and plan.development  # the development Admin API's default
    at = datetime.now(UTC)
    reconcile(at + timedelta(hours=23))
    assert plan_of_shop(rt).checked_at == plan.checked_at  # read less than a day ago: left alone

    billing_of(admin_api).set_development(DOMAIN, False)  # the store was transferred to a merchant
    billing_of(admin_api).subscribe(DOMAIN, "Enterprise", "enterprise")
    with caplog.at_level(logging.INFO):
        reconcile(at + timedelta(days=1, minutes=1))
    later = plan_of_shop(rt)
    assert not later.development and later.handle == "enterprise"
    [warning] = [r for r in caplog.records if "none of the app's plans" in r.getMessage()]
    assert warning.levelno == logging.WARNING and "'enterprise'" in warning.getMessage()


def test_a_pass_reads_a_bounded_number_of_shops(rt, admin_api):
    domains = [f"shop-{n}.myshopify.com" for n in range(5)]
    for domain in domains:
        admin_api.add_shop(domain, name=domain)
        forget_cached()
        cli("shop", "install", domain, "--token", admin_api.issue_token(domain))
    with transaction(rt.sessions) as session:
        session.execute(delete(ShopPlan))
    before, at = reads(admin_api), datetime.now(UTC) + SETTLE
    admin_api.inject_status(503, 1, operation="AppBillingState")
    reconcile(at)
    assert reads(admin_api) == before + 1  # Shopify failing: the pass ends at its first failure
    before, at = reads(admin_api), at + timedelta(seconds=1)
    reconcile(at)
    assert reads(admin_api) == before + PER_PASS
    reconcile(at + timedelta(seconds=1))
    assert reads(admin_api) == before + 2 * PER_PASS
    reconcile(at + timedelta(minutes=2))  # the one that failed, after its minute
    assert reads(admin_api) == before + 5
    with transaction(rt.sessions) as session:
        assert session.scalar(select(func.count()).select_from(ShopPlan)) == 5


def plan_of_shop(rt, domain: str = DOMAIN) -> ShopPlan | None:
    with transaction(rt.sessions) as session:
        shop_id = session.scalar(select(Shop.id).where(Shop.domain == domain))
        plan = session.get(ShopPlan, shop_id)
        if plan is not None:
            session.expunge(plan)
        return plan
