"""Test helpers: a store that signs webhooks like Shopify and drives simulated time."""

from __future__ import annotations

import copy
import json
import os
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from jobs.dispatch import tick
from jobs.failures import DescribedFailures
from jobs.pickup import pick_up
from shop_app.messaging.links import read_click_token
from shop_app.recovery.activity import message_rows
from shop_app.shopify.shops import get_shop, install_shop, save_settings
from shop_app.shopify.signatures import webhook_hmac
from shop_app.storage.database import transaction

FIXTURES = Path(__file__).parent / "fixtures"


def screenshots_folder() -> Path:
    """Where the admin's browser tests photograph every page: $RECLAIM_SCREENSHOTS, or screenshots/
    at the repository's root."""
    return Path(os.environ.get("RECLAIM_SCREENSHOTS") or Path(__file__).resolve().parents[1] / "screenshots")


class DrainWorker(DescribedFailures):
    """RQ's SimpleWorker for a burst drain, without the command channel (pubsub).

    A drain takes no `rq` commands (stop, kill, shutdown), and stopping RQ's pubsub
    thread races with the unsubscribe reply: about one drain in eight waited the full
    second of `unsubscribe()`'s join. The jobs run exactly as in `reclaim worker`."""

    def subscribe(self) -> None:
        pass


def postgres_only(rt, why: str) -> None:
    """Skip, saying `why`, unless the database is PostgreSQL; under CI=true, which sets
    DATABASE_URL to PostgreSQL, fail instead: there the test must run."""
    if not rt.settings.database_url.startswith("postgresql"):
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI sets DATABASE_URL to PostgreSQL and this test must run there ({why})")
        pytest.skip(f"{why}; set DATABASE_URL to a PostgreSQL database to run this")


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


class ShopifyStore:
    def __init__(self, rt, client, domain: str, admin_api=None):
        self.rt, self.client, self.domain, self.admin_api = rt, client, domain, admin_api

    @classmethod
    def install(cls, rt, client, domain: str, timezone: str = "UTC", admin_api=None) -> ShopifyStore:
        """Install the shop here and, when given, on the development Admin API with its token."""
        token = "shpat_test_token"
        if admin_api is not None:
            admin_api.add_shop(domain, name="Demo Shop", iana_timezone=timezone, currency_code="EUR")
            token = admin_api.issue_token(domain)
        with transaction(rt.sessions) as session:
            install_shop(session, rt.box, domain, token, name="Demo Shop", timezone=timezone, currency="EUR")
        return cls(rt, client, domain, admin_api)

    # --- payloads -------------------------------------------------------------
    def checkout(self, token: str, updated_at: str, **fields) -> dict:
        payload = fixture("checkout.json")
        payload["token"] = token
        payload["cart_token"] = f"cart-{token}"
        payload["abandoned_checkout_url"] = payload["abandoned_checkout_url"].replace("replace-me", token)
        payload["created_at"] = payload["updated_at"] = updated_at
        if "phone" in fields and "sms_marketing_phone" not in fields:
            # The shopper ticked the SMS box for the number they typed, unless a test says otherwise.
            fields = {**fields, "sms_marketing_phone": fields["phone"]}
        payload.update(fields)
        return payload

    def order(self, checkout_token: str | None, created_at: str, **fields) -> dict:
        payload = fixture("order.json")
        payload["checkout_token"] = checkout_token
        payload["cart_token"] = f"cart-{checkout_token}" if checkout_token else None
        payload["created_at"] = created_at
        payload.update(fields)
        return payload

    # --- HTTP -----------------------------------------------------------------
    def post(
        self,
        topic: str,
        payload,
        *,
        webhook_id: str | None = None,
        secret: str | None = None,
        body: bytes | None = None,
        headers: dict | None = None,
    ):
        raw = body if body is not None else json.dumps(payload).encode()
        secret = secret or self.rt.settings.shopify_api_secret
        sent = {
            "Content-Type": "application/json",
            "X-Shopify-Topic": topic,
            "X-Shopify-Hmac-Sha256": webhook_hmac(raw, secret),
            "X-Shopify-Shop-Domain": self.domain,
            "X-Shopify-API-Version": "2026-07",
            "X-Shopify-Webhook-Id": webhook_id or str(uuid.uuid4()),
            "X-Shopify-Triggered-At": datetime.now(UTC).isoformat(),  # as Shopify sends it: when it happened
        }
        sent.update(headers or {})
        return self.client.post(f"/webhooks/{topic}", data=raw, headers=sent)

    def deliver(self, topic: str, payload, **kwargs):
        """Post a webhook, insist it was accepted, and run the ingest job."""
        response = self.post(topic, payload, **kwargs)
        assert response.status_code == 200, response.get_json()
        self.drain()
        return response

    # --- time and queues ------------------------------------------------------
    def drain(self) -> None:
        pick_up(self.rt)  # new deliveries get their ingest jobs, as the dispatcher's next pass gives them
        queues = list(self.rt.queue.queues.values())
        DrainWorker(queues, connection=self.rt.redis).work(burst=True, logging_level="WARNING")

    def tick(self, now: str | datetime) -> str:
        at = now if isinstance(now, str) else now.isoformat()
        report = tick(datetime.fromisoformat(at).isoformat())
        self.drain()
        return report

    # --- reading back ---------------------------------------------------------
    def messages(self, **match) -> list[dict]:
        with transaction(self.rt.sessions) as session:
            rows = message_rows(session, self.domain)
        return [r for r in rows if all(r[k] == v for k, v in match.items())]

    def message(self, **match) -> dict:
        rows = self.messages(**match)
        assert len(rows) == 1, rows
        return rows[0]

    def outbox(self) -> list[dict]:
        path = Path(self.rt.settings.outbox_file)
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines()]

    def links(self, text: str) -> list[str]:
        """Where the tracked links (`{app}/c/<token>`) in a message lead, read from their signed tokens."""
        tokens = re.findall(re.escape(self.rt.settings.shopify_app_url) + r"/c/([\w\-]+)", text)
        return [read_click_token(self.rt.settings.secret_key, token).url for token in tokens]

    def set_settings(self, document: dict) -> None:
        with transaction(self.rt.sessions) as session:
            save_settings(session, get_shop(session, self.domain), copy.deepcopy(document))
