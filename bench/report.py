"""Benchmark: the results report (issue 12) over one big shop, against a plain COUNT(*) of its messages.

Run from the project root:  python bench/report.py [--rounds 15] [--scale 1]

bench/README.md says what a run does and checks, which backends it uses and how to read its
numbers. Timings are printed, never asserted; the budget (report p95 ≤ 500 ms) is printed beside them.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from _report_data import JOURNEYS, build, skip_foreign_key_triggers  # bench/ is the script's folder, first on sys.path
from _stats import percentile_ms
from admin_pages import bench_environment
from sqlalchemy import delete, event, func, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from shop_app.config import Settings
from shop_app.reporting.measurement import measure, to_json
from shop_app.reporting.periods import periods, zone
from shop_app.runtime import Runtime
from shop_app.shopify.shops import install_shop
from shop_app.storage.database import transaction, upgrade
from shop_app.storage.measurement_tables import Attribution
from shop_app.storage.tables import Journey, Message, Shop

SHOP = "bench-report.myshopify.com"
TIMEZONE = "Europe/Madrid"
BUDGET_MS = 500.0
WARMUP = 3  # rounds, not timed
RANGES = (15, 90)
#: Without --scale: the issue's shop on PostgreSQL; a tenth of it on SQLite, which CI runs.
DEFAULT_SCALE = {"postgresql": 1.0, "sqlite": 0.1}
#: Every table holding a shop's rows (all carry shop_id), as the database has them.
SHOP_TABLES = (
    "SELECT table_name FROM information_schema.columns"
    " WHERE column_name = 'shop_id' AND table_schema = current_schema()"
)


@dataclass
class Timings:
    seconds: list[float] = field(default_factory=list)
    #: Why a run of the case gave no answer (the web tier's statement limit, say); it is not timed.
    failures: list[str] = field(default_factory=list)

    def p(self, q: float) -> float:
        return percentile_ms(self.seconds, q)


def local_range(now: datetime, days: int) -> tuple[date, date]:
    """The `days` local days ending today in the shop's zone (the CLI's --days), first and last."""
    current, _ = periods(now, days, zone(TIMEZONE))
    return current.first_day, current.last_day


def cases(shop_id: int, now: datetime) -> dict[str, Callable[[Session], Any]]:
    """What one round times, by label: the floor, then the report for each range."""
    timed: dict[str, Callable[[Session], Any]] = {
        "floor": lambda s: s.scalar(select(func.count()).select_from(Message).where(Message.shop_id == shop_id)),
    }
    for days in RANGES:
        start, end = local_range(now, days)
        timed[f"report --days {days}"] = lambda s, a=start, b=end: to_json(measure(s, s.get(Shop, shop_id), a, b, now))
    return timed


def run_rounds(rt: Runtime, timed: dict[str, Callable[[Session], Any]], rounds: int) -> dict[str, Timings]:
    """WARMUP rounds, then `rounds` timed ones; a round runs the floor and then each case once, each in
    its own transaction, so a busy moment on the machine slows the floor and the cases alike."""
    timings = {label: Timings() for label in timed}
    for number in range(WARMUP + rounds):
        for label, call in timed.items():
            if len(timings[label].failures) >= 2:  # a case over the limit stays over it: stop paying for it
                continue
            try:
                with transaction(rt.sessions) as session:
                    started = time.perf_counter()
                    call(session)
                    seconds = time.perf_counter() - started
            except OperationalError as error:
                timings[label].failures.append(str(error.orig).strip().splitlines()[0])
                continue
            if number >= WARMUP:
                timings[label].seconds.append(seconds)
    return timings


def check(rt: Runtime, shop_id: int, now: datetime) -> str:
    """The report's abandoned checkouts and control journeys for the last 15 days against plain counts
    of the same journeys, and its converted journeys against the rule asked of the orders."""
    current, _ = periods(now, 15, zone(TIMEZONE))
    in_range = (Journey.shop_id == shop_id, Journey.abandoned_at >= current.start, Journey.abandoned_at < current.end)
    with transaction(rt.sessions) as session:
        abandoned = session.scalar(select(func.count()).select_from(Journey).where(*in_range))
        control = session.scalar(select(func.count()).select_from(Journey).where(*in_range, Journey.holdout))
        try:
            with session.begin_nested():
                measured = measure(session, session.get_one(Shop, shop_id), *local_range(now, 15), now)
                document = to_json(measured)
        except OperationalError as error:
            return f"{abandoned:,} journeys abandoned in the last 15 days; the report gave no answer ({error.orig})"
        by_rule = converted_by_rule(session, shop_id, current.start, current.end, measured.attribution_days)
    kept = {False: measured.treated_converted, True: measured.control_converted}
    if kept != by_rule:
        raise RuntimeError(f"the report counts {kept} converted journeys (treated, control); the rule {by_rule}")
    if document["abandoned"] != abandoned:
        raise RuntimeError(f"the report says {document['abandoned']} abandoned in 15 days; journeys say {abandoned}")
    if document["journeys"]["control"] != control:
        raise RuntimeError(f"the report says {document['journeys']} journeys; {control} control ones in 15 days")
    recovered = document["recovered"]
    return (
        f"the report counts {abandoned:,} abandoned checkouts in the last 15 days and {control:,} control "
        f"journeys, as plain counts of the journeys say, and {kept[False]:,} treated and {kept[True]:,} control "
        f"journeys converted, as the rule asked of the orders says (it recovered {recovered['orders']} orders, "
        f"{recovered['revenue']} {document['currency']}; incremental {document['incremental']})"
    )


def converted_by_rule(session: Session, shop_id: int, start: datetime, end: datetime, days: int) -> dict[bool, int]:
    """The reachable journeys abandoned in [start, end) that domain/incremental.py's rule converts,
    per holdout side, asked of the orders themselves (a join on each key, the way the report asked
    before it read journeys.conversion_days): the check that the kept column tells the truth."""
    postgresql = session.get_bind().dialect.name == "postgresql"
    if postgresql:
        session.execute(text("SET LOCAL statement_timeout = 0"))  # a check, not the web tier's report
        window_end = "j.first_due_at + :window"
    else:  # SQLite keeps "YYYY-MM-DD HH:MM:SS.ffffff"; strftime's %f has milliseconds
        window_end = "strftime('%Y-%m-%d %H:%M:%f', j.first_due_at, :window) || '000'"
    joins = " UNION ".join(
        f"""SELECT j.id, j.holdout FROM journeys j JOIN checkouts c ON c.id = j.checkout_id
            JOIN orders o ON o.shop_id = j.shop_id AND c.{mine} <> '' AND o.{theirs} = c.{mine}
                 AND o.shopify_created_at >= j.first_due_at {within}
                 AND (o.refunded_total <= 0 OR o.refunded_total < o.total_price)
            WHERE j.shop_id = :shop AND j.flow = 'recovery' AND j.reached AND j.first_due_at IS NOT NULL
              AND j.abandoned_at >= :start AND j.abandoned_at < :end"""
        for mine, theirs, within in (
            ("token", "checkout_token", ""),
            *((key, key, f"AND o.shopify_created_at <= {window_end}") for key in ("customer_id", "email", "phone")),
        )
    )
    naive = {name: at.astimezone(UTC).replace(tzinfo=None) for name, at in (("start", start), ("end", end))}
    window = timedelta(days=days) if postgresql else f"+{days} days"
    rows = session.execute(text(f"SELECT holdout, count(*) FROM ({joins}) converted GROUP BY holdout"),
                           {"shop": shop_id, "window": window, **naive})  # fmt: skip
    counted = {bool(holdout): count for holdout, count in rows}
    return {False: counted.get(False, 0), True: counted.get(True, 0)}


def explain(settings: Settings, shop_id: int, now: datetime, days: int) -> None:
    """Print the plan of every statement the report runs for `days` (--explain): PostgreSQL's EXPLAIN
    ANALYZE; on SQLite, the statement's time and EXPLAIN QUERY PLAN."""
    postgresql = settings.database_url.startswith("postgresql")
    rt = Runtime.build(settings)  # a worker's limits: a slow plan is what we want to read
    statements: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        statements.append((statement, parameters))

    try:
        event.listen(rt.engine, "before_cursor_execute", capture)
        try:
            with transaction(rt.sessions) as session:
                measure(session, session.get_one(Shop, shop_id), *local_range(now, days), now)
        except OperationalError as error:  # a statement over the limit: its plan is still read below
            print(f"the report failed: {str(error.orig).strip()}")
        event.remove(rt.engine, "before_cursor_execute", capture)
        for statement, parameters in statements:
            print(f"--- report --days {days}:\n{statement}")
            if not postgresql:
                with transaction(rt.sessions) as session:
                    started = time.perf_counter()
                    session.connection().exec_driver_sql(statement, parameters).all()
                    took = (time.perf_counter() - started) * 1000
                    plan = session.connection().exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
                    print("\n".join(str(row[-1]) for row in plan) + f"\nran in {took:.2f} ms")
                continue
            try:
                with transaction(rt.sessions) as session:
                    session.execute(text("SET LOCAL statement_timeout = 20000"))
                    plan = session.connection().exec_driver_sql(f"EXPLAIN (ANALYZE, BUFFERS) {statement}", parameters)
                    print("\n".join(row[0] for row in plan))
            except OperationalError:
                with transaction(rt.sessions) as session:
                    plan = session.connection().exec_driver_sql(f"EXPLAIN {statement}", parameters)
                    print("over 20 s; the plan, not run:\n" + "\n".join(row[0] for row in plan))
    finally:
        rt.close()


def remove_shop(rt: Runtime) -> None:
    """The bench shop and every row of it (also what an interrupted run left). A single DELETE of the
    shop would run the foreign keys' ON DELETE actions row by row, some against columns no index
    leads with (attributions.message_id, journeys.order_id): a scan of the table for each of a million
    messages and fifty thousand orders. So, on PostgreSQL as a superuser, each table's rows of the
    shop go by one DELETE with the triggers skipped (every table of a shop has its shop_id, so
    nothing is left pointing at them); otherwise the attributions, the journeys (cascading to their
    messages and events) and the shop go one after the other, each table vacuumed before the next
    step's rows point into it, so those scans find an empty table."""
    with transaction(rt.sessions) as session:
        shop_id = session.scalar(select(Shop.id).where(Shop.domain == SHOP))
        if shop_id is not None and skip_foreign_key_triggers(session):
            for table in session.scalars(text(SHOP_TABLES)):
                session.execute(text(f"DELETE FROM {table} WHERE shop_id = :shop"), {"shop": shop_id})
            session.execute(delete(Shop).where(Shop.id == shop_id))
            shop_id = None
    if shop_id is None:
        return
    for model in (Attribution, Journey, Shop):
        with transaction(rt.sessions) as session:
            column = model.id if model is Shop else model.shop_id
            session.execute(delete(model).where(column == shop_id))
        vacuum(rt, model.__tablename__)


def vacuum(rt: Runtime, table: str = "", analyze: bool = False) -> None:
    """PostgreSQL's VACUUM (ANALYZE): what autovacuum does for tables that grew or shrank."""
    if rt.engine.dialect.name != "postgresql":
        return
    with rt.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(f"VACUUM {'ANALYZE ' if analyze else ''}{table}"))


def load_shop(settings: Settings, now: datetime, scale: float, reuse: bool) -> tuple[int, str]:
    """Install the shop and bulk load its rows (or, with --reuse, take the one a --keep run left):
    (shop id, what was built). Loaded with a worker's database limits."""
    loader = Runtime.build(settings)
    try:
        with transaction(loader.sessions) as session:
            kept = session.scalar(select(Shop.id).where(Shop.domain == SHOP)) if reuse else None
        if kept is not None:
            return kept, "the shop a --keep run left (--reuse: not loaded again)"
        started = time.perf_counter()
        remove_shop(loader)
        removed = time.perf_counter() - started
        started = time.perf_counter()
        with transaction(loader.sessions) as session:
            shop = install_shop(
                session, loader.box, SHOP, "shpat_bench", name="Bench Shop", timezone=TIMEZONE, currency="EUR"
            )
            built = build(session, shop.id, now, scale)
            shop_id = shop.id
        loaded = time.perf_counter() - started
        started = time.perf_counter()
        vacuum(loader, analyze=True)  # statistics, and the visibility map index-only scans use
        vacuumed = time.perf_counter() - started
    finally:
        loader.close()
    summary = (
        f"one shop: {built.journeys:,} journeys ({built.control:,} control), {built.messages:,} messages, "
        f"{built.events:,} message events, {built.orders:,} orders, {built.attributions:,} attributions over 90 days\n"
        f"load: {loaded:.1f} s (rows made in Python {built.made_s:.1f} s, written {built.written_s:.1f} s)"
        + (f" + VACUUM ANALYZE {vacuumed:.1f} s" if settings.database_url.startswith("postgresql") else "")
        + (f" (a leftover shop removed first in {removed:.1f} s)" if removed > 1 else "")
    )
    return shop_id, summary


def print_timings(timings: dict[str, Timings], rounds: int, db_kind: str) -> list[str]:
    """One line per case against the floor's p50; the budget's verdict for the report, or why there is none."""
    floor = timings.pop("floor")
    print(f"{rounds} timed rounds after {WARMUP} warm-up, in process, {db_kind}")
    print(f"floor (COUNT(*) over the shop's messages): p50 {floor.p(0.5):.2f} ms, p95 {floor.p(0.95):.2f} ms")
    for label, t in timings.items():
        if t.failures:
            print(f"  {label:<18} no answer in {len(t.failures)} runs: {t.failures[0]}")
            continue
        print(
            f"  {label:<18} p50 {t.p(0.5):8.2f} ms  p95 {t.p(0.95):8.2f} ms  "
            f"({t.p(0.5) / floor.p(0.5):5.1f}x the floor's p50)"
        )
    reports = {label: t for label, t in timings.items() if label.startswith("report")}
    if not reports:
        return ["budget: report p95 ≤ 500 ms: not measured (shop_app/reporting/measurement.py has no measure() yet)"]
    verdicts = [
        f"{label.removeprefix('report ')} "
        + ("OVER (no answer)" if t.failures else "ok" if t.p(0.95) <= BUDGET_MS else "OVER")
        for label, t in reports.items()
    ]
    return [f"budget: report p95 ≤ {BUDGET_MS:.0f} ms: {', '.join(verdicts)}"]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15, help="timed rounds (default 15)")
    parser.add_argument(
        "--scale",
        type=float,
        help=f"share of the issue's shop ({JOURNEYS:,} journeys); default 1 on PostgreSQL, 0.1 on SQLite",
    )
    parser.add_argument("--keep", action="store_true", help="leave the shop in the database (for EXPLAIN, --reuse)")
    parser.add_argument("--reuse", action="store_true", help="time the shop a --keep run left instead of loading")
    parser.add_argument("--explain", type=int, metavar="DAYS", help="print EXPLAIN ANALYZE of the report's statements")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="reclaim-bench-") as tmp, contextlib.ExitStack() as stack:
        env = bench_environment(Path(tmp), stack)
        settings = Settings.from_env(env)
        db_kind = settings.database_url.split(":", 1)[0].split("+", 1)[0]
        scale = args.scale if args.scale is not None else DEFAULT_SCALE.get(db_kind, 1.0)
        upgrade(settings.database_url)
        now = datetime.now(UTC)
        if not args.keep:
            stack.callback(remove_shop_at_the_end, settings)
        shop_id, summary = load_shop(settings, now, scale, args.reuse)
        rt = Runtime.build(settings, web=True)  # the web tier's timeouts, as GET /api/report runs
        stack.callback(rt.close)
        if args.explain:
            explain(settings, shop_id, now, args.explain)
            return 0
        timed = cases(shop_id, now)
        verified = check(rt, shop_id, now)
        timings = run_rounds(rt, timed, args.rounds)
        print(summary)
        lines = print_timings(timings, args.rounds, db_kind)
        print(f"verified: {verified}")
        for line in lines:
            print(line)
    return 0


def remove_shop_at_the_end(settings: Settings) -> None:
    started = time.perf_counter()
    cleaner = Runtime.build(settings)
    try:
        remove_shop(cleaner)
    finally:
        cleaner.close()
    print(f"removed the shop and its rows in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    sys.exit(main())
