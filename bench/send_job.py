"""Benchmark: the send job end to end in an RQ worker, against a no-op job floor.

Run from the project root:  python bench/send_job.py [--validate] [--servers-in-process]

bench/README.md says what a run does and checks (bench/_send_checks.py), which backends it
uses and how to read its numbers. Timings are printed, never asserted.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from _send_checks import check_work_done  # bench/ is the script's folder, first on sys.path
from _send_cleanup import register_cleanup
from _stats import percentile_ms
from rq import SimpleWorker
from rq.group import Group
from rq.job import Job
from sqlalchemy import func, select

from jobs.dispatch import dispatch
from jobs.ingest import on_checkout
from jobs.worker import QUEUE_ORDER
from shop_app import runtime
from shop_app.adapters.queue import JOB_TIMEOUT, RESULT_TTL, SEND, connect, url_of
from shop_app.channels.accounts import save_twilio
from shop_app.config import Settings
from shop_app.devtools.admin_api import AdminApiServer
from shop_app.devtools.child_process import InChildProcess
from shop_app.devtools.twilio_api import TwilioApiServer
from shop_app.domain.models import Status
from shop_app.shopify.shops import install_shop, save_settings
from shop_app.storage.database import transaction, upgrade
from shop_app.storage.tables import Message, Shop

HERE = Path(__file__).resolve().parent
GROUP_CLEANING_KEY = Group.REDIS_GROUP_CLEANING_KEY
SHOPS = [f"bench-send-{i:02d}.myshopify.com" for i in range(10)]  # each shop has its own Admin API rate bucket
WARMUP = 20  # messages (and as many no-op jobs), not timed
MESSAGES = 240  # timed, and as many no-op jobs for the floor
ROUNDS = 3  # the timed jobs go in alternating rounds: floor, real, floor, real, ...
SHOP_TIMEZONE = "Europe/Madrid"
SERVICE = "MG" + "b" * 32  # the shops' Twilio Messaging Service
# Round r's checkouts are abandoned at FIRST_ABANDONED + r minutes; their Prime SMS is due
# 16 h later, 10:00 in Madrid, inside the default 09:00–21:00 window. Round 0 is the warm-up.
FIRST_ABANDONED = datetime(2026, 3, 2, 17, 0, tzinfo=UTC)
PRIME_DELAY = timedelta(hours=16)
SETTINGS = {
    "recovery": {
        "first": {"enabled": False},
        "whatsapp": {"enabled": False},
        "prime": {
            "channels": ["sms"],
            "incentive": {"type": "percentage", "value": 10, "code_mode": "unique", "expiry_hours": 48},
        },
    },
}
#: The floor's job, imported by the worker from this file (RQ refuses functions of __main__).
FLOOR_FUNCTION = f"{Path(__file__).stem}.noop"


def noop(message_id: int, job_id: str, now_iso: str | None) -> str:
    """The floor: a job with the send job's arguments that does nothing."""
    return "ok"


# --- the shops and their checkouts -------------------------------------------
def checkout_payload(n: int, abandoned: datetime) -> dict:
    token = f"bsend{n:05d}{uuid.uuid4().hex}"[:32]
    stamp = abandoned.isoformat()
    return {
        "id": 50000000 + n,
        "token": token,
        "cart_token": f"cart-{token}",
        "email": f"sms-buyer{n}@example.com",
        "phone": f"+346001{n:05d}",
        "buyer_accepts_marketing": False,
        "buyer_accepts_sms_marketing": True,
        "created_at": stamp,
        "updated_at": stamp,
        "completed_at": None,
        "currency": "EUR",
        "presentment_currency": "EUR",
        "customer_locale": "es",
        "total_price": "76.50",
        "abandoned_checkout_url": f"https://shop.example/71234/checkouts/ac/{token}/recover?key=k{n}",
        "line_items": [
            {
                "title": "Linen shirt",
                "variant_title": "M / Sand",
                "quantity": 1,
                "price": "49.50",
                "line_price": "49.50",
            },
            {"title": "Wool socks", "variant_title": None, "quantity": 2, "price": "13.50", "line_price": "27.00"},
        ],
        "customer": {"id": 8000000 + n, "first_name": "Ana", "email": f"sms-buyer{n}@example.com"},
    }


def install_shops(rt: runtime.Runtime, admin: Any, twilio: Any) -> list[int]:
    """The shops, each with its Admin API token and Twilio account (admin, twilio: the servers or their
    InChildProcess stand-ins)."""
    ids = []
    for domain in SHOPS:
        admin.add_shop(domain, name="Bench Shop", iana_timezone=SHOP_TIMEZONE, currency_code="EUR")
        with transaction(rt.sessions) as session:
            shop = install_shop(
                session,
                rt.box,
                domain,
                admin.issue_token(domain),
                name="Bench Shop",
                timezone=SHOP_TIMEZONE,
                currency="EUR",
            )
            save_settings(session, shop, SETTINGS)
            save_twilio(session, rt.box, shop.id, twilio.account(messaging_service_sid=SERVICE))
            ids.append(shop.id)
    return ids


def plan_messages(rt: runtime.Runtime, shop_ids: list[int], sizes: list[int]) -> None:
    """Round r's checkouts through the ingest job's handler: one scheduled Prime SMS each."""
    n = 0
    for r, size in enumerate(sizes):
        abandoned = FIRST_ABANDONED + timedelta(minutes=r)
        with transaction(rt.sessions) as session:
            for _ in range(size):
                shop = session.get(Shop, shop_ids[n % len(shop_ids)])
                outcome = on_checkout(session, shop, checkout_payload(n, abandoned), abandoned)
                if outcome != "planned: 1 new, 0 moved":
                    raise RuntimeError(f"checkout {n} was not planned as one SMS: {outcome}")
                n += 1


def due_time(r: int) -> datetime:
    return FIRST_ABANDONED + timedelta(minutes=r) + PRIME_DELAY


# --- the rounds ---------------------------------------------------------------
@dataclass
class Result:
    seconds: float = 0.0  # wall time of the worker bursts
    cpu: float = 0.0  # CPU time of this process during the bursts (its development servers' too, if in process)
    job_ids: list[str] = field(default_factory=list)
    messages: int = 0  # one per no-op job; a batch send job sends several
    latencies: list[float] = field(default_factory=list)  # seconds from a job's start to its end, as RQ recorded
    answers: Counter[str] = field(default_factory=Counter)  # what the jobs returned, or the rows' statuses
    redis_commands: int = 0  # the Redis server's count of commands during the bursts
    batch_sizes: list[int] = field(default_factory=list)  # messages per batch send job

    def add(self, other: Result) -> None:
        self.seconds += other.seconds
        self.cpu += other.cpu
        self.job_ids += other.job_ids
        self.messages += other.messages
        self.latencies += other.latencies
        self.answers.update(other.answers)
        self.redis_commands += other.redis_commands
        self.batch_sizes += other.batch_sizes

    @property
    def rate(self) -> float:
        """Messages a second."""
        return self.messages / self.seconds

    def percentile(self, q: float) -> float:
        return percentile_ms(self.latencies, q)

    def summary(self) -> str:
        runs = f"run p50 {self.percentile(0.50):.2f} ms, p99 {self.percentile(0.99):.2f} ms" if self.latencies else ""
        jobs = f"{len(self.job_ids) / self.seconds:.0f} jobs/s" + (f", {runs}" if runs else "")
        return (
            f"{self.rate:.0f} messages/s ({jobs}; {self.redis_commands / self.messages:.1f} Redis commands, "
            f"{self.cpu * 1000 / self.messages:.2f} ms CPU of this process each)"
        )


def redis_calls(rt: runtime.Runtime) -> int:
    """Commands the Redis server ran so far (every client's: use a Redis nothing else uses)."""
    return sum(int(stats.get("calls", 0)) for stats in rt.redis.info("commandstats").values())


def work(rt: runtime.Runtime, job_ids: list[str], workers: list[str], messages: int) -> Result:
    """One burst of the worker `reclaim worker --burst` runs, timed; then what RQ recorded of each job
    (a send job keeps no result: `real_round` reads its rows instead)."""
    worker = SimpleWorker([rt.queue.queues[name] for name in QUEUE_ORDER], connection=rt.redis)
    workers.append(worker.key)
    calls = redis_calls(rt)
    started, cpu = time.perf_counter(), time.process_time()
    worker.work(burst=True, logging_level="WARNING")
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    result = Result(seconds, cpu, list(job_ids), messages, redis_commands=redis_calls(rt) - calls - 1)
    for job in Job.fetch_many(job_ids, connection=rt.redis):
        if job is None or job.ended_at is None or job.started_at is None:
            continue
        result.latencies.append((job.ended_at - job.started_at).total_seconds())
        result.answers[str(job.return_value())] += 1
    return result


def floor_round(rt: runtime.Runtime, count: int, now: datetime, created: list[str], workers: list[str]) -> Result:
    queue = rt.queue.queues[SEND]
    job_ids = [f"bench-noop-{uuid.uuid4().hex}" for _ in range(count)]
    created += job_ids
    for n, job_id in enumerate(job_ids):  # as JobQueue.enqueue_send does
        queue.enqueue(
            FLOOR_FUNCTION,
            n,
            job_id,
            now.isoformat(),
            job_id=job_id,
            job_timeout=JOB_TIMEOUT,
            result_ttl=RESULT_TTL,
            failure_ttl=86400,
        )
    return work(rt, job_ids, workers, count)


def real_round(
    rt: runtime.Runtime, shop_ids: list[int], count: int, now: datetime, created: list[str], workers: list[str]
) -> Result:
    report = dispatch(now)  # claims this round's due rows (scheduled → queued) and enqueues their batch send jobs
    with transaction(rt.sessions) as session:
        held = dict(
            session.execute(
                select(Message.id, Message.job_id).where(
                    Message.shop_id.in_(shop_ids), Message.status == Status.QUEUED.value
                )
            ).all()
        )
    job_ids = sorted(set(held.values()))  # one batch job per shop
    created += job_ids
    if report.dispatched != count or len(held) != count:
        raise RuntimeError(f"the dispatcher queued {report.dispatched} messages ({len(held)} of ours), not {count}")
    result = work(rt, job_ids, workers, count)
    with transaction(rt.sessions) as session:  # what became of the round's rows (no job keeps a result)
        statuses = session.execute(select(Message.status).where(Message.id.in_(list(held)))).scalars()
        result.answers = Counter(statuses)
    result.batch_sizes = sorted(Counter(held.values()).values())
    return result


# --- the run ------------------------------------------------------------------
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--validate",
        action="store_true",
        help="let the development servers check every request against ../shared's Admin API "
        "schema and Twilio specs (slower; those checks are the test suite's job)",
    )
    parser.add_argument(
        "--servers-in-process",
        action="store_true",
        help="run the development servers as before: threads of the bench process, whose work then competes "
        "with the worker's for its interpreter lock, one connection per request (default: a child process "
        "each, keeping connections)",
    )
    return parser.parse_args(argv)


def start_servers(args: argparse.Namespace, stack: contextlib.ExitStack) -> tuple[Any, Any]:
    """The development Admin API and Twilio servers, each in a child process forked before this process
    starts any thread, keeping the clients' connections (as Shopify and Twilio do); with
    --servers-in-process, as before: threads of this process, one connection per request. In production
    Shopify and Twilio are other machines: their stand-ins' work is none of the send job's."""
    if args.servers_in_process:
        admin = stack.enter_context(AdminApiServer(validate=args.validate))
        return admin, stack.enter_context(TwilioApiServer(validate=args.validate))

    def kept_alive(server: Any) -> Any:
        server.keep_alive = True
        return server

    return (
        stack.enter_context(InChildProcess(lambda: kept_alive(AdminApiServer(validate=args.validate)))),
        stack.enter_context(InChildProcess(lambda: kept_alive(TwilioApiServer(validate=args.validate)))),
    )


def redis_url_for(base: Path, stack: contextlib.ExitStack) -> str:
    """REDIS_URL when set, else an embedded Redis in `base` (shut down when the run ends)."""
    redis_url = os.environ.get("REDIS_URL")
    if not redis_url:
        embedded = connect(None, base / "redis")
        stack.callback(embedded.shutdown)
        redis_url = url_of(embedded)
    return redis_url


def bench_settings(
    base: Path, redis_url: str, admin: AdminApiServer, twilio: TwilioApiServer, outbox_file: Path | None = None
) -> Settings:
    """The app's settings for the run: the development servers, DATABASE_URL or an SQLite file in `base`;
    with `outbox_file`, emails go to that development outbox (SMS always to the Twilio server)."""
    env = {
        **os.environ,
        "DATABASE_URL": os.environ.get("DATABASE_URL") or f"sqlite:///{base / 'bench.db'}",
        "REDIS_URL": redis_url,
        "RECLAIM_INSTANCE_DIR": str(base / "instance"),
        "RECLAIM_ENV": "development",
        "SHOPIFY_ADMIN_BASE_URL": admin.admin_base_url,
        "TWILIO_API_BASE_URL": twilio.api_base,
        "TWILIO_CONTENT_BASE_URL": twilio.content_base,
    }
    env.pop("RECLAIM_OUTBOX_FILE", None)  # SMS must go to Twilio, never to a file
    if outbox_file is not None:
        env["RECLAIM_OUTBOX_FILE"] = str(outbox_file)
    return Settings.from_env(env)


def install_runtime(settings: Settings, stack: contextlib.ExitStack) -> tuple[runtime.Runtime, list[float]]:
    """The installed runtime send_message runs on, and the list its Admin API client's waits go to."""
    runtime.reset()
    rt = runtime.install(runtime.Runtime.build(settings))  # send_message runs on the installed runtime
    stack.callback(runtime.reset)
    admin_waits: list[float] = []
    rt.admin_sleep = admin_waits.append  # a retry would wait for nothing and be reported
    return rt, admin_waits


def refuse_busy_queues(rt: runtime.Runtime) -> None:
    busy = {name: rt.queue.queues[name].count for name in QUEUE_ORDER if rt.queue.queues[name].count}
    if busy:
        raise RuntimeError(
            f"the queues already hold jobs {busy}: the worker would run them; "
            "point REDIS_URL at a Redis db nothing else uses"
        )


def refuse_foreign_messages(rt: runtime.Runtime) -> None:
    with transaction(rt.sessions) as session:
        foreign = session.scalar(
            select(func.count())
            .select_from(Message)
            .where(Message.status == Status.SCHEDULED.value, Message.due_at <= due_time(ROUNDS))
        )
    if foreign:
        raise RuntimeError(
            f"the database holds {foreign} other scheduled messages the dispatcher would send; "
            "point DATABASE_URL at a database nothing else uses"
        )


def run_rounds(
    rt: runtime.Runtime, shop_ids: list[int], sizes: list[int], job_ids: list[str], workers: list[str]
) -> tuple[Result, Result, Result, Result]:
    """The warm-up floor and real rounds, then the timed rounds: (warm floor, warm real, floor, real)."""
    warm_floor = floor_round(rt, WARMUP, due_time(0), job_ids, workers)
    warm_real = real_round(rt, shop_ids, WARMUP, due_time(0), job_ids, workers)
    floor, real = Result(), Result()
    for r in range(1, ROUNDS + 1):  # alternate, so a busy moment on the machine hits both
        floor.add(floor_round(rt, sizes[r], due_time(r), job_ids, workers))
        real.add(real_round(rt, shop_ids, sizes[r], due_time(r), job_ids, workers))
    return warm_floor, warm_real, floor, real


def combined(*results: Result) -> Result:
    total = Result()
    for result in results:
        total.add(result)
    return total


def report(settings: Settings, args: argparse.Namespace, floor: Result, real: Result, admin: Any, twilio: Any) -> None:
    db_kind = settings.database_url.split(":", 1)[0].split("+", 1)[0]
    redis_kind = "redis" if os.environ.get("REDIS_URL") else "embedded redis"
    validation = "on" if args.validate else "off"
    servers = (
        "threads of this process, a connection per request"
        if args.servers_in_process
        else "a child process each, connections kept"
    )
    print(
        f"{MESSAGES} Prime SMS with a unique code over {len(SHOPS)} shops, {ROUNDS} rounds, "
        f"+{WARMUP} warm-up; RQ SimpleWorker burst; {db_kind} + {redis_kind}; dev server validation {validation}"
    )
    sizes = real.batch_sizes
    print(
        f"development Admin API and Twilio servers: {servers}; batches: {len(sizes)} jobs of "
        f"{min(sizes)}–{max(sizes)} messages (mean {sum(sizes) / len(sizes):.1f}; one job per shop per round)"
    )
    extra = (1 / real.rate - 1 / floor.rate) * 1000
    print(f"batch send jobs: {real.summary()}")
    print(f"no-op jobs, one per message: {floor.summary()}")
    print(f"ratio per message {real.rate / floor.rate:.3f} of the floor ({extra:.1f} ms more per message)")
    per = len(admin.graphql_requests()) / (WARMUP + MESSAGES)
    checks = len(admin.graphql_requests("OrdersForPaymentCheck"))
    print(
        f"verified: {WARMUP + MESSAGES} messages sent once each; {len(twilio.messages)} Twilio creates, "
        f"0 refused; {per:.2f} Admin API calls per message ({checks} payment checks and "
        f"{len(admin.graphql_requests('DiscountCodesCreate'))} code requests, one each per shop per batch, "
        "making a code a message), none retried"
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if str(HERE) not in sys.path:  # the worker imports the floor's job from this folder
        sys.path.insert(0, str(HERE))

    with tempfile.TemporaryDirectory(prefix="reclaim-bench-") as tmp, contextlib.ExitStack() as stack:
        base = Path(tmp)
        admin, twilio = start_servers(args, stack)  # first: a child process is forked before any thread
        redis_url = redis_url_for(base, stack)
        settings = bench_settings(base, redis_url, admin, twilio)
        upgrade(settings.database_url)
        rt, admin_waits = install_runtime(settings, stack)
        refuse_busy_queues(rt)
        job_ids, workers = register_cleanup(rt, stack, SHOPS)

        shop_ids = install_shops(rt, admin, twilio)
        sizes = [WARMUP] + [len(range(r, MESSAGES, ROUNDS)) for r in range(ROUNDS)]
        refuse_foreign_messages(rt)
        plan_messages(rt, shop_ids, sizes)

        warm_floor, warm_real, floor, real = run_rounds(rt, shop_ids, sizes, job_ids, workers)
        every_floor, every_real = combined(warm_floor, floor), combined(warm_real, real)
        check_work_done(rt, shop_ids, admin, twilio, every_floor, every_real, admin_waits, WARMUP + MESSAGES)
        report(settings, args, floor, real, admin, twilio)
    return 0


if __name__ == "__main__":
    sys.exit(main())
