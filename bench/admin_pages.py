"""Benchmark: the server time of every admin page on one big shop, against a bare Flask floor.

Run from the project root:  python bench/admin_pages.py [--requests 40]

bench/README.md says what a run does and checks, which backends it uses and how to read its
numbers. Timings are printed, never asserted; the budget (p95 ≤ 100 ms) is printed beside them.
"""

from __future__ import annotations

import argparse
import contextlib
import html
import os
import re
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from _admin_data import build  # bench/ is the script's folder, first on sys.path
from _apps import bare
from _stats import percentile_ms
from flask import Flask
from sqlalchemy import delete, func, select, text

from shop_app import create_app
from shop_app.adapters.queue import connect, url_of
from shop_app.config import Settings
from shop_app.devtools.hs256 import mint_session_token
from shop_app.reporting.periods import periods, zone
from shop_app.runtime import Runtime
from shop_app.shopify.shops import install_shop
from shop_app.storage.database import transaction, upgrade
from shop_app.storage.tables import Journey, Shop

SHOP = "bench-admin.myshopify.com"
TIMEZONE = "Europe/Madrid"
BUDGET_MS = 100.0
WARMUP = 5  # per page, not timed
#: Values for the admin pages' URL parameters (as tests/admin_ui/test_markup_spec.py has them);
#: `journey_id` is a converted journey of the bench shop.
EXAMPLE_VALUES: dict[str, object] = {"step": "first", "channel": "email", "language": "en"}
BROWSER = {"Accept": "text/html"}
#: Heavier variants of a page measured beside it: Home's longest range reads 180 days of rows.
VARIANTS = {"/": ["/?days=90"]}


@dataclass
class Timings:
    seconds: list[float] = field(default_factory=list)  # wall time of each request: the server time
    cpu: list[float] = field(default_factory=list)  # CPU time this process spent on it (SQLite's work included)
    failures: list[str] = field(default_factory=list)

    def p(self, q: float) -> float:
        return percentile_ms(self.seconds, q)

    def cpu_p(self, q: float) -> float:
        return percentile_ms(self.cpu, q)


def admin_paths(app: Flask, journey_id: int) -> tuple[list[str], list[str]]:
    """Every GET route of the admin pages blueprint, its parameters filled in; and those it cannot fill."""
    values = {**EXAMPLE_VALUES, "journey_id": journey_id}
    paths, skipped = [], []
    for rule in app.url_map.iter_rules():
        if not (rule.endpoint.startswith("admin_ui.pages.") and "GET" in (rule.methods or ())):
            continue
        if rule.arguments - set(values):
            skipped.append(f"{rule.rule} (no example for {', '.join(sorted(rule.arguments - set(values)))})")
            continue
        path = rule.build({k: values[k] for k in rule.arguments})[1]
        paths += [path, *VARIANTS.get(path, [])]
    return sorted(paths), skipped


def timed_get(client, url: str, timings: Timings, expect: str | None = None) -> None:
    started, cpu = time.perf_counter(), time.thread_time()
    response = client.get(url, headers=BROWSER)
    body = response.get_data(as_text=True)
    timings.seconds.append(time.perf_counter() - started)
    timings.cpu.append(time.thread_time() - cpu)
    if response.status_code != 200 or (expect is not None and expect not in body):
        timings.failures.append(f"{url.split('?')[0]}: HTTP {response.status_code}")


def measure(app: Flask, floor_app: Flask, paths: list[str], token: str, count: int) -> tuple[Timings, dict]:
    """WARMUP rounds, then `count` timed rounds; a round GETs every page once, each after a GET of the
    floor, so a busy moment on the machine slows the floor and several pages alike."""
    client, floor_client = app.test_client(), floor_app.test_client()
    floor, pages = Timings(), {path: Timings() for path in paths}
    urls = {path: f"{path}{'&' if '?' in path else '?'}shop={SHOP}&id_token={token}" for path in paths}
    for _ in range(WARMUP):
        for path in paths:
            timed_get(floor_client, "/healthz", Timings())
            timed_get(client, urls[path], Timings())
    for _ in range(count):
        for path in paths:
            timed_get(floor_client, "/healthz", floor)
            timed_get(client, urls[path], pages[path], expect="</s-page>")
    return floor, pages


def check_home(app: Flask, rt: Runtime, shop_id: int, token: str, now: datetime) -> str:
    """Home shows the read model's abandoned checkouts: compare with a plain count of the same journeys."""
    current, _ = periods(now, 15, zone(TIMEZONE))
    with transaction(rt.sessions) as session:
        expected = session.scalar(
            select(func.count())
            .select_from(Journey)
            .where(
                Journey.shop_id == shop_id, Journey.abandoned_at >= current.start, Journey.abandoned_at < current.end
            )
        )
    body = app.test_client().get(f"/?shop={SHOP}&id_token={token}", headers=BROWSER).get_data(as_text=True)
    row = re.search(r'data-figure="abandoned">\s*<s-table-cell>[^<]*</s-table-cell>\s*<s-table-cell>([^<]*)<', body)
    shown = html.unescape(row.group(1)).replace(",", "") if row else None
    if shown != str(expected):
        raise RuntimeError(f"Home shows {shown!r} abandoned checkouts in the last 15 days; the journeys say {expected}")
    return f"Home shows {expected:,} abandoned checkouts in the last 15 days, as a plain count of the journeys says"


def bench_environment(base: Path, stack: contextlib.ExitStack) -> dict[str, str]:
    """DATABASE_URL / REDIS_URL when set, else an SQLite file and an embedded Redis in `base`."""
    redis_url = os.environ.get("REDIS_URL")
    if not redis_url:
        embedded = connect(None, base / "redis")
        stack.callback(embedded.shutdown)
        redis_url = url_of(embedded)
    return {
        **os.environ,
        "DATABASE_URL": os.environ.get("DATABASE_URL") or f"sqlite:///{base / 'bench.db'}",
        "REDIS_URL": redis_url,
        "RECLAIM_INSTANCE_DIR": str(base / "instance"),
        "RECLAIM_OUTBOX_FILE": str(base / "outbox.jsonl"),
        "RECLAIM_ENV": "development",
    }


def remove_shop(rt: Runtime) -> None:
    """The bench shop and, through ON DELETE CASCADE, every row of it (also what an interrupted run left)."""
    with transaction(rt.sessions) as session:
        session.execute(delete(Shop).where(Shop.domain == SHOP))


def remove_shop_at_the_end(settings: Settings) -> None:
    cleaner = Runtime.build(settings)
    try:
        remove_shop(cleaner)
    finally:
        cleaner.close()


def load_shop(settings: Settings, now: datetime) -> tuple[int, int, str]:
    """Install the shop and bulk insert its rows: (shop id, a journey for the detail page, what was built).
    Loaded with a worker's database limits (the web tier's 3-second statements are for requests)."""
    started = time.perf_counter()
    loader = Runtime.build(settings)
    try:
        remove_shop(loader)  # what an interrupted run may have left
        with transaction(loader.sessions) as session:
            shop = install_shop(
                session, loader.box, SHOP, "shpat_bench", name="Bench Shop", timezone=TIMEZONE, currency="EUR"
            )
            built = build(session, shop.id, now)
            shop_id = shop.id
        if settings.database_url.startswith("postgresql"):
            # What autovacuum does for tables that grew: statistics, and the visibility map index-only scans use.
            with loader.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.execute(text("VACUUM ANALYZE"))
    finally:
        loader.close()
    seconds = time.perf_counter() - started
    summary = (
        f"one shop: {built.journeys:,} journeys, {built.messages:,} messages, {built.events:,} message events, "
        f"{built.orders:,} orders over 90 days (loaded in {seconds:.1f} s)"
    )
    return shop_id, built.detail_journey_id, summary


def report(floor: Timings, pages: dict[str, Timings], db_kind: str, count: int) -> list[str]:
    """One line per page: p50 and p95 against the floor's, the CPU time, and the budget; the pages over it."""
    print(f"{count} timed rounds after {WARMUP} warm-up, Flask test client in process, {db_kind}")
    print(
        f"floor (bare Flask GET /healthz): p50 {floor.p(0.5):.2f} ms, p95 {floor.p(0.95):.2f} ms "
        f"(cpu p50 {floor.cpu_p(0.5):.2f} ms)"
    )
    over = []
    for path, timings in pages.items():
        p95 = timings.p(0.95)
        if p95 > BUDGET_MS:
            over.append(path)
        print(
            f"  {path:<34} p50 {timings.p(0.5):7.2f} ms  p95 {p95:7.2f} ms  "
            f"({timings.p(0.5) / floor.p(0.5):4.0f}x the floor's p50; cpu p50 {timings.cpu_p(0.5):6.2f} ms, "
            f"p95 {timings.cpu_p(0.95):6.2f} ms)  {'ok' if p95 <= BUDGET_MS else 'OVER the budget'}"
        )
    return over


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=40, help="timed GETs per page (default 40)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="reclaim-bench-") as tmp, contextlib.ExitStack() as stack:
        env = bench_environment(Path(tmp), stack)
        settings = Settings.from_env(env)
        upgrade(settings.database_url)
        now = datetime.now(UTC)
        stack.callback(remove_shop_at_the_end, settings)
        shop_id, journey_id, summary = load_shop(settings, now)
        rt = Runtime.build(settings, web=True)  # the web tier's timeouts, as `reclaim serve` runs
        stack.callback(rt.close)
        app = create_app(runtime=rt)
        token = mint_session_token(
            SHOP,
            api_key=settings.shopify_api_key,
            api_secret=settings.shopify_api_secret,
            now=time.time(),
            lifetime=3600,
        )
        paths, skipped = admin_paths(app, journey_id)
        floor, pages = measure(app, bare(), paths, token, args.requests)
        failures = [f for timings in pages.values() for f in timings.failures]
        if failures:
            raise RuntimeError(f"{len(failures)} page requests failed, first: {failures[0]}")
        verified = check_home(app, rt, shop_id, token, now)
        print(summary)
        db_kind = settings.database_url.split(":", 1)[0].split("+", 1)[0]
        over = report(floor, pages, db_kind, args.requests)
        for path in skipped:
            print(f"  not measured: {path}")
        print(f"verified: every page answered 200 with a whole document; {verified}")
        print(f"budget: {len(pages) - len(over)} of {len(pages)} pages at p95 ≤ {BUDGET_MS:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
