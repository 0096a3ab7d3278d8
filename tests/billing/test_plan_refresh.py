"""A plan the app could not read, or read long ago (issue 14 review): the setup goes on without it,
and the reconciler's pass reads it later, a few shops a pass, backing off a shop whose reads fail."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from click.testing import CliRunner
from sqlalchemy import select

from shop_app.cli.commands import main
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
