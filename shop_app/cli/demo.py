"""`reclaim demo`: the whole story on the embedded defaults.

It creates a demo shop, starts the web app on a local port and a development
Shopify Admin API (for unique discount codes and the live payment check), posts signed webhooks
for a handful of realistic checkouts to the real endpoints, runs the worker, and
walks simulated time through 48 hours with the dispatcher tick, printing what
happened to every message and a summary. Everything lives in instance/demo/.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import socket
import threading
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from rq import SimpleWorker
from sqlalchemy import select
from werkzeug.serving import make_server

from shop_app import create_app, runtime
from shop_app.adapters.queue import connect, stop_embedded, url_of
from shop_app.config import Settings
from shop_app.devtools.admin_api import AdminApiServer
from shop_app.shopify.shops import install_shop, save_settings
from shop_app.shopify.signatures import webhook_hmac
from shop_app.storage.database import transaction, upgrade
from shop_app.storage.tables import CheckoutRow, Journey, Message, WebhookDelivery

#: Where the demo prints its timeline (print, or a test's collector).
Output = Callable[[str], object]
#: What the demo points at its own embedded servers, restored when it ends.
DEMO_ENVIRONMENT = (
    "DATABASE_URL",
    "REDIS_URL",
    "RECLAIM_OUTBOX_FILE",
    "RECLAIM_INSTANCE_DIR",
    "SHOPIFY_ADMIN_BASE_URL",
    "SHOPIFY_APP_URL",
)


#: A part of demo_data/story.json, as JSON gives it.
Spec = dict[str, Any]


def load_story() -> Spec:
    story: Spec = json.loads(
        resources.files("shop_app.cli").joinpath("demo_data/story.json").read_text(encoding="utf-8")
    )
    return story


def checkout_payload(spec: Spec, at: datetime, domain: str) -> dict[str, object]:
    items = [
        {"title": t, "variant_title": v, "quantity": q, "price": p, "line_price": str(Decimal(p) * q)}
        for t, v, q, p in spec["items"]
    ]
    total = sum(Decimal(i["line_price"]) for i in items)
    stamp = at.isoformat()
    return {
        "token": spec["token"],
        "cart_token": f"cart-{spec['token']}",
        "email": spec["email"],
        "phone": spec["phone"],
        "buyer_accepts_marketing": False,
        "buyer_accepts_sms_marketing": spec["sms"],
        "created_at": stamp,
        "updated_at": stamp,
        "completed_at": None,
        "currency": "EUR",
        "presentment_currency": "EUR",
        "total_price": str(total),
        "abandoned_checkout_url": f"https://{domain}/70001/checkouts/ac/{spec['token']}/recover?key=demo",
        "line_items": items,
        "customer": {"first_name": spec["first_name"], "email": spec["email"], "phone": spec["phone"]},
    }


def order_payload(spec: Spec, at: datetime) -> dict[str, object]:
    return {
        "id": spec["id"],
        "name": spec["name"],
        "checkout_token": spec["checkout_token"],
        "email": spec["email"],
        "created_at": at.isoformat(),
        "financial_status": "paid",
        "currency": "EUR",
        "total_price": spec["total"],
    }


class Demo:
    def __init__(self, folder: Path, out: Output = print, port: int = 0):
        self.folder, self.out, self.port = folder, out, port
        self.story = load_story()
        self.zone = ZoneInfo(self.story["shop"]["timezone"])
        self.domain = self.story["shop"]["domain"]
        self.seen: dict[int, tuple[str, datetime, str | None]] = {}
        self.names: dict[str, str] = {}

    # --- setup -------------------------------------------------------------------
    def start(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir(parents=True)
        self.redis = connect(None, self.folder)
        # Shopify itself is played by the development Admin API (shop_app/devtools/admin_api.py):
        # unique codes and the live payment check go through it.
        self.shopify = AdminApiServer().start()
        self.port = self.port or _free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        os.environ.update(
            SHOPIFY_APP_URL=self.base_url,  # the bounce page reloads only URLs of this app
            DATABASE_URL=f"sqlite:///{self.folder / 'demo.db'}",
            REDIS_URL=url_of(self.redis),
            RECLAIM_OUTBOX_FILE=str(self.folder / "outbox.jsonl"),
            RECLAIM_INSTANCE_DIR=str(self.folder),
            SHOPIFY_ADMIN_BASE_URL=self.shopify.admin_base_url,
        )
        settings = Settings.from_env()
        upgrade(settings.database_url)
        runtime.reset()
        self.rt = runtime.install(runtime.Runtime.build(settings))
        shop = self.story["shop"]
        self.shopify.add_shop(
            self.domain, name=shop["name"], iana_timezone=shop["timezone"], currency_code=shop["currency"]
        )
        with transaction(self.rt.sessions) as session:
            installed = install_shop(
                session,
                self.rt.box,
                self.domain,
                self.shopify.issue_token(self.domain),
                name=shop["name"],
                timezone=shop["timezone"],
                currency=shop["currency"],
            )
            save_settings(session, installed, self.story["settings"])
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        logging.getLogger("jobs").setLevel(logging.ERROR)
        self.server = make_server("127.0.0.1", self.port, create_app(runtime=self.rt), threaded=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.shopify.stop()
        self.rt.close()
        runtime.reset()
        stop_embedded(self.redis)

    # --- driving -----------------------------------------------------------------
    def local(self, text: str) -> datetime:
        return datetime.fromisoformat(text).replace(tzinfo=self.zone).astimezone(UTC)

    def post(self, topic: str, payload: dict[str, object]) -> int:
        body = json.dumps(payload).encode()
        request = urllib.request.Request(
            f"{self.base_url}/webhooks/{topic}",
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "X-Shopify-Topic": topic,
                "X-Shopify-Hmac-Sha256": webhook_hmac(body, self.rt.settings.shopify_api_secret),
                "X-Shopify-Shop-Domain": self.domain,
                "X-Shopify-Webhook-Id": str(uuid.uuid4()),
                "X-Shopify-API-Version": "2026-07",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code

    def work(self) -> None:
        SimpleWorker(list(self.rt.queue.queues.values()), connection=self.rt.redis).work(
            burst=True, logging_level="ERROR"
        )

    def next_due(self) -> datetime | None:
        with transaction(self.rt.sessions) as session:
            return session.scalar(
                select(Message.due_at).where(Message.status == "scheduled").order_by(Message.due_at).limit(1)
            )

    def run(self) -> None:
        from jobs.dispatch import tick

        events = sorted(self.story["events"], key=lambda e: e["at"])
        now = self.local(self.story["start"])
        end = now + timedelta(hours=self.story["hours"])
        self.out(f"Simulated time {self.clock(now)} → {self.clock(end)} ({self.story['shop']['timezone']})\n")
        while True:
            due = self.next_due()
            upcoming = self.local(events[0]["at"]) if events else None
            candidates = [t for t in (due, upcoming) if t is not None and t <= end]
            if not candidates:
                break
            now = max(now, min(candidates))
            while events and self.local(events[0]["at"]) <= now:
                self.happen(events.pop(0), now)
            self.work()
            tick(now.isoformat())
            self.work()
            self.report(now)

    def happen(self, event: Spec, now: datetime) -> None:
        if event.get("shopify_only"):
            spec = event["order"]
            order = self.shopify.add_order(
                self.domain,
                checkout_token=spec["checkout_token"],
                email=spec["email"],
                created_at=now,
                total=spec["total"],
            )
            self.out(f"{self.clock(now)}  shopify                   {event['who']}: order {order.name}, no webhook")
            return
        if "checkout" in event:
            spec = event["checkout"]
            self.names[spec["token"]] = spec["first_name"] or "anonymous"
            status = self.post(event["topic"], checkout_payload(spec, now, self.domain))
        else:
            status = self.post(event["topic"], order_payload(event["order"], now))
        self.work()  # the ingest job
        with transaction(self.rt.sessions) as session:
            outcome = session.scalar(select(WebhookDelivery.reason).order_by(WebhookDelivery.id.desc()).limit(1))
        self.out(f"{self.clock(now)}  webhook {event['topic']:<17} {event['who']}: HTTP {status}, {outcome}")

    # --- output ------------------------------------------------------------------
    def clock(self, at: datetime) -> str:
        return at.astimezone(self.zone).strftime("%a %d %b %H:%M")

    def report(self, now: datetime) -> None:
        with transaction(self.rt.sessions) as session:
            rows = session.execute(
                select(Message, CheckoutRow.token)
                .join(Journey, Journey.id == Message.journey_id)
                .join(CheckoutRow, CheckoutRow.id == Journey.checkout_id)
                .order_by(Message.id)
            ).all()
        for message, token in rows:
            state = (message.status, message.due_at, message.reason)
            before = self.seen.get(message.id)
            self.seen[message.id] = state
            if before == state:
                continue
            who = f"{self.names.get(token, token):<8}"
            where = f"{message.step:<8} {message.channel:<8}"
            if before is None:
                line = f"planned for {self.clock(message.due_at)}"
            elif message.status == "scheduled" and before[1] != message.due_at:
                line = f"now due {self.clock(message.due_at)} ({message.reason})"
            elif message.status == "sent":
                quoted = "".join(f"\n{'':<20}│ {text}" for text in (message.body or "").splitlines() if text.strip())
                line = f"SENT to {message.recipient}{quoted}"
            else:
                line = f"{message.status}: {message.reason}"
            self.out(f"{self.clock(now)}    {who} {where} {line}")

    def summary(self) -> None:
        with transaction(self.rt.sessions) as session:
            messages = session.scalars(select(Message)).all()
            checkouts = session.scalars(select(CheckoutRow)).all()
            journeys = session.scalars(select(Journey)).all()
        sent = Counter(m.channel for m in messages if m.status == "sent")
        stopped = Counter(m.status for m in messages if m.status in ("skipped", "cancelled"))
        revenue = sum((j.recovered_revenue or Decimal(0)) for j in journeys)
        reachable = sum(1 for c in checkouts if c.email or c.phone)
        self.out("\nSummary")
        self.out(f"  checkouts: {len(checkouts)} ({reachable} reachable), journeys: {len(journeys)}")
        self.out("  sent: " + ", ".join(f"{n} {channel}" for channel, n in sorted(sent.items())))
        self.out("  not sent: " + (", ".join(f"{n} {status}" for status, n in sorted(stopped.items())) or "none"))
        self.out(
            f"  recovered: {sum(1 for j in journeys if j.status == 'converted')} order(s), "
            f"{revenue:.2f} {self.story['shop']['currency']} attributed"
        )
        codes = [d.code for d in self.shopify.discounts(self.domain)]
        checks = len(self.shopify.graphql_requests("OrdersForPaymentCheck"))
        self.out(
            f"  Shopify (development Admin API): {checks} live payment check(s), "
            f"{len(codes)} unique code(s) created: {', '.join(codes) or 'none'}"
        )
        self.out(f"  outbox: {self.folder / 'outbox.jsonl'} (one JSON line per message)")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_interrupt(url: str) -> None:
    """`reclaim demo --serve`: keep the admin up until Ctrl-C."""
    with contextlib.suppress(KeyboardInterrupt):
        threading.Event().wait()


def run_demo(
    folder: Path | None = None, out: Output = print, *, serve: Callable[[str], None] | None = None, port: int = 0
) -> int:
    """Tell the story; with `serve`, then keep the admin running and call `serve(sign-in URL)`,
    which returns when it is time to stop (the CLI waits for Ctrl-C)."""
    target = folder or Path(os.environ.get("RECLAIM_INSTANCE_DIR") or Path.cwd() / "instance") / "demo"
    demo = Demo(target, out, port)
    saved = {k: os.environ.get(k) for k in DEMO_ENVIRONMENT}
    demo.start()
    try:
        out(f"Reclaim demo: shop {demo.domain}, app at {demo.base_url}, data in {target}\n")
        demo.run()
        demo.summary()
        if serve is not None:
            url = f"{demo.base_url}/dev/sign-in?shop={demo.domain}"
            out(f"\nThe admin of {demo.domain} (development sign-in; Ctrl-C stops it):\n  {url}")
            out("Without Shopify's CDN the pages use plain development stand-ins instead of the Polaris look.")
            serve(url)
    finally:
        demo.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return 0
