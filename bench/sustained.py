"""Benchmark: messages falling due at a steady rate, sent by real `reclaim worker` processes.

Run from the project root:  python bench/sustained.py [--rate 200] [--seconds 60] [--workers 2] [--quick]

bench/README.md says what a run does and checks, which backends it uses and how to read its
numbers. Timings are printed, never asserted; the issue 13 targets are printed beside them.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _shops import install_shops  # bench/ is the script's folder, first on sys.path
from _stats import percentile_ms  # bench/ is the script's folder, first on sys.path
from rq import SimpleWorker
from send_job import checkout_payload, redis_url_for
from sqlalchemy import bindparam, delete, func, select, text, update

from jobs.ingest import on_checkout
from shop_app import runtime
from shop_app.config import Settings
from shop_app.devtools.admin_api import AdminApiServer
from shop_app.domain.models import FINAL, Status
from shop_app.recovery import outbox
from shop_app.storage.database import transaction, upgrade
from shop_app.storage.tables import Journey, Message, Shop

SHOP_COUNT = 20
SHOPS = [f"bench-sustained-{i:02d}.myshopify.com" for i in range(SHOP_COUNT)]
#: One email per checkout, the first step, no code: the payment check, compose, claim, send, record.
SETTINGS = {"recovery": {"whatsapp": {"enabled": False}, "prime": {"enabled": False}}}
FIRST_DELAY = timedelta(hours=1)  # the first email's default delay after the abandonment
LEAD_SECONDS = 5.0  # from the due times' shift to the first one: the workers are up by then
STALL = 30.0  # seconds without a message settled, after the last due time: the run ends there
TARGETS = "targets: 200/s for 60 s with p99 lateness ≤ 5 s; ≤ 8 ms worker CPU, ≤ 15 Redis commands per message"
TABLES = ("checkouts", "journeys", "messages", "message_events", "webhook_deliveries")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=200.0, help="messages falling due per second (default 200)")
    parser.add_argument("--seconds", type=float, default=60.0, help="how long they keep falling due (default 60)")
    parser.add_argument("--workers", type=int, default=2, help="`reclaim worker` processes (default 2)")
    parser.add_argument("--quick", action="store_true", help="a short run for CI: 20/s for 10 s")
    args = parser.parse_args(argv)
    if args.quick:
        args.rate, args.seconds = 20.0, 10.0
    return args


def settings_for(base: Path, redis_url: str, admin: AdminApiServer) -> tuple[Settings, dict[str, str]]:
    env = {
        **os.environ,
        "DATABASE_URL": os.environ.get("DATABASE_URL") or f"sqlite:///{base / 'bench.db'}",
        "REDIS_URL": redis_url,
        "RECLAIM_INSTANCE_DIR": str(base / "instance"),
        "RECLAIM_ENV": "development",
        "RECLAIM_OUTBOX_FILE": str(base / "outbox.jsonl"),  # every channel connected, each send a line
        "SHOPIFY_ADMIN_BASE_URL": admin.admin_base_url,
    }
    return Settings.from_env(env), env


def plan(rt: runtime.Runtime, shop_ids: list[int], count: int) -> None:
    """`count` checkouts through the ingest job's handler, one first email each, due in the far future."""
    abandoned = datetime.now(UTC) + timedelta(days=30)
    for start in range(0, count, 500):
        with transaction(rt.sessions) as session:
            for n in range(start, min(count, start + 500)):
                shop = session.get_one(Shop, shop_ids[n % len(shop_ids)])
                outcome = on_checkout(session, shop, checkout_payload(n, abandoned), abandoned - FIRST_DELAY)
                if outcome != "planned: 1 new, 0 moved":
                    raise RuntimeError(f"checkout {n} was not planned as one email: {outcome}")


def fall_due(rt: runtime.Runtime, shop_ids: list[int], rate: float) -> datetime:
    """Spread the planned emails' due times at `rate` a second, through the outbox's reschedule (the
    bench's one shortcut: the planner would need wall-clock abandonments), starting a day from now so
    none falls due while 12,000 reschedules and the VACUUM run (that took longer than the lead, and
    the first messages were late before they were written). Returns the first due time."""
    first = datetime.now(UTC) + timedelta(days=1)
    with transaction(rt.sessions) as session:
        ids = session.scalars(select(Message.id).where(Message.shop_id.in_(shop_ids)).order_by(Message.id)).all()
        for n, message_id in enumerate(ids):
            due = first + timedelta(seconds=n / rate)
            outbox.reschedule(session, message_id, due, "bench: falling due at the steady rate")
    return first


def bring_forward(rt: runtime.Runtime, shop_ids: list[int], first: datetime) -> datetime:
    """The second half of that shortcut: every due time (and its journey's anchor) moved by the same
    amount in one statement each, so the first falls due LEAD_SECONDS from now. Returns it."""
    shift = first - (datetime.now(UTC) + timedelta(seconds=LEAD_SECONDS))
    with transaction(rt.sessions) as session:  # values computed here: SQLite has no datetime arithmetic
        for table, due in ((Message.__table__, "due_at"), (Journey.__table__, "first_due_at")):
            rows = session.execute(select(table.c.id, table.c[due]).where(table.c.shop_id.in_(shop_ids))).all()
            moved = update(table).where(table.c.id == bindparam("row")).values({due: bindparam("due")})
            session.execute(moved, [{"row": row, "due": at - shift} for row, at in rows])
    return first - shift


def start_workers(count: int, env: dict[str, str], base: Path) -> list[subprocess.Popen]:
    log = (base / "workers.log").open("ab")
    command = [sys.executable, "-c", "from shop_app.cli.commands import main; main()", "worker"]  # `reclaim worker`
    return [subprocess.Popen(command, env=env, stdout=log, stderr=log) for _ in range(count)]  # noqa: S603


def wait_for_workers(rt: runtime.Runtime, count: int, deadline: float) -> None:
    """Until `count` RQ workers have registered in Redis (imports done, waiting for jobs)."""
    while len(SimpleWorker.all(connection=rt.redis)) < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"fewer than {count} workers started; see workers.log")
        time.sleep(0.2)


def cpu_seconds(workers: list[subprocess.Popen]) -> float:
    """User + system CPU of the worker processes and their children (the scheduler) so far, from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    pending, total = [w.pid for w in workers], 0
    while pending:
        pid = pending.pop()
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
            for task in Path(f"/proc/{pid}/task").iterdir():
                pending += [int(child) for child in (task / "children").read_text().split()]
    return total / tick


def stop_workers(workers: list[subprocess.Popen]) -> None:
    for worker in workers:
        worker.send_signal(signal.SIGTERM)
    for worker in workers:
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


def settled(rt: runtime.Runtime, shop_ids: list[int]) -> Counter[str]:
    with transaction(rt.sessions) as session:
        rows = session.execute(
            select(Message.status, func.count()).where(Message.shop_id.in_(shop_ids)).group_by(Message.status)
        )
        return Counter({status: count for status, count in rows})


def wait_until_settled(rt: runtime.Runtime, shop_ids: list[int], count: int, first_due: datetime) -> Counter[str]:
    """Until every message is settled, or, once the last one is due, until none settled for STALL
    seconds (the workers cannot keep up; the figures still tell how far they got)."""
    final = {status.value for status in FINAL} | {Status.UNKNOWN.value}
    done, moved = -1, time.monotonic()
    while True:
        statuses = settled(rt, shop_ids)
        now_done = sum(n for status, n in statuses.items() if status in final)
        if now_done >= count:
            return statuses
        if now_done != done:
            done, moved = now_done, time.monotonic()
        elif datetime.now(UTC) > first_due and time.monotonic() - moved > STALL:
            return statuses
        time.sleep(0.5)


def lateness(rt: runtime.Runtime, shop_ids: list[int]) -> tuple[list[tuple[datetime, float]], datetime | None]:
    """(due time, seconds from due to sent) of every sent message, and the last send."""
    with transaction(rt.sessions) as session:
        rows = session.execute(
            select(Message.due_at, Message.sent_at).where(
                Message.shop_id.in_(shop_ids), Message.status == Status.SENT.value
            )
        ).all()
    late = [(due, (sent - due).total_seconds()) for due, sent in rows]
    return late, max((sent for _, sent in rows), default=None)


def p99_by_slice(late: list[tuple[datetime, float]], first_due: datetime, slice_s: int = 10) -> str:
    """The p99 lateness of the messages due in each `slice_s` seconds from the first due time: where
    the tail comes from (a slow start, a stall, a backlog that grows)."""
    slices: dict[int, list[float]] = {}
    for due, seconds in late:
        slices.setdefault(int((due - first_due).total_seconds() // slice_s), []).append(seconds)
    return ", ".join(f"{percentile_ms(slices[n], 0.99) / 1000:.1f}" for n in sorted(slices))


def redis_calls(rt: runtime.Runtime) -> int:
    return sum(int(stats.get("calls", 0)) for stats in rt.redis.info("commandstats").values())


def database_bytes(rt: runtime.Runtime, settings: Settings) -> int | None:
    if settings.database_url.startswith("sqlite"):
        return Path(settings.database_url.removeprefix("sqlite:///")).stat().st_size
    with transaction(rt.sessions) as session:
        sizes = [session.scalar(text(f"SELECT pg_total_relation_size('{table}')")) for table in TABLES]
    return sum(sizes)


def vacuum(rt: runtime.Runtime, settings: Settings) -> str:
    """What autovacuum would have done by now: planning and the due times' shift leave every
    message row a dead copy. On a server with autovacuum off (this machine's), a plain VACUUM
    ANALYZE of the tables the run reads, before the first message falls due; said in the printout."""
    if not settings.database_url.startswith("postgresql"):
        return "SQLite"
    with rt.engine.connect() as connection:
        connection = connection.execution_options(isolation_level="AUTOCOMMIT")
        autovacuum = connection.scalar(text("SHOW autovacuum"))
        for table in TABLES:
            connection.execute(text(f"VACUUM (ANALYZE) {table}"))
    return f"autovacuum {autovacuum}, VACUUM (ANALYZE) before the first due time"


def transactions(rt: runtime.Runtime, settings: Settings) -> int | None:
    if not settings.database_url.startswith("postgresql"):
        return None
    with transaction(rt.sessions) as session:
        return session.scalar(
            text("SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()")
        )


def sent_once(outbox: Path, expected: int) -> str:
    """The outbox file holds one line per message sent, none twice."""
    lines = [json.loads(line) for line in outbox.read_text().splitlines()] if outbox.exists() else []
    twice = [mid for mid, n in Counter(line["message_id"] for line in lines).items() if n > 1]
    if twice or len(lines) != expected:
        raise RuntimeError(f"{len(lines)} sends for {expected} messages; sent more than once: {twice[:5]}")
    return f"{expected:,} messages sent, each once"


def remove_shops(rt: runtime.Runtime) -> None:
    with transaction(rt.sessions) as session:
        session.execute(delete(Shop).where(Shop.domain.in_(SHOPS)))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    count = round(args.rate * args.seconds)
    with tempfile.TemporaryDirectory(prefix="reclaim-sustained-") as tmp, contextlib.ExitStack() as stack:
        base = Path(tmp)
        redis_url = redis_url_for(base, stack)
        admin = stack.enter_context(AdminApiServer(validate=False))
        settings, env = settings_for(base, redis_url, admin)
        upgrade(settings.database_url)
        rt = runtime.install(runtime.Runtime.build(settings))
        stack.callback(runtime.reset)
        remove_shops(rt)  # what an interrupted run left
        stack.callback(remove_shops, rt)
        shop_ids = install_shops(rt, admin, SHOPS, "UTC", SETTINGS)
        bytes_before = database_bytes(rt, settings)
        started = time.perf_counter()
        plan(rt, shop_ids, count)
        planned_s = time.perf_counter() - started

        workers = start_workers(args.workers, env, base)
        stack.callback(stop_workers, workers)
        wait_for_workers(rt, args.workers, time.monotonic() + 60)
        cpu_before, redis_before, xacts_before = cpu_seconds(workers), redis_calls(rt), transactions(rt, settings)
        far = fall_due(rt, shop_ids, args.rate)
        vacuumed = vacuum(rt, settings)
        first_due = bring_forward(rt, shop_ids, far)
        last_due = first_due + timedelta(seconds=args.seconds)
        statuses = wait_until_settled(rt, shop_ids, count, last_due)
        cpu_after, redis_after, xacts_after = cpu_seconds(workers), redis_calls(rt), transactions(rt, settings)
        stop_workers(workers)

        due_late, last_sent = lateness(rt, shop_ids)
        late = [seconds for _, seconds in due_late]
        sent = statuses.get(Status.SENT.value, 0)
        cpu_s = cpu_after - cpu_before
        span = (last_sent - first_due).total_seconds() if last_sent else float("nan")
        bytes_after = database_bytes(rt, settings)
        db_kind = settings.database_url.split(":", 1)[0].split("+", 1)[0]
        redis_kind = "redis" if os.environ.get("REDIS_URL") else "embedded redis"
        kinds = f"{db_kind} + {redis_kind}"
        print(f"{count:,} first emails over {SHOP_COUNT} shops, due at {args.rate:g}/s for {args.seconds:g} s; "
              f"{args.workers} `reclaim worker` processes; {kinds}; planned in {planned_s:.1f} s")  # fmt: skip
        print(f"database: {vacuumed}")
        p50, p99 = percentile_ms(late, 0.5) / 1000, percentile_ms(late, 0.99) / 1000
        print(f"sent {sent:,} of {count:,} in {span:.1f} s from the first due time: {sent / span:.0f}/s; "
              f"lateness due → sent p50 {p50:.2f} s, p99 {p99:.2f} s (of those sent)")  # fmt: skip
        print(f"p99 lateness (s) of the messages due in each 10 s: {p99_by_slice(due_late, first_due)}")
        per = max(sent, 1)
        xacts = "n/a (PostgreSQL only)" if xacts_before is None else f"{(xacts_after - xacts_before) / per:.1f}"
        size = "n/a" if bytes_before is None or bytes_after is None else f"{(bytes_after - bytes_before) / count:,.0f}"
        print(f"per message: worker CPU {cpu_s * 1000 / per:.1f} ms (the workers and their schedulers, while due), "
              f"Redis commands {(redis_after - redis_before) / per:.1f}, database transactions {xacts}; "
              f"database bytes per journey {size}")  # fmt: skip
        print(TARGETS)
        print(f"verified: {sent_once(base / 'outbox.jsonl', sent)}, none twice")
        if statuses != Counter({Status.SENT.value: count}):
            raise RuntimeError(f"not every message was sent: {dict(statuses)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
