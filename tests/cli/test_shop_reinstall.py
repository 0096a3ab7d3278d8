"""Re-running `reclaim shop install` on an installed shop (issue 14 review, item 3): the stored time
zone and currency stay unless an option names other ones with --update; --update alone takes
Shopify's."""

from __future__ import annotations

from click.testing import CliRunner
from sqlalchemy import select

from shop_app.cli.commands import main
from shop_app.shopify.shop_secrets import forget_cached
from shop_app.storage.database import transaction
from shop_app.storage.tables import Shop

DOMAIN = "casa-lino.myshopify.com"


def cli(*args: str):
    forget_cached()
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def place(rt) -> tuple[str, str]:
    with transaction(rt.sessions) as session:
        shop = session.scalars(select(Shop).where(Shop.domain == DOMAIN)).one()
        return shop.timezone, shop.currency


def test_a_plain_re_run_keeps_an_earlier_override_and_only_an_option_is_a_change(rt, admin_api):
    admin_api.add_shop(DOMAIN, name="Casa Lino", iana_timezone="Europe/Madrid", currency_code="EUR")
    token = admin_api.issue_token(DOMAIN)
    first = cli("shop", "install", DOMAIN, "--token", token, "--currency", "USD", "--timezone", "Atlantic/Canary")
    assert first.exit_code == 0 and place(rt) == ("Atlantic/Canary", "USD")

    again = cli("shop", "install", DOMAIN, "--token", token)
    assert again.exit_code == 0, again.output
    assert "installed casa-lino.myshopify.com (Casa Lino, Atlantic/Canary, USD)" in again.output
    assert place(rt) == ("Atlantic/Canary", "USD")

    refused = cli("shop", "install", DOMAIN, "--token", token, "--currency", "GBP")
    assert refused.exit_code == 1 and "currency USD → GBP: add --update" in refused.output
    assert place(rt) == ("Atlantic/Canary", "USD")
    same = cli("shop", "install", DOMAIN, "--token", token, "--currency", "usd")
    assert same.exit_code == 0 and place(rt) == ("Atlantic/Canary", "USD")

    changed = cli("shop", "install", DOMAIN, "--token", token, "--currency", "GBP", "--update")
    assert changed.exit_code == 0 and place(rt) == ("Europe/Madrid", "GBP")  # with --update: Shopify's zone
    back = cli("shop", "install", DOMAIN, "--token", token, "--update")
    assert back.exit_code == 0 and place(rt) == ("Europe/Madrid", "EUR")  # Shopify's


def test_the_rule_is_in_the_help():
    said = " ".join(CliRunner().invoke(main, ["shop", "install", "-h"]).output.split())
    assert "a re-run keeps the stored ones" in said and "with --update, what no option names is Shopify's" in said
