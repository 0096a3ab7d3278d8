"""Helpers for the referral flow's end-to-end tests (the audit of issue 11): a captured first-time
buyer, an advocate with her personal code, friends' orders, and what the merchant can read back
(webhook deliveries' reasons, reward decisions, `reclaim` commands), all through the real webhook
routes, worker and time control of tests/support.py."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from click.testing import CliRunner, Result
from sqlalchemy import select

from shop_app.cli.commands import main
from shop_app.storage.database import transaction
from shop_app.storage.referral_tables import ReferralReward
from shop_app.storage.tables import Journey, WebhookDelivery
from tests.support import ShopifyStore

ANA, PHONE = "ana@example.com", "+34600111222"
MADRID = ZoneInfo("Europe/Madrid")
PAID_AT = "2026-03-02T19:00:00+01:00"  # 18:00 UTC


def ana_pays(store: ShopifyStore, *, checkout: str | None = "c1", fulfilled: str | None = None, **order) -> None:
    """Ana (customer 7001, ANA, PHONE), captured by her checkout `checkout`, pays her first order
    #1001 (id 9001) at PAID_AT; it is fulfilled at `fulfilled` (orders/fulfilled) when given."""
    if checkout is not None:
        store.deliver("checkouts/create", store.checkout(checkout, "2026-03-02T18:00:00+01:00", email=ANA, phone=PHONE))
    payload = store.order(checkout, PAID_AT, id=9001, name="#1001", email=ANA, phone=PHONE)
    payload["buyer_accepts_marketing"] = True
    payload["customer"] = {"id": 7001, "email": ANA, "phone": PHONE, "first_name": "Ana"}
    payload.update(order)
    store.deliver("orders/paid", payload)
    if fulfilled:
        store.deliver("orders/fulfilled", {"id": 9001, "updated_at": fulfilled})


def ana_advocates(store: ShopifyStore, **order) -> str:
    """Ana pays #1001 (shipped as `order` says), it is fulfilled, and review, social and invite go
    out; her personal code (made through the development Admin API) is returned."""
    ana_pays(store, fulfilled="2026-03-03T10:00:00Z", **order)
    for day in ("2026-03-06", "2026-03-08", "2026-03-10"):
        store.tick(f"{day}T10:01:00+00:00")
    invite = store.message(flow="referral", step="invite")
    assert invite["status"] == "sent", invite
    assert store.admin_api is not None
    [code] = [d.input["code"] for d in store.admin_api.discounts(store.domain)]
    return code


def friend_order(store: ShopifyStore, order_id: int, email: str | None, customer_id: int | None, code: str | None,
                 at: str = "2026-03-11T12:00:00+01:00", **fields) -> dict:  # fmt: skip
    """A friend's paid order (with `code` when given), as orders/paid carries it."""
    payload = store.order(None, at, id=order_id, name=f"#{order_id}", email=email)
    payload["customer"] = {"id": customer_id, "email": email} if customer_id else None
    if code is not None:
        payload["discount_codes"] = [{"code": code, "amount": "8.49", "type": "percentage"}]
    payload.update(fields)
    return payload


def reason_of(store: ShopifyStore, webhook_id: str) -> str:
    """The reason the ingest recorded on the delivery with this X-Shopify-Webhook-Id."""
    with transaction(store.rt.sessions) as session:
        delivery = session.scalars(select(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook_id)).one()
        assert delivery.status == "processed", (delivery.status, delivery.reason)
        return delivery.reason or ""


def rewards(store: ShopifyStore) -> list[tuple[str, str]]:
    """Every reward decision, oldest first: (status, reason)."""
    with transaction(store.rt.sessions) as session:
        rows = session.scalars(select(ReferralReward).order_by(ReferralReward.id)).all()
        return [(r.status, r.reason or "") for r in rows]


def referral_journeys(store: ShopifyStore) -> list[Journey]:
    with transaction(store.rt.sessions) as session:
        found = list(session.scalars(select(Journey).where(Journey.flow == "referral").order_by(Journey.id)))
        session.expunge_all()
        return found


def steps(store: ShopifyStore) -> dict[str, dict]:
    """The referral rows by step (one channel each)."""
    rows = store.messages(flow="referral")
    by_step = {m["step"]: m for m in rows}
    assert len(by_step) == len(rows), rows
    return by_step


def send_due_rewards(store: ShopifyStore) -> None:
    """A reward is planned due at the ingest's wall-clock time: tick just after it."""
    store.tick(datetime.now(UTC) + timedelta(minutes=1))


def next_madrid(hour: int, after: datetime) -> datetime:
    """The first `hour`:00 in Madrid after `after`, in UTC."""
    local = after.astimezone(MADRID).replace(minute=0, second=0, microsecond=0)
    candidate = local.replace(hour=hour)
    if candidate <= after.astimezone(MADRID):
        candidate = (local + timedelta(days=1)).replace(hour=hour)
    return candidate.astimezone(UTC)


def reclaim(*args: str) -> Result:
    """Run a `reclaim` command as the merchant does."""
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def messages_json(store: ShopifyStore) -> list[dict]:
    result = reclaim("messages", "--shop", store.domain, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def settings_set_refuses(store: ShopifyStore, folder: Path, referral: dict, fields: set[str]) -> tuple[dict, Path]:
    """`reclaim settings set` with this referral section exits 2, names each field and saves
    nothing; returns the document shown before and the file, for the caller's next try."""
    before = reclaim("settings", "show", store.domain).output
    document = json.loads(before)
    document["referral"] = referral
    path = folder / "bad.json"
    path.write_text(json.dumps(document))
    refused = reclaim("settings", "set", store.domain, str(path))
    assert refused.exit_code == 2, refused.output
    for field in fields:
        assert field in refused.output, (field, refused.output)
    assert reclaim("settings", "show", store.domain).output == before
    return document, path
