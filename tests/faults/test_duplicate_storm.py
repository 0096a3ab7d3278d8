"""Shopify's at-least-once delivery at scale: every webhook posted 4 times (one X-Shopify-Webhook-Id),
all of them shuffled, sent by 8 threads at once to the app behind a real HTTP server (werkzeug's,
threaded, over the web tier's runtime and timeouts), while two `reclaim worker` processes ingest
what arrives.

The webhooks are checkouts/create, checkouts/update for some of those checkouts (the newer
`updated_at` must win, whichever arrives first) and orders/create paying others. Expected:
exactly one delivery per webhook id, every delivery processed, one journey per unpaid checkout
planned like an undisturbed one, no message for a paid checkout, no duplicate row, 0 lost.

Scale follows the Hypothesis profile (README): 10,000 posts under `ci` (CI=true or
HYPOTHESIS_PROFILE=ci), 1,000 under the quick `dev` default.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
import requests
from hypothesis import settings as hypothesis_settings
from sqlalchemy import func, or_, select
from werkzeug.serving import WSGIRequestHandler, make_server

from jobs.dispatch import reconcile
from shop_app import create_app, runtime
from shop_app.domain.models import JourneyStatus
from shop_app.shopify.signatures import webhook_hmac
from shop_app.storage.database import transaction
from shop_app.storage.tables import CheckoutRow, Journey, Message, WebhookDelivery
from tests.faults.ledger import NOT_FINAL, delivery_statuses, figures, outbox_message_ids
from tests.processes import Worker, wait_for

pytestmark = pytest.mark.slow

POSTS = 10_000 if hypothesis_settings.get_current_profile_name() == "ci" else 1_000
COPIES = 4  # each webhook id posted this many times
THREADS = 8
WORKERS = 2


class Storm:
    """The webhooks: 70 % new checkouts, 10 % updates of some of them, 20 % orders paying others.
    Unpaid checkouts are abandoned 20 minutes ago (first message not yet due); paid ones 70
    minutes ago, so their first message is due: only the payment stops it. The customers paid
    before the storm, so Shopify (the development Admin API) knows every order already."""

    def __init__(self, store, now: datetime, distinct: int):
        self.store, self.now = store, now
        updates, orders = distinct // 10, distinct // 5
        creates = distinct - updates - orders
        tokens = [f"storm-{n:05d}" for n in range(creates)]
        self.updated, self.paid, self.unpaid = tokens[:updates], tokens[creates - orders :], tokens[: creates - orders]
        self._paid = set(self.paid)
        self.webhooks = [self._checkout("checkouts/create", token) for token in tokens]
        self.webhooks += [self._checkout("checkouts/update", token, minutes_later=10) for token in self.updated]
        self.webhooks += [self._order(token) for token in self.paid]

    def abandoned(self, token: str, minutes_later: int = 0) -> datetime:
        ago = 70 if token in self._paid else 20
        return self.now - timedelta(minutes=ago - minutes_later)

    def _checkout(self, topic: str, token: str, minutes_later: int = 0) -> tuple[str, str, bytes]:
        at = self.abandoned(token, minutes_later).isoformat()
        number = int(token.removeprefix("storm-"))
        payload = self.store.checkout(token, at, email=f"{token}@example.com", phone=f"+346{number:08d}")
        return topic, f"{topic}-{token}", json.dumps(payload).encode()

    def _order(self, token: str) -> tuple[str, str, bytes]:
        number = int(token.removeprefix("storm-"))
        email = f"{token}@example.com"
        self.store.admin_api.add_order(self.store.domain, checkout_token=token, email=email, created_at=self.now)
        payload = self.store.order(token, self.now.isoformat(), id=9_000_000 + number, email=email)
        return "orders/create", f"order-{token}", json.dumps(payload).encode()


class Unlogged(WSGIRequestHandler):
    def log_request(self, *args: object) -> None:  # thousands of access-log lines would say nothing
        pass


def post_all(base_url: str, domain: str, secret: str, posts: list[tuple[str, str, bytes]]) -> Counter[str]:
    """POST every webhook from THREADS threads, as Shopify does: a 503 is retried (after a pause)."""
    local = threading.local()

    def post(webhook: tuple[str, str, bytes]) -> list[str]:
        topic, webhook_id, body = webhook
        if not hasattr(local, "session"):
            local.session = requests.Session()
        headers = {
            "Content-Type": "application/json",
            "X-Shopify-Topic": topic,
            "X-Shopify-Hmac-Sha256": webhook_hmac(body, secret),
            "X-Shopify-Shop-Domain": domain,
            "X-Shopify-API-Version": "2026-07",
            "X-Shopify-Webhook-Id": webhook_id,
        }
        answers = []
        while True:
            response = local.session.post(f"{base_url}/webhooks/{topic}", data=body, headers=headers, timeout=10)
            if response.status_code != 503:
                answers.append(response.json()["status"] if response.status_code == 200 else str(response.status_code))
                return answers
            answers.append("503, retried")
            time.sleep(0.2)

    with ThreadPoolExecutor(THREADS) as pool:
        return Counter(answer for answers in pool.map(post, posts) for answer in answers)


def planned(rt) -> dict[str, list[tuple[str, str, str]]]:
    """Each checkout token's messages as (step, channel, status)."""
    with transaction(rt.sessions) as session:
        rows = session.execute(
            select(CheckoutRow.token, Message.step, Message.channel, Message.status)
            .join(Journey, Journey.checkout_id == CheckoutRow.id)
            .join(Message, Message.journey_id == Journey.id)
        )
        plans: dict[str, list[tuple[str, str, str]]] = {}
        for token, step, channel, status in rows:
            plans.setdefault(token, []).append((step, channel, status))
    return {token: sorted(plan) for token, plan in plans.items()}


def ingesting(rt) -> int:
    """Deliveries held by an ingest job (waiting or running) or new (the dispatcher's next pass gives
    them their job, jobs/pickup.py); a broken run releases its delivery until its retry_at."""
    with transaction(rt.sessions) as session:
        held = select(func.count()).where(
            WebhookDelivery.status == "received",
            or_(WebhookDelivery.job_id.is_not(None), WebhookDelivery.retry_at.is_(None)),
        )
        return session.execute(held).scalar_one()


def broken(rt) -> dict[str, int]:
    """Why ingest runs broke, by reason (each such delivery waits for its next attempt)."""
    with transaction(rt.sessions) as session:
        reasons = session.scalars(select(WebhookDelivery.reason).where(WebhookDelivery.attempts > 0))
        return dict(Counter((reason or "").split("; next at")[0] for reason in reasons))


def counts(rt) -> dict[str, object]:
    with transaction(rt.sessions) as session:
        return {
            "deliveries": session.scalar(select(func.count()).select_from(WebhookDelivery)),
            "checkouts": session.scalar(select(func.count()).select_from(CheckoutRow)),
            "journeys": dict(session.execute(select(Journey.status, func.count()).group_by(Journey.status)).all()),
            "updated_at": dict(session.execute(select(CheckoutRow.token, CheckoutRow.shopify_updated_at)).all()),
        }


def pending(plans: dict[str, list[tuple[str, str, str]]], tokens: list[str]) -> list[str]:
    """The checkouts among `tokens` with a message still to go out."""
    return [t for t in tokens if any(status in NOT_FINAL for _, _, status in plans.get(t, []))]


def test_10000_duplicated_and_shuffled_deliveries(rt, store, tmp_path):
    now = datetime.now(UTC).replace(microsecond=0)
    distinct = POSTS // COPIES
    storm = Storm(store, now, distinct)
    store.deliver("checkouts/create", store.checkout("calm", storm.abandoned("calm").isoformat()))
    [reference] = planned(rt).values()  # an unpaid checkout's plan, undisturbed

    posts = storm.webhooks * COPIES
    random.Random(9).shuffle(posts)
    web = runtime.Runtime.build(rt.settings, web=True)  # the web tier's short timeouts
    server = make_server("127.0.0.1", 0, create_app(runtime=web), threaded=True, request_handler=Unlogged)
    serving = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    serving.start()
    workers = [Worker({}, tmp_path / f"worker-{n}.log") for n in range(WORKERS)]
    started = time.monotonic()
    try:
        answers = post_all(f"http://127.0.0.1:{server.port}", store.domain, rt.settings.shopify_api_secret, posts)
        posted = time.monotonic() - started
        wait_for(lambda: ingesting(rt) == 0, 120, "the workers never caught up")
        ingested = time.monotonic() - started
    finally:
        for worker in workers:
            worker.stop()
        server.shutdown()
        serving.join(5)
        web.close()
    after_the_storm, broken_runs = delivery_statuses(rt), broken(rt)
    # Runs that broke (a lock wait too long, two workers inserting one checkout) wait for their
    # backoff; reconciler passes hours later run them again. Then one dispatcher pass, now.
    passes = []
    for hours in (3, 6):
        passes.append(str(reconcile(now + timedelta(hours=hours))))
        store.drain()
    # A checkout and its order ingested at the same moment leave an active journey: its first
    # message is due now, and the send job's payment gate must stop it.
    raced = pending(planned(rt), storm.paid)
    store.tick(now)
    final = delivery_statuses(rt)
    totals, plans = counts(rt), planned(rt)
    sent = outbox_message_ids(store.outbox())

    unpaid_ok = sum(plans.get(t) == reference for t in storm.unpaid)
    paid_pending = pending(plans, storm.paid)
    stale_kept = [t for t in storm.updated if totals["updated_at"][t] != storm.abandoned(t, minutes_later=10)]
    figures(
        f"{len(posts)} duplicated, shuffled deliveries",
        distinct_webhooks=distinct,
        answers=dict(answers),
        posting_seconds=f"{posted:.1f}",
        ingested_after_seconds=f"{ingested:.1f}",
        posts_per_second=f"{len(posts) / posted:.0f}",
        after_the_storm=dict(after_the_storm),
        broken_runs=broken_runs,
        reconciler=" | ".join(passes),
        deliveries=totals["deliveries"] - 1,
        final=dict(final),
        checkouts=totals["checkouts"] - 1,
        journeys=totals["journeys"],
        unpaid_planned_like_the_reference=f"{unpaid_ok}/{len(storm.unpaid)}",
        paid_but_raced_into_a_journey=len(raced),
        paid_with_a_message_left=len(paid_pending),
        updates_lost_to_a_stale_create=len(stale_kept),
        messages_sent=len(sent),
    )
    assert answers["accepted"] == distinct and answers["duplicate"] == distinct * (COPIES - 1)
    assert set(answers) <= {"accepted", "duplicate", "503, retried"}
    assert totals["deliveries"] == distinct + 1 and final == {"processed": distinct + 1}
    assert totals["checkouts"] == len(storm.unpaid) + len(storm.paid) + 1
    assert unpaid_ok == len(storm.unpaid)  # one journey each, planned once, nothing sent yet
    assert totals["journeys"].get(JourneyStatus.ACTIVE.value) == len(storm.unpaid) + 1
    assert paid_pending == [] and sent == []  # paid: no message, even when checkout and order raced
    assert stale_kept == []
