"""`reclaim`: thin click commands over plain functions."""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime
from importlib.metadata import version

import click
from flask import Flask

from shop_app import log_format, runtime
from shop_app.cli.handles import checked_runtime as _runtime
from shop_app.cli.handles import checked_settings as _settings
from shop_app.cli.handles import parse_time as _parse_now
from shop_app.cli.handles import shop_named
from shop_app.cli.operator import COMMANDS as OPERATOR_COMMANDS
from shop_app.cli.shop_commands import shop
from shop_app.cli.unreachable import ReclaimGroup, require_database
from shop_app.config import environment_of
from shop_app.domain.models import Status
from shop_app.domain.validation import ValidationError
from shop_app.errors import ConfigurationError, InvalidShopDomain, UnknownShop
from shop_app.storage.database import transaction, upgrade
from shop_app.storage.revisions import revision_of, revisions_between


@click.group(cls=ReclaimGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(version("reclaim"), "--version", "-V", prog_name="reclaim")
def main() -> None:
    """Reclaim: abandoned-checkout recovery for Shopify."""
    try:
        log_format.configure(os.environ)  # RECLAIM_LOG_FORMAT, RECLAIM_LOG_LEVEL
    except log_format.LogFormatError as exc:
        click.echo(f"Error: {exc}", err=True)  # one line, exit 2 as for a usage error
        sys.exit(2)
    try:
        environment_of(os.environ)  # every command, `demo` too: a typo never runs as development
    except ConfigurationError as exc:
        raise click.ClickException(str(exc)) from None


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=None, help="default: $PORT, else 8080")
@click.option("--workers", type=int, default=2, show_default=True)
def serve(host: str, port: int | None, workers: int) -> None:
    """Run the web app under gunicorn."""
    from gunicorn.app.base import BaseApplication

    from shop_app import create_app
    from shop_app.cli.access_log import AccessLogger

    settings = _runtime(redis=True).settings  # checked, Redis answers, and the embedded database migrated
    runtime.reset()
    if folder := os.environ.get("PROMETHEUS_MULTIPROC_DIR"):  # summed web figures: checked, last run's cleared
        from shop_app.metrics import prepare_processes_folder

        try:
            prepare_processes_folder(folder)
        except ConfigurationError as exc:
            raise click.ClickException(str(exc)) from None
    port = port or int(os.environ.get("PORT", "8080"))

    class Server(BaseApplication):
        def load_config(self) -> None:
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("accesslog", "-")
            self.cfg.set("logger_class", AccessLogger)  # this process's log format; secrets masked
            if "control_socket_disable" in self.cfg.settings:  # gunicorn ≥ 27: its control socket sits at
                self.cfg.set("control_socket_disable", True)  # one path per user (~/.gunicorn); unused here

        def load(self) -> Flask:
            # Built in each web worker: the web tier's short database and Redis timeouts.
            return create_app(runtime=runtime.Runtime.build(settings, web=True))

    Server().run()


@main.command()
@click.option("--burst", is_flag=True, help="drain the queues and exit; no periodic ticks")
def worker(burst: bool) -> None:
    """Run an RQ worker with its scheduler (dispatcher and reconciler passes)."""
    from jobs import worker as worker_mod

    _runtime(redis=True)
    worker_mod.run(burst=burst)


@main.command()
@click.option("--now", "now_text", default=None, help="act as if it were this ISO 8601 time")
def tick(now_text: str | None) -> None:
    """One reconciler pass and one dispatcher pass. Exit 1 when Redis fails during them."""
    from jobs.dispatch import tick as run_tick
    from shop_app.cli.enqueue_watch import EnqueueWatch

    now = _parse_now(now_text)
    with EnqueueWatch(_runtime(redis=True)) as watch:  # the passes log a failed enqueue and go on
        click.echo(run_tick(now.isoformat() if now else None))
    watch.check()


#: How many messages `reclaim messages` lists unless told otherwise.
MESSAGES_LIMIT = 50
_STATUSES = click.Choice([status.value for status in Status])
_HEADER = f"{'ID':>5} {'SHOP':<28} {'CHECKOUT':<14} {'STEP':<8} {'CHANNEL':<8} {'STATUS':<9} {'DUE (UTC)':<16}  REASON"


@main.command()
@click.option("--shop", "shop_domain", default=None, help="only this shop's (its *.myshopify.com domain)")
@click.option("--status", "statuses", type=_STATUSES, multiple=True, help="only these statuses (repeatable)")
@click.option("--since", "since_text", default=None, help="only those due at or after this ISO 8601 date or time")
@click.option("--limit", type=click.IntRange(min=1), default=MESSAGES_LIMIT, show_default=True,
              help="the latest LIMIT by due time")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="as JSON, one object per message (with its body)")
def messages(
    shop_domain: str | None, statuses: tuple[str, ...], since_text: str | None, limit: int, as_json: bool
) -> None:
    """Planned, sent and skipped messages with their status and reason: the latest LIMIT by due
    time, printed oldest first."""
    from shop_app.recovery.activity import message_rows

    since = _parse_now(since_text)
    rt = _runtime()
    with transaction(rt.sessions) as session:
        try:
            rows = message_rows(session, shop_domain, statuses=statuses, since=since, limit=limit + 1)
        except (UnknownShop, InvalidShopDomain) as exc:
            raise click.ClickException(str(exc)) from None
    more, rows = len(rows) > limit, rows[-limit:]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo(f"no messages{_matching(shop_domain, statuses, since_text)}")
        return
    click.echo(_HEADER)
    for r in rows:
        # A referral row whose order was not paid through a checkout (draft, POS) has no token: its order's name.
        what = r["checkout_token"] or r["order"] or "–"
        due = datetime.fromisoformat(r["due_at"]).astimezone(UTC).strftime("%Y-%m-%d %H:%M")
        click.echo(
            f"{r['id']:>5} {r['shop']:<28} {what[:14]:<14} {r['step']:<8} {r['channel']:<8} "
            f"{r['status']:<9} {due:<16}  {r['reason'] or ''}"
        )
    if more:
        click.echo(f"(the latest {limit}; --limit or --since for others)")


def _matching(shop_domain: str | None, statuses: tuple[str, ...], since_text: str | None) -> str:
    """What `reclaim messages` was asked for, said back when nothing matched."""
    asked = [f"for {shop_domain}"] if shop_domain else []
    asked += [f"with status {' or '.join(statuses)}"] if statuses else []
    asked += [f"due since {since_text}"] if since_text else []
    return (" " + ", ".join(asked)) if asked else " yet"


@main.command()
@click.option("--shop", "shop_domain", required=True, help="the shop's *.myshopify.com domain")
@click.option("--days", default=None, help="the range: the last DAYS local days (1-366, default 15)")
@click.option("--from", "from_text", default=None, help="the range's first local day, YYYY-MM-DD (with --to)")
@click.option("--to", "to_text", default=None, help="the range's last local day, YYYY-MM-DD (with --from)")
@click.option("--json", "as_json", is_flag=True, help="issue 12's report document (as GET /api/report)")
@click.option("--now", "now_text", default=None, help="report as if it were this ISO 8601 time")
def report(
    shop_domain: str, days: str | None, from_text: str | None, to_text: str | None, as_json: bool, now_text: str | None
) -> None:
    """A shop's results for the journeys abandoned in the last DAYS days (or --from … --to), against as many
    days before: the figures Home shows, the incremental results against the holdout, per step and channel
    and per day abandoned; then the referral flow's figures."""
    from shop_app.reporting.holdout_verdict import verdict
    from shop_app.reporting.measurement import BadRange, measure, parse_range, to_json, today_in
    from shop_app.reporting.present import measurement_text, referral_text
    from shop_app.reporting.referral import referral_results
    from shop_app.shopify.shops import load_settings

    now = _parse_now(now_text) or datetime.now(UTC)
    rt = _runtime()
    with transaction(rt.sessions) as session:
        shop = shop_named(session, shop_domain)
        try:
            first, last = parse_range(today_in(shop, now), days, from_text, to_text)
        except BadRange as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)
        measured = measure(session, shop, first, last, now)
        if as_json:
            text = json.dumps(to_json(measured), indent=2)
        else:
            holdout = load_settings(session, shop).measurement.holdout_percent
            judged = verdict(measured, holdout, shop.installed_at, now)
            if from_text is None:  # the range ends today: the referral figures against the days before, as /flows
                referrals = referral_results(session, shop, (last - first).days + 1, now)
                text = measurement_text(measured, judged, with_referral=False) + "\n" + referral_text(referrals)
            else:
                text = measurement_text(measured, judged)
    click.echo(text)


@main.group()
def db() -> None:
    """Database maintenance."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply every migration not applied yet, and say which (an SQLite file's folder is created)."""
    url = _settings().database_url
    require_database(url)
    before = revision_of(url)
    upgrade(url)
    after = revision_of(url)
    applied = revisions_between(url, before, after)
    if not applied:
        click.echo(f"already at {after}; nothing to apply")
    elif len(applied) == 1:
        click.echo(f"applied {applied[0]}; the database is at {after}")
    else:
        click.echo(f"applied {applied[0]} … {applied[-1]} ({len(applied)} migrations); the database is at {after}")


@main.group()
def settings() -> None:
    """A shop's Revenue Recovery settings, as JSON."""


@settings.command("show")
@click.argument("domain")
def settings_show(domain: str) -> None:
    from shop_app.shopify.shops import load_settings

    rt = _runtime()
    with transaction(rt.sessions) as session:
        current = load_settings(session, shop_named(session, domain))
    click.echo(json.dumps(current.to_document(), indent=2))


@settings.command("set")
@click.argument("domain")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
def settings_set(domain: str, file: str) -> None:
    """Validate FILE and save it atomically, or exit 2 listing the bad fields."""
    from shop_app.shopify.shops import save_settings

    try:
        with click.open_file(file, encoding="utf-8") as handle:
            document = json.load(handle)
    except OSError as exc:
        click.echo(f"error: cannot read {file}: {exc.strerror}", err=True)
        sys.exit(2)
    except (ValueError, UnicodeDecodeError) as exc:
        click.echo(f"error: {file} is not valid JSON: {exc}", err=True)
        sys.exit(2)
    rt = _runtime()
    try:
        with transaction(rt.sessions) as session:
            saved = save_settings(session, shop_named(session, domain), document)
    except ValidationError as exc:
        click.echo("settings not saved; fix these fields:", err=True)
        for error in exc.errors:
            click.echo(f"  {error.field}: {error.message}", err=True)
        sys.exit(2)
    for warning in saved.warnings():
        click.echo(f"warning: {warning}", err=True)
    click.echo(f"saved settings for {domain}")


@main.command()
@click.option("--serve", is_flag=True, help="afterwards keep the admin running and print a sign-in URL")
@click.option("--port", type=int, default=0, help="with --serve: the port (default: a free one)")
def demo(serve: bool, port: int) -> None:
    """The whole story on the embedded defaults: webhooks in, ten simulated days (recovery, referral), a timeline."""
    from shop_app.cli.demo import run_demo
    from shop_app.cli.demo_folder import DemoFailed, wait_for_interrupt

    try:
        code = run_demo(serve=wait_for_interrupt if serve else None, port=port)
    except DemoFailed as exc:
        raise click.ClickException(str(exc)) from None
    sys.exit(code)


for _command in (*OPERATOR_COMMANDS, shop):  # status, retry, replan, privacy: operator.py; shop: shop_commands.py
    main.add_command(_command)


if __name__ == "__main__":
    main()
