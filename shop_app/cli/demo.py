"""`reclaim demo`: the whole story on the embedded defaults.

It installs a demo shop as Shopify does (the setup job imports the customers it had), starts the
web app and a development Admin API (discount codes, the live payment check), posts signed webhooks
for six checkouts and their orders to the real endpoints, runs the worker, and walks ten simulated
days with the dispatcher tick, printing every message, every referral decision and a summary. Then
Lucía, a first-time buyer, becomes an advocate; a friend buys with her code (reward), she tries her
own (refused) and an imported customer buys (no referral flow). Data: instance/demo/ (demo_folder.py).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import threading
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from werkzeug.serving import make_server

from shop_app import create_app, runtime
from shop_app.adapters.queue import connect, stop_embedded, url_of
from shop_app.adapters.shopify_oauth import OfflineToken
from shop_app.cli.demo_drain import drain
from shop_app.cli.demo_folder import INTERRUPTED, INTERRUPTS, check_port, ending, free_port, keep_this_run, set_aside
from shop_app.cli.demo_story import Spec, checkout_payload, load_story, order_payload
from shop_app.config import Settings
from shop_app.devtools import admin_schema
from shop_app.devtools.admin_api import DEFAULT_SCOPES, AdminApiServer
from shop_app.devtools.serving import AccessLogHandler
from shop_app.shopify.post_install import complete_install
from shop_app.shopify.shops import get_shop, save_settings
from shop_app.shopify.signatures import webhook_hmac
from shop_app.storage.database import transaction, upgrade
from shop_app.storage.referral_tables import ReferralAdvocate, ReferralReward
from shop_app.storage.tables import CheckoutRow, Journey, Message, OrderRow, Profile, WebhookDelivery

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


#: Loggers the story quiets below ERROR: the web server's access lines and the jobs' events.
QUIET = ("werkzeug", "jobs", "shop_app")


class Demo:
    def __init__(self, folder: Path, out: Output = print, port: int = 0):
        self.folder, self.out, self.port = folder, out, port
        self.story = load_story()
        self.zone = ZoneInfo(self.story["shop"]["timezone"])
        self.domain = self.story["shop"]["domain"]
        self.seen: dict[int, tuple[str, datetime, str | None]] = {}
        self.seen_rewards: dict[int, str] = {}
        #: Who is who in the printout: checkout tokens and email addresses to first names.
        self.names: dict[str, str] = {}
        #: The Shopify customer ids of the customers the shop had before the install.
        self.customer_ids: dict[str, str] = {}
        #: The story's orders Shopify (the development Admin API) already holds.
        self.orders: set[int] = set()
        self.log_levels: dict[str, int] = {}  # of the QUIET loggers before the story

    # --- setup -------------------------------------------------------------------
    def start(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir(parents=True)
        self.redis = connect(None, self.folder)
        # Shopify itself is played by the development Admin API (shop_app/devtools/admin_api.py):
        # the shop, its older customers, discount codes and the live payment check go through it.
        # Requests validated when ../shared has the schema; a newcomer's clone without it: no warning.
        self.shopify = AdminApiServer(validate=admin_schema.schema_location().is_file()).start()
        self.port = self.port or free_port()
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
        self.log_levels = {name: logging.getLogger(name).level for name in QUIET}
        for name in QUIET:  # the story prints its own lines; restored when the demo stops
            logging.getLogger(name).setLevel(logging.ERROR)
        self.install()
        app = create_app(runtime=self.rt)
        self.server = make_server("127.0.0.1", self.port, app, threaded=True, request_handler=AccessLogHandler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def install(self) -> None:
        """Install as Shopify does: the offline token is stored and the setup job reads the shop and
        imports the customers it already had (`imported` profiles: never referral advocates)."""
        shop = self.story["shop"]
        self.shopify.add_shop(
            self.domain,
            name=shop["name"],
            iana_timezone=shop["timezone"],
            currency_code=shop["currency"],
            country_code=shop["country"],
        )
        for spec in self.story["imported_customers"]:
            customer = self.shopify.add_customer(
                self.domain,
                first_name=spec["first_name"],
                email=spec["email"],
                email_marketing_state=spec["email_marketing_state"],
                created_at=self.local(spec["created_at"]),
            )
            self.customer_ids[spec["email"]] = customer.id.rsplit("/", 1)[-1]
            self.names[spec["email"]] = spec["first_name"]
        token = OfflineToken(self.shopify.issue_token(self.domain), DEFAULT_SCOPES, None, None, None)
        installed_at = self.local(self.story["installed_at"])
        complete_install(self.rt, self.domain, token, installed_at)
        self.work()  # the setup job
        with transaction(self.rt.sessions) as session:
            installed = get_shop(session, self.domain)
            save_settings(session, installed, self.story["settings"])
            imported = session.scalar(
                select(func.count(Profile.id)).where(Profile.shop_id == installed.id, Profile.origin == "imported")
            )
        self.installed = (
            f"{self.clock(installed_at)}  install                   {shop['name']} installs Reclaim: "
            f"the setup job imports {imported} existing customer(s)"
        )

    def serve(self) -> None:
        """From now on the admin is visited by hand: its requests are logged (tokens masked)."""
        logging.getLogger("werkzeug").setLevel(logging.INFO)
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C, not RQ's drain handler

    def stop(self) -> None:
        """Stop what start() started, however far it got."""
        for name, level in self.log_levels.items():
            logging.getLogger(name).setLevel(level)
        for part, end in (("server", "shutdown"), ("shopify", "stop"), ("rt", "close")):
            if hasattr(self, part):
                getattr(getattr(self, part), end)()
        runtime.reset()
        if hasattr(self, "redis"):
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
        from jobs.pickup import pick_up  # new deliveries get their ingest jobs, as the dispatcher gives them

        pick_up(self.rt)
        drain(self.rt)  # Ctrl-C meanwhile: KeyboardInterrupt after the job in hand (demo_drain.py)

    def next_due(self) -> datetime | None:
        with transaction(self.rt.sessions) as session:
            return session.scalar(
                select(Message.due_at).where(Message.status == "scheduled").order_by(Message.due_at).limit(1)
            )

    def run(self) -> None:
        from jobs.dispatch import tick

        events = sorted(self.story["events"], key=lambda e: e["at"])
        now = self.local(self.story["start"])
        end = self.local(self.story["end"])
        self.out(f"Simulated time {self.clock(now)} → {self.clock(end)} ({self.story['shop']['timezone']})\n")
        self.out(self.installed)
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
            self.report(now)  # what the webhooks planned, before the tick sends what is due
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
        elif "customer" in event:
            status = self.post(event["topic"], self.new_customer(event["customer"], now))
        elif "fulfilled" in event:
            fulfilled = {
                "id": event["fulfilled"]["id"],
                "fulfillment_status": "fulfilled",
                "updated_at": now.isoformat(),
            }
            status = self.post(event["topic"], fulfilled)
        else:
            spec = event["order"]
            if spec.get("first_name"):
                self.names[spec["email"]] = spec["first_name"]
            codes = (self.referral_code(spec["code_of"]),) if spec.get("code_of") else ()
            customer = self.customer_ids.get(spec["email"])
            if spec["id"] not in self.orders:  # Shopify holds every order it sends (numberOfOrders counts them)
                self.orders.add(spec["id"])
                self.shopify.add_order(
                    self.domain,
                    checkout_token=spec.get("checkout_token"),
                    email=spec["email"],
                    customer_id=f"gid://shopify/Customer/{customer}" if customer else None,
                    created_at=now,
                    total=spec["total"],
                )
            status = self.post(event["topic"], order_payload(spec, now, self.domain, customer_id=customer, codes=codes))
        self.work()  # the ingest job
        with transaction(self.rt.sessions) as session:
            outcome = session.scalar(select(WebhookDelivery.reason).order_by(WebhookDelivery.id.desc()).limit(1))
        # An order's outcome says what each flow made of it, one part a line.
        first, *more = (outcome or "").split("; ")
        self.out(f"{self.clock(now)}  webhook {event['topic']:<17} {event['who']}: HTTP {status}, {first}")
        for part in more:
            self.out(f"{'':<18}↳ {part}")

    def new_customer(self, spec: Spec, now: datetime) -> dict[str, object]:
        """A customer Shopify creates after the install (so the profile is `captured`): in the
        development Admin API, which answers for it from now on, and as the customers/create body."""
        customer = self.shopify.add_customer(
            self.domain, first_name=spec["first_name"], email=spec["email"], phone=spec["phone"], created_at=now
        )
        self.customer_ids[spec["email"]] = customer_id = customer.id.rsplit("/", 1)[-1]
        self.names[spec["email"]] = spec["first_name"]
        stamp = now.isoformat()
        return {
            "id": int(customer_id),
            "email": spec["email"],
            "phone": spec["phone"],
            "first_name": spec["first_name"],
            "created_at": stamp,
            "updated_at": stamp,
            "state": "enabled",
        }

    def referral_code(self, email: str) -> str:
        """The personal code the invite gave this advocate (made through the Admin API at its send)."""
        with transaction(self.rt.sessions) as session:
            code = session.scalar(
                select(ReferralAdvocate.code)
                .join(Profile, Profile.id == ReferralAdvocate.profile_id)
                .where(Profile.email == email, ReferralAdvocate.code_discount_id.is_not(None))
            )
        if code is None:
            raise RuntimeError("the story's advocate was sent no referral code before the friend's order")
        return code

    # --- output ------------------------------------------------------------------
    def clock(self, at: datetime) -> str:
        return at.astimezone(self.zone).strftime("%a %d %b %H:%M")

    def report(self, now: datetime) -> None:
        with transaction(self.rt.sessions) as session:
            rows = session.execute(
                select(Message, CheckoutRow.token, Profile.email)
                .join(Journey, Journey.id == Message.journey_id)
                .outerjoin(CheckoutRow, CheckoutRow.id == Journey.checkout_id)
                .outerjoin(Profile, Profile.id == Journey.profile_id)
                .order_by(Message.id)
            ).all()
            rewards = session.execute(
                select(ReferralReward, OrderRow.name, OrderRow.email, ReferralAdvocate.code)
                .join(OrderRow, OrderRow.id == ReferralReward.friend_order_id)
                .join(ReferralAdvocate, ReferralAdvocate.id == ReferralReward.advocate_id)
                .order_by(ReferralReward.id)
            ).all()
        for reward, order_name, email, code in rewards:
            # A friend's order with an advocate's code is one decision, recorded with its reason.
            if self.seen_rewards.get(reward.id) == reward.status:
                continue
            self.seen_rewards[reward.id] = reward.status
            self.out(
                f"{self.clock(now)}    {self.who(email)} referral decision         "
                f"order {order_name} with {code}: {self.decision(reward)}"
            )
        for message, token, email in rows:
            state = (message.status, message.due_at, message.reason)
            before = self.seen.get(message.id)
            self.seen[message.id] = state
            if before == state:
                continue
            where = f"{self.who(token or email)} {message.flow:<8} {message.step:<8} {message.channel:<8}"
            if before is None:
                why = f", {message.reason}" if message.reason else ""
                line = f"planned for {self.clock(message.due_at)}{why}"
            elif message.status == "scheduled" and before[1] != message.due_at:
                line = f"now due {self.clock(message.due_at)} ({message.reason})"
            elif message.status == "sent":
                quoted = "".join(f"\n{'':<20}│ {text}" for text in (message.body or "").splitlines() if text.strip())
                line = f"SENT to {message.recipient}{quoted}"
            else:
                line = f"{message.status}: {message.reason}"
            self.out(f"{self.clock(now)}    {where} {line}")

    @staticmethod
    def decision(reward: ReferralReward) -> str:
        """A reward decision as the merchant reads it: its status, then why (or the reward's code)."""
        detail = f"code {reward.reward_code}" if reward.status == "issued" else (reward.reason or "")
        return detail if detail.startswith(f"{reward.status}:") else f"{reward.status}: {detail}"

    def who(self, key: str | None) -> str:
        return f"{self.names.get(key or '', key or 'anonymous'):<8}"

    def summary(self) -> None:
        with transaction(self.rt.sessions) as session:
            messages = session.scalars(select(Message)).all()
            checkouts = session.scalars(select(CheckoutRow)).all()
            journeys = session.scalars(select(Journey)).all()
            advocates = session.execute(
                select(ReferralAdvocate.code, Profile.email).join(Profile, Profile.id == ReferralAdvocate.profile_id)
            ).all()
            rewards = session.scalars(select(ReferralReward).order_by(ReferralReward.id)).all()
            no_flow = session.scalars(
                select(WebhookDelivery.reason)
                .where(WebhookDelivery.topic == "orders/paid", WebhookDelivery.reason.contains("no referral flow"))
                .order_by(WebhookDelivery.id)
            ).all()
        flows = Counter(j.flow for j in journeys)
        stopped = Counter(m.status for m in messages if m.status in ("skipped", "cancelled"))
        revenue = sum((j.recovered_revenue or Decimal(0)) for j in journeys)
        reachable = sum(1 for c in checkouts if c.email or c.phone)
        self.out("\nSummary")
        self.out(
            f"  checkouts: {len(checkouts)} ({reachable} reachable), journeys: "
            + ", ".join(f"{n} {flow}" for flow, n in sorted(flows.items()))
        )
        self.out("  sent: " + "; ".join(self.sent(messages, flow) for flow in ("recovery", "referral")))
        self.out("  not sent: " + (", ".join(f"{n} {status}" for status, n in sorted(stopped.items())) or "none"))
        self.out(
            f"  converted: {sum(1 for j in journeys if j.status == 'converted')} journey(s) paid, "
            f"{revenue:.2f} {self.story['shop']['currency']} attributed to messages (the report's 'recovered')"
        )
        steps = [
            m.step for m in sorted(messages, key=lambda m: m.due_at) if m.flow == "referral" and m.status == "sent"
        ]
        self.out(
            "  referral: "
            + ", ".join(f"{self.names.get(email or '', 'advocate')}'s code {code}" for code, email in advocates)
            + f"; sent in turn: {' → '.join(steps) or 'nothing'}"
        )
        for reward in rewards:
            self.out(f"  reward {self.decision(reward)}")
        for reason in no_flow:
            order, _, why = (reason or "").partition(": ")
            self.out(f"  {order}: {next((p for p in why.split('; ') if 'no referral flow' in p), why)}")
        codes = [d.code for d in self.shopify.discounts(self.domain)]
        checks = len(self.shopify.graphql_requests("OrdersForPaymentCheck"))
        self.out(
            f"  Shopify (development Admin API): {checks} live payment check(s), "
            f"{len(codes)} code(s) created: {', '.join(codes) or 'none'}"
        )
        self.out(f"  outbox: {self.folder / 'outbox.jsonl'} (one JSON line per message)")
        self.results()

    def results(self) -> None:
        """A few lines of `reclaim report` over the story's days (attributed and incremental results)."""
        from shop_app.reporting.measurement import measure
        from shop_app.reporting.present import measurement_summary

        start, end = self.local(self.story["start"]), self.local(self.story["end"])
        with transaction(self.rt.sessions) as session:
            shop = get_shop(session, self.domain)
            days = (start.astimezone(self.zone).date(), end.astimezone(self.zone).date())
            lines = measurement_summary(measure(session, shop, *days, end))
        database = f"sqlite:///{self.folder / 'demo.db'}"
        self.out(
            f"\nReport (DATABASE_URL={database} reclaim report --shop {self.domain} --from {days[0]} --to {days[1]})"
        )
        for line in lines:
            self.out(f"  {line}")

    @staticmethod
    def sent(messages: Sequence[Message], flow: str) -> str:
        counts = Counter(m.channel for m in messages if m.status == "sent" and m.flow == flow)
        return (", ".join(f"{n} {channel}" for channel, n in sorted(counts.items())) or "nothing") + f" ({flow})"

    def unfinished(self) -> list[str]:
        """Webhooks the story expects processed that were not (a broken ingest): the demo then fails."""
        with transaction(self.rt.sessions) as session:
            rows = session.execute(
                select(WebhookDelivery.topic, WebhookDelivery.status, WebhookDelivery.reason)
                .where(WebhookDelivery.status != "processed")
                .order_by(WebhookDelivery.id)
            ).all()
        return [f"{topic} {status}: {reason}" for topic, status, reason in rows]


def run_demo(
    folder: Path | None = None, out: Output = print, *, serve: Callable[[str], None] | None = None, port: int = 0
) -> int:
    """Tell the story; with `serve`, then keep the admin running and call `serve(sign-in URL)`,
    which returns when it is time to stop (the CLI waits for Ctrl-C). 1 when a webhook of the
    story was not processed, so CI, which runs the demo, sees a broken ingest."""
    target = folder or Path(os.environ.get("RECLAIM_INSTANCE_DIR") or Path.cwd() / "instance") / "demo"
    check_port(port)
    previous = set_aside(target)  # not deleted: a run that fails puts it back (demo_folder.py)
    demo = Demo(target, out, port)
    saved = {k: os.environ.get(k) for k in DEMO_ENVIRONMENT}
    told = interrupted = False
    try:
        demo.start()
        out(f"Reclaim demo: shop {demo.domain}, app at {demo.base_url}, data in {target}\n")
        demo.run()
        demo.summary()
        broken = demo.unfinished()
        for line in broken:
            out(f"  NOT PROCESSED: {line}")
        told = True
        keep_this_run(previous)
        if serve is not None:
            url = f"{demo.base_url}/dev/sign-in?shop={demo.domain}"
            out(f"\nThe admin of {demo.domain} (development sign-in; Ctrl-C stops it):\n  {url}")
            out("Without Shopify's CDN the pages use plain development stand-ins instead of the Polaris look.")
            demo.serve()
            serve(url)
    except INTERRUPTS:  # Ctrl-C: KeyboardInterrupt, or RQ's StopRequested inside a drain (demo_folder.py)
        interrupted = True
    finally:
        demo.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        for line in ending(target, previous, told, interrupted):
            out(line)
    return INTERRUPTED if interrupted else 1 if broken else 0
