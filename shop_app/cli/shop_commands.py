"""`reclaim shop install | list | uninstall`: the shops connected to this app (issue 14, item 2).

Each refusal is one line and a non-zero exit: 2 for options that are wrong in themselves (a
domain that is no *.myshopify.com, an unknown time zone), 1 for what Shopify or the shop's state
refused. No line ever holds the token or the API secret.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import click
from sqlalchemy import select

from shop_app.cli.handles import checked_runtime, parse_time, shop_named
from shop_app.domain.validation import ValidationError
from shop_app.errors import InvalidShopDomain
from shop_app.storage.database import transaction
from shop_app.storage.tables import Shop

#: The plan column of a shop whose plan the app has not read yet (the reconciler reads it).
NOT_READ = "not read yet (no limit)"


@click.group()
def shop() -> None:
    """Shops connected to this app."""


@shop.command("install")
@click.argument("domain")
@click.option("--token", required=True, help="the custom app's Admin API access token (stored encrypted)")
@click.option("--api-secret", default=None,
              help="the custom app's API secret key: its webhooks are signed with it (stored encrypted)")  # fmt: skip
@click.option("--name", default=None, help="default: the shop's name in Shopify")
@click.option("--timezone", "tz", default=None, help="IANA zone; default: the shop's in Shopify")
@click.option("--currency", default=None, help="ISO 4217; default: the shop's in Shopify")
@click.option("--country", default=None, help="ISO 3166 code (e.g. DE): the country national phone numbers are read in")
@click.option("--update", is_flag=True,
              help="let --timezone/--currency change an installed shop's (else Shopify's)")  # fmt: skip
@click.option("--now", "now_text", default=None, help="act as if it were this ISO 8601 time")
def shop_install(
    domain: str,
    token: str,
    api_secret: str | None,
    name: str | None,
    tz: str | None,
    currency: str | None,
    country: str | None,
    update: bool,
    now_text: str | None,
) -> None:
    """Connect a merchant's custom app: check the token on the Admin API, store it (and the API
    secret) encrypted, subscribe the shop to the app's webhooks (only the missing ones), then
    read the shop and import its customers. Running it again is safe.

    \b
    Time zone and currency of an installed shop: a re-run keeps the stored ones (an earlier
    --timezone/--currency too), even when Shopify's have changed since; an option naming
    another value is refused unless --update is given; with --update, what no option names is
    Shopify's."""
    from jobs.shop import after_install
    from shop_app.shopify.custom_app import InstallRefused, Wanted, install_custom_app

    now = parse_time(now_text) or datetime.now(UTC)
    wanted = Wanted(token, api_secret, name, tz, currency, country, update)
    rt = checked_runtime()
    try:
        done = install_custom_app(rt, domain, wanted, after_install, now)
    except InvalidShopDomain as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except ValidationError as exc:
        for error in exc.errors:
            click.echo(f"error: {error}", err=True)
        sys.exit(2)
    except InstallRefused as exc:
        raise click.ClickException(str(exc)) from None
    place = ", ".join(filter(None, (done.timezone, done.currency, done.country_code)))
    click.echo(f"installed {done.domain} ({done.name}, {place})")
    made, kept, moved = len(done.webhooks.created), len(done.webhooks.kept), len(done.webhooks.moved)
    click.echo(
        f"webhooks: {made} subscription(s) created, {kept} already there, {moved} moved from an old app URL"
        + (f", {done.webhooks.removed} duplicate(s) deleted" if done.webhooks.removed else "")
    )
    click.echo(
        "webhook signatures: " + ("the custom app's own API secret" if done.own_secret else "SHOPIFY_API_SECRET")
    )
    if done.setup.startswith("not set up"):
        raise click.ClickException(f"{done.domain} {done.setup}")
    click.echo(f"setup: {done.setup}")


@shop.command("list")
def shop_list() -> None:
    """Every shop: domain, status, when installed, and its plan when the app has read one (no tokens)."""
    from shop_app.billing.subscriptions import describe, plan_of

    rt = checked_runtime()
    with transaction(rt.sessions) as session:
        rows = []
        for s in session.scalars(select(Shop).order_by(Shop.domain)):
            plan = plan_of(session, s.id)
            rows.append(
                (s.domain, s.status, s.installed_at.strftime("%Y-%m-%d %H:%M"), describe(plan) if plan else NOT_READ)
            )
    if not rows:
        click.echo("no shops yet (reclaim shop install DOMAIN --token …)")
        return
    click.echo(f"{'DOMAIN':<36} {'STATUS':<12} {'INSTALLED (UTC)':<17} PLAN")
    for domain, status, installed, plan_text in rows:
        click.echo(f"{domain:<36} {status:<12} {installed:<17} {plan_text}")


@shop.command("uninstall")
@click.argument("domain")
@click.option("--now", "now_text", default=None, help="act as if it were this ISO 8601 time")
def shop_uninstall(domain: str, now_text: str | None) -> None:
    """What Shopify's app/uninstalled does: every pending message cancelled, active journeys
    stopped, the token forgotten. (Remove the custom app in the shop's admin too.)"""
    from jobs.ingest import on_app_uninstalled

    now = parse_time(now_text) or datetime.now(UTC)
    rt = checked_runtime()
    with transaction(rt.sessions) as session:
        found = shop_named(session, domain)
        name, installed = found.domain, found.status == "installed"
        said = on_app_uninstalled(session, found, {}, now) if installed else ""
    click.echo(f"uninstalled {name}: {said}" if installed else f"{name} is not installed; nothing to do")
