"""The operator's `reclaim` commands (issue 14, item 4): `status`, `retry`, `replan` and
`privacy exports`. Each refusal is one line and a non-zero exit (click's ClickException: 1)."""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime

import click
from sqlalchemy import select

from shop_app.cli.handles import checked_runtime, parse_time, shop_named
from shop_app.storage.database import transaction

_NOW = click.option("--now", "now_text", default=None, help="act as if it were this ISO 8601 time")


@click.command()
@click.option("--json", "as_json", is_flag=True, help="the same as one JSON document")
@_NOW
def status(as_json: bool, now_text: str | None) -> None:
    """Queue depths, due and overdue messages, worker heartbeats, the last dispatcher and
    reconciler passes, and what is wrong.

    \b
    Exit status:
      0  all is well
      1  something is wrong: the database or Redis does not answer (one line), or the
         problems line names it: no worker sent a heartbeat in the last 420 s, or no
         dispatcher pass in the last 60 s or reconciler pass in the last 300 s
    """
    from shop_app.cli.status import gather, status_text

    now = parse_time(now_text) or datetime.now(UTC)
    document = gather(checked_runtime(redis=True), now)
    click.echo(json.dumps(document, indent=2) if as_json else status_text(document))
    if document["problems"]:
        sys.exit(1)


@click.command()
@click.argument("message_id", type=click.IntRange(min=1))
@click.option("--note", default=None, help="why, in a few words (kept in the message's reason; no personal data)")
@_NOW
def retry(message_id: int, note: str | None, now_text: str | None) -> None:
    """Send a failed or unknown message again: due now, through the dispatcher's next pass.
    Refused if the customer paid, opted out of the channel, or the journey ended. An unknown
    message may have been delivered: retrying it is your decision, recorded as such."""
    from shop_app.recovery.operator_retry import RetryRefused, retry_message

    now = parse_time(now_text) or datetime.now(UTC)
    rt = checked_runtime()
    try:
        with transaction(rt.sessions) as session:
            done = retry_message(session, rt.settings.secret_key, message_id, now, note)
    except RetryRefused as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"message {done.message_id} ({done.step}, {done.channel}) was {done.was}; scheduled, due now")
    click.echo(f"reason: {done.reason}")


@click.command()
@click.argument("checkout_token")
@click.option("--shop", "shop_domain", default=None, help="the shop's domain, when the token is in more than one")
@_NOW
def replan(checkout_token: str, shop_domain: str | None, now_text: str | None) -> None:
    """Run the planner again for one checkout's recovery journey and say what it did."""
    from shop_app.recovery.journeys import replan as run_planner
    from shop_app.shopify.shops import load_settings
    from shop_app.storage.tables import CheckoutRow, Shop

    now = parse_time(now_text) or datetime.now(UTC)
    rt = checked_runtime()
    with transaction(rt.sessions) as session:
        query = select(CheckoutRow).where(CheckoutRow.token == checkout_token)
        if shop_domain is not None:
            query = query.where(CheckoutRow.shop_id == shop_named(session, shop_domain).id)
        rows = session.scalars(query.order_by(CheckoutRow.id).with_for_update()).all()
        where = f" in {shop_domain}" if shop_domain else ""
        if not rows:
            raise click.ClickException(f"no checkout {checkout_token}{where}")
        if len(rows) > 1:
            raise click.ClickException(f"checkout {checkout_token} is in {len(rows)} shops; name one with --shop")
        row = rows[0]
        shop = session.get_one(Shop, row.shop_id)
        if row.deleted_at is not None:
            raise click.ClickException(f"checkout {checkout_token} was deleted in {shop.domain}; nothing to plan")
        outcome = run_planner(session, shop, row, load_settings(session, shop), now)
    click.echo(f"{shop.domain} {checkout_token}: {outcome}")


@click.group()
def privacy() -> None:
    """Shopify's privacy requests."""


@privacy.command("exports")
@click.argument("domain")
@click.argument("export_id", type=click.IntRange(min=1), required=False)
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True), default=None,
              help="with EXPORT_ID: write it to this file (readable by you alone), not the terminal")  # fmt: skip
def privacy_exports(domain: str, export_id: int | None, output: str | None) -> None:
    """The shop's customers/data_request exports, newest first; with EXPORT_ID, that export as
    the JSON document the admin's privacy page downloads (it holds the customer's data)."""
    from shop_app.compliance.privacy_admin import export_document, export_for, export_page
    from shop_app.storage.keyset import MAX_LIMIT

    if output is not None and export_id is None:
        raise click.UsageError("--output needs an EXPORT_ID")
    rt = checked_runtime()
    with transaction(rt.sessions) as session:
        shop = shop_named(session, domain)
        if export_id is None:
            page = export_page(session, shop.id, limit=MAX_LIMIT)
            _list_exports(shop.domain, page.rows, more=page.older is not None)
            return
        row = export_for(session, shop.id, export_id)
        if row is None:
            raise click.ClickException(f"{shop.domain} has no export {export_id}")
        document = export_document(row)
    if output is None:
        click.echo(document, nl=False)
        return
    descriptor = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(document)
    click.echo(f"wrote export {export_id} of {shop.domain} to {output}")


def _list_exports(domain: str, rows: list[dict], *, more: bool) -> None:
    if not rows:
        click.echo(f"no data-request exports for {domain}")
        return
    click.echo(f"{'ID':>6}  {'RECEIVED (UTC)':<16}  {'SHOPIFY REQUEST':<20}  CUSTOMER ID")
    for r in rows:
        received = datetime.fromisoformat(r["created_at"]).astimezone(UTC).strftime("%Y-%m-%d %H:%M")
        click.echo(f"{r['id']:>6}  {received:<16}  {r['shopify_request_id'] or '–':<20}  {r['customer_id'] or '–'}")
    if more:
        click.echo("(the newest 100 only)")
    click.echo(f"fetch one: reclaim privacy exports {domain} ID [-o FILE]")


COMMANDS = (status, retry, replan, privacy)
