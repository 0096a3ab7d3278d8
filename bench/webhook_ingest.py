"""Benchmark: signed Shopify webhooks through the real endpoint, against two floors.

The floors: bare Flask (read the body, say 200) and the durable-write floor (check the HMAC,
INSERT + COMMIT the body, say 200), both under the same gunicorn settings as `reclaim serve`,
which runs the real app.

Run from the project root:  python bench/webhook_ingest.py

bench/README.md says what a run does and checks, which backends it uses and how to read its
numbers. Timings are printed, never asserted.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _stats import percentile_ms  # bench/ is the script's folder, first on sys.path
from sqlalchemy import delete, select

from jobs.pickup import pick_up
from shop_app.adapters.queue import INGEST, connect, url_of
from shop_app.config import Settings
from shop_app.runtime import Runtime
from shop_app.shopify.shops import install_shop
from shop_app.shopify.signatures import webhook_hmac
from shop_app.storage.database import transaction, upgrade
from shop_app.storage.tables import Shop, WebhookDelivery

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SHOP = "bench-shop.myshopify.com"
TOPIC = "checkouts/update"
PATH = f"/webhooks/{TOPIC}"
WARMUP = 200  # per server, not timed
REQUESTS = 2000  # per server, timed
FLOOR_SHOP = "bench-floor.myshopify.com"  # the durable-write floor's rows go to their own shop
ROUNDS = 4  # the timed requests go in alternating rounds: bare, floor, real, bare, floor, real, ...
CLIENTS = 4  # client threads, one persistent connection each
WORKERS = 2
# What `reclaim serve` sets (shop_app/cli/commands.py): 2 sync workers, the access log on stdout,
# gunicorn's default log level. The real app runs under `reclaim serve` itself; the floors under
# gunicorn with these options, so all three pay the same server and access log costs.
GUNICORN_OPTIONS = ["--workers", str(WORKERS), "--worker-class", "sync", "--access-logfile", "-"]


# --- the webhooks -------------------------------------------------------------
LINE_ITEMS = [  # title, variant, price
    ("Linen shirt", "M / Sand", "49.90"),
    ("Canvas tote", None, "15.00"),
    ("Wool socks", "42-45 / Grey", "12.50"),
    ("Leather belt", "90 cm / Brown", "39.00"),
    ("Cotton cap", "One size / Navy", "19.90"),
]
ADDRESS = {
    "first_name": "Ana",
    "last_name": "Ruiz",
    "address1": "Calle de Alcalá 123",
    "address2": "3º B",
    "city": "Madrid",
    "province": "Madrid",
    "province_code": "M",
    "zip": "28009",
    "country": "Spain",
    "country_code": "ES",
    "phone": "+34600111222",
    "company": None,
}


def line_items(n: int) -> list[dict[str, Any]]:
    """Checkout n's five line items."""
    return [
        {
            "id": 40000000 + n * 10 + i,
            "variant_id": 41000000 + i,
            "product_id": 7000000 + i,
            "sku": f"SKU-{i:04d}",
            "title": title,
            "variant_title": variant,
            "vendor": "Bench Goods",
            "quantity": 1 + i % 3,
            "price": price,
            "line_price": f"{float(price) * (1 + i % 3):.2f}",
            "requires_shipping": True,
            "taxable": True,
            "properties": [{"name": "gift_wrap", "value": "no"}],
        }
        for i, (title, variant, price) in enumerate(LINE_ITEMS)
    ]


def checkout_payload(n: int) -> dict[str, Any]:
    """A realistic checkouts/update body (~3 KB): five line items, addresses, customer."""
    token = f"bench{n % 500:05d}{'0' * 22}"[:32]
    return {
        "id": 30000000 + n,
        "token": token,
        "cart_token": f"cart-{token}",
        "name": f"#{1000000 + n}",
        "email": f"buyer{n % 500}@example.com",
        "phone": "+34600111222",
        "buyer_accepts_marketing": True,
        "buyer_accepts_sms_marketing": False,
        "created_at": "2026-03-02T19:00:00+01:00",
        "updated_at": f"2026-03-02T19:{(n // 60) % 60:02d}:{n % 60:02d}+01:00",
        "completed_at": None,
        "currency": "EUR",
        "presentment_currency": "EUR",
        "customer_locale": "es",
        "source_name": "web",
        "abandoned_checkout_url": f"https://{SHOP}/71234/checkouts/ac/{token}/recover?key=k{n}",
        "total_price": "208.70",
        "subtotal_price": "201.20",
        "total_tax": "34.92",
        "total_discounts": "0.00",
        "line_items": line_items(n),
        "shipping_lines": [{"title": "Standard", "price": "7.50", "code": "STD", "source": "shopify"}],
        "tax_lines": [{"title": "IVA", "rate": 0.21, "price": "34.92"}],
        "discount_codes": [],
        "note_attributes": [{"name": "utm_source", "value": "newsletter"}],
        "customer": {
            "id": 7001 + n % 500,
            "email": f"buyer{n % 500}@example.com",
            "phone": "+34600111222",
            "first_name": "Ana",
            "last_name": "Ruiz",
            "accepts_marketing": True,
            "tags": "vip",
        },
        "billing_address": ADDRESS,
        "shipping_address": ADDRESS,
    }


def signed_webhooks(count: int, secret: str) -> list[tuple[bytes, dict]]:
    """Bodies and headers built up front, so the timed loop only does HTTP."""
    webhooks = []
    for n in range(count):
        body = json.dumps(checkout_payload(n)).encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Shopify-Captain-Hook",
            "X-Shopify-Topic": TOPIC,
            "X-Shopify-Hmac-Sha256": webhook_hmac(body, secret),
            "X-Shopify-Shop-Domain": SHOP,
            "X-Shopify-API-Version": "2026-07",
            "X-Shopify-Webhook-Id": str(uuid.uuid4()),
            "X-Shopify-Triggered-At": "2026-03-02T19:00:00Z",
        }
        webhooks.append((body, headers))
    return webhooks


# --- servers ------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def floor_command(target: str, port: int) -> list[str]:
    """A floor app (bench/_apps.py) under gunicorn, configured as `reclaim serve` configures it."""
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    return [gunicorn, *GUNICORN_OPTIONS, "--bind", f"127.0.0.1:{port}", "--pythonpath", str(HERE), target]


def serve_command(port: int) -> list[str]:
    """The real app exactly as production runs it."""
    reclaim = str(Path(sys.executable).parent / "reclaim")
    return [reclaim, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(WORKERS)]


def start_server(target: str, env: dict, log_path: Path, stack: contextlib.ExitStack) -> int:
    """Start `target` (`reclaim serve`, or a floor app of _apps.py) and wait for its /healthz."""
    port = free_port()
    log = stack.enter_context(log_path.open("wb"))
    command = serve_command(port) if target == "reclaim serve" else floor_command(target, port)
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    stack.callback(stop_server, proc)
    deadline = time.monotonic() + 30
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{target} exited with {proc.returncode}:\n{log_path.read_text()[-2000:]}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return port
        except OSError:
            pass
        finally:
            conn.close()
        if time.monotonic() > deadline:
            raise RuntimeError(f"{target} did not answer on port {port}:\n{log_path.read_text()[-2000:]}")
        time.sleep(0.1)


def stop_server(proc: subprocess.Popen) -> None:
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


# --- load ---------------------------------------------------------------------
@dataclass
class Result:
    seconds: float = 0.0  # wall time spent sending
    latencies: list[float] = field(default_factory=list)  # seconds, one per request
    failures: list[str] = field(default_factory=list)

    def add(self, other: Result) -> None:
        self.seconds += other.seconds
        self.latencies += other.latencies
        self.failures += other.failures

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds

    def percentile(self, q: float) -> float:
        return percentile_ms(self.latencies, q)

    def summary(self) -> str:
        return f"{self.rate:.0f} req/s (p50 {self.percentile(0.50):.1f} ms, p99 {self.percentile(0.99):.1f} ms)"


def load(port: int, webhooks: list[tuple[bytes, dict]]) -> Result:
    """Send every webhook from CLIENTS threads; each keeps one connection (reopened if the server closes it)."""
    shares = [webhooks[i::CLIENTS] for i in range(CLIENTS)]
    latencies: list[float] = []
    failures: list[str] = []

    def client(share):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        timings = []
        try:
            for body, headers in share:
                started = time.perf_counter()
                conn.request("POST", PATH, body, headers)
                response = conn.getresponse()
                answer = response.read()
                timings.append(time.perf_counter() - started)
                if response.status != 200 or json.loads(answer).get("status") != "accepted":
                    failures.append(f"{response.status} {answer[:200]!r}")
        finally:
            conn.close()
        latencies.extend(timings)

    started = time.perf_counter()
    with ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(client, shares))  # re-raises a client's exception
    return Result(time.perf_counter() - started, latencies, failures)


# --- checks and clean-up ------------------------------------------------------
def pick_up_timed(rt: Runtime) -> tuple[int, float]:
    """The dispatcher's pick-up pass (jobs/pickup.py), as a worker's scheduler runs it every second:
    how many deliveries it gave ingest jobs, and its seconds. The request itself enqueues nothing."""
    started = time.perf_counter()
    picked = pick_up(rt)
    return picked, time.perf_counter() - started


def check_work_done(rt: Runtime, shop_id: int, sent: list[tuple[bytes, dict]], jobs_before: int) -> None:
    """Exactly one delivery row per webhook, and (after the dispatcher's pick-up) its ingest job
    waiting in the queue."""
    expected_ids = {headers["X-Shopify-Webhook-Id"] for _, headers in sent}
    with transaction(rt.sessions) as session:
        rows = session.execute(
            select(WebhookDelivery.webhook_id, WebhookDelivery.job_id, WebhookDelivery.status).where(
                WebhookDelivery.shop_id == shop_id
            )
        ).all()
    problems = []
    if len(rows) != len(sent) or {r.webhook_id for r in rows} != expected_ids:
        problems.append(f"{len(rows)} delivery rows for {len(sent)} webhooks sent")
    if any(r.status != "received" or not r.job_id for r in rows):
        problems.append("some delivery rows are not 'received' with a job id")
    queued = set(rt.queue.queues[INGEST].get_job_ids())
    if len(queued) - jobs_before != len(sent):
        problems.append(f"the ingest queue grew by {len(queued) - jobs_before} jobs, not {len(sent)}")
    missing = {r.job_id for r in rows} - queued
    if missing:
        problems.append(f"{len(missing)} delivery rows have no job in the ingest queue")
    if problems:
        raise RuntimeError("the real app did not do the work:\n  - " + "\n  - ".join(problems))


def check_floor_done(rt: Runtime, shop_id: int, sent: list[tuple[bytes, dict]]) -> None:
    """The durable-write floor did its work too: one row per webhook, holding the body sent."""
    expected = {headers["X-Shopify-Webhook-Id"]: body.decode() for body, headers in sent}
    with transaction(rt.sessions) as session:
        rows = session.execute(
            select(WebhookDelivery.webhook_id, WebhookDelivery.body).where(WebhookDelivery.shop_id == shop_id)
        ).all()
    if len(rows) != len(sent) or dict(rows) != expected:  # type: ignore[arg-type]
        raise RuntimeError(f"the durable-write floor holds {len(rows)} rows for {len(sent)} webhooks, or other bodies")


def remove_bench_data(rt: Runtime, shop_id: int) -> None:
    """Delete this shop's delivery rows and their queued jobs (used before and after the run)."""
    with transaction(rt.sessions) as session:
        job_ids = session.scalars(
            select(WebhookDelivery.job_id).where(
                WebhookDelivery.shop_id == shop_id, WebhookDelivery.job_id.is_not(None)
            )
        ).all()
        session.execute(delete(WebhookDelivery).where(WebhookDelivery.shop_id == shop_id))
    queue = rt.queue.queues[INGEST]
    with rt.redis.pipeline() as pipe:
        for job_id in job_ids:
            pipe.lrem(queue.key, 0, job_id)
            pipe.delete(f"rq:job:{job_id}")
        pipe.execute()


def remove_shop(rt: Runtime, shop_id: int) -> None:
    with transaction(rt.sessions) as session:
        session.execute(delete(Shop).where(Shop.id == shop_id))


# --- the run ------------------------------------------------------------------
def bench_environment(base: Path, stack: contextlib.ExitStack) -> dict[str, str]:
    """The environment both servers run in: DATABASE_URL / REDIS_URL when set, else embedded ones in `base`."""
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


def prepare_shop(rt: Runtime, stack: contextlib.ExitStack, domain: str = SHOP) -> int:
    """Install a bench shop, clear what an interrupted run left, and register the clean-up."""
    queue = rt.queue.queues[INGEST]
    if not rt.redis.sismember("rq:queues", queue.key):  # leave RQ's registry of queues as found
        stack.callback(lambda: queue.count or rt.redis.srem("rq:queues", queue.key))
    with transaction(rt.sessions) as session:
        shop_id = install_shop(session, rt.box, domain, "shpat_bench_token").id
    stack.callback(remove_shop, rt, shop_id)
    remove_bench_data(rt, shop_id)  # rows and jobs an interrupted run may have left
    stack.callback(remove_bench_data, rt, shop_id)  # callbacks run last-in, first-out: before remove_shop
    return shop_id


def run_rounds(servers: dict[str, tuple[int, list[tuple[bytes, dict]]]]) -> dict[str, Result]:
    """The warm-up, then the timed rounds alternating between the servers (name: port and its
    webhooks); raises if a request failed."""
    failures: dict[str, list[str]] = {name: [] for name in servers}
    for name, (port, hooks) in servers.items():
        failures[name] += load(port, hooks[:WARMUP]).failures
    results = {name: Result() for name in servers}
    for r in range(ROUNDS):  # alternate, so a busy moment on the machine hits all of them
        for name, (port, hooks) in servers.items():
            results[name].add(load(port, hooks[WARMUP:][r::ROUNDS]))

    for name, result in results.items():
        failed = failures[name] + result.failures
        if failed:
            raise RuntimeError(f"{name}: {len(failed)} requests failed, first: {failed[0]}")
    return results


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="reclaim-bench-") as tmp, contextlib.ExitStack() as stack:
        base = Path(tmp)
        env = bench_environment(base, stack)
        settings = Settings.from_env(env)
        upgrade(settings.database_url)
        rt = Runtime.build(settings)
        stack.callback(rt.engine.dispose)
        shop_id = prepare_shop(rt, stack)
        floor_shop_id = prepare_shop(rt, stack, FLOOR_SHOP)
        env["BENCH_FLOOR_SHOP_ID"] = str(floor_shop_id)
        jobs_before = rt.queue.queues[INGEST].count

        real_port = start_server("reclaim serve", env, base / "real.log", stack)
        bare_port = start_server("_apps:bare()", env, base / "bare.log", stack)
        floor_port = start_server("_apps:floor()", env, base / "floor.log", stack)

        secret = settings.shopify_api_secret
        real_hooks = signed_webhooks(WARMUP + REQUESTS, secret)
        floor_hooks = signed_webhooks(WARMUP + REQUESTS, secret)
        results = run_rounds(
            {
                "bare flask": (bare_port, signed_webhooks(WARMUP + REQUESTS, secret)),
                "durable-write floor": (floor_port, floor_hooks),
                "webhook ingest": (real_port, real_hooks),
            }
        )
        bare, floor, real = results["bare flask"], results["durable-write floor"], results["webhook ingest"]
        picked, pick_up_seconds = pick_up_timed(rt)
        check_work_done(rt, shop_id, real_hooks, jobs_before)
        check_floor_done(rt, floor_shop_id, floor_hooks)

        db_kind = settings.database_url.split(":", 1)[0].split("+", 1)[0]
        redis_kind = "redis" if os.environ.get("REDIS_URL") else "embedded redis"
        print(
            f"{len(real_hooks[0][0])}-byte {TOPIC} webhooks, {REQUESTS} timed per server, "
            f"{CLIENTS} client threads, `reclaim serve` / gunicorn {' '.join(GUNICORN_OPTIONS)}, "
            f"{db_kind} + {redis_kind}"
        )
        print(f"webhook ingest: {real.summary()}")
        print(f"durable-write floor: {floor.summary()}")
        print(f"bare flask: {bare.summary()}")
        print(
            f"ratio {real.rate / bare.rate:.2f} of bare flask, {real.rate / floor.rate:.2f} of the durable-write floor "
            f"(the floor itself {floor.rate / bare.rate:.2f} of bare flask)"
        )
        print(
            f"dispatcher pick-up (the request enqueues nothing): {picked} deliveries given ingest jobs in one pass, "
            f"{pick_up_seconds * 1000:.0f} ms ({pick_up_seconds / max(picked, 1) * 1e6:.0f} µs each)"
        )
        print(
            f"verified: {len(real_hooks)} delivery rows and {len(real_hooks)} ingest jobs, "
            f"{len(floor_hooks)} floor rows"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
