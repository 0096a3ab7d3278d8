"""Fuzz every Shopify webhook topic through the real route, worker and reconciler (issue 9).

Each example signs and posts one body for the topic: a realistic payload with a few values
replaced, dropped or added, or a body that is not quite JSON. The route must answer below 500,
and the ingest job must settle the delivery (`processed` or `rejected` with a reason) on its
first run: a run that breaks is a bug, even though the bounded attempts would contain it.
After all examples the reconciler and the workers run through two simulated days, and no
delivery or message may be left in a non-final state.
"""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

import jobs.dispatch
from shop_app.shopify.topics import TOPICS
from shop_app.storage.database import transaction
from shop_app.storage.tables import Shop, WebhookDelivery
from tests.fuzz.settling import settle
from tests.fuzz.strategies import bodies, fuzz_settings, mutated
from tests.support import ShopifyStore

pytestmark = [
    pytest.mark.slow,  # the fuzz suite: ~20 s under the dev profile, minutes under ci
    pytest.mark.filterwarnings("ignore:Generating overly large repr"),  # a failing 10 kB body is still reported
]

NOW = datetime.now(UTC).replace(microsecond=0)
#: Few checkouts, many updates: the sends after the run stay a few hundred, not thousands.
TOKENS = [f"fuzz-{n}" for n in range(8)]
ANA = {"id": 7001, "email": "ana@example.com", "phone": "+34600111222", "first_name": "Ana"}
BEA = {"id": 7002, "email": "bea@example.com", "phone": "+34600333444", "first_name": "Bea"}

ORDER_ID = 5551  # Bea's order for checkout fuzz-2, stored before the run

moments = st.integers(-24 * 60, 60).map(lambda minutes: (NOW + timedelta(minutes=minutes)).isoformat())
tokens = st.sampled_from(TOKENS)
order_ids = st.sampled_from([ORDER_ID, 5552]) | st.integers(1, 10**6)


def seeds(store: ShopifyStore, topic: str) -> st.SearchStrategy:
    """Payloads the app accepts for `topic`, as Shopify sends them (a new topic needs one here)."""
    shop = {"shop_id": 1, "shop_domain": store.domain}
    checkout = st.builds(lambda token, at: store.checkout(token, at), tokens, moments)
    order = st.builds(lambda token, at, order_id: store.order(token, at, id=order_id), tokens, moments, order_ids)
    refund = st.builds(
        lambda order_id, at: {
            "id": 509562969,
            "order_id": order_id,
            "created_at": at,
            "transactions": [{"kind": "refund", "status": "success", "amount": "84.90"}],
        },
        order_ids,
        moments,
    )
    return {
        "checkouts/create": checkout,
        "checkouts/update": checkout,
        "checkouts/delete": st.builds(lambda token: {"id": 981820079255243537, "cart_token": f"cart-{token}"}, tokens),
        "orders/create": order,
        "orders/paid": order,
        "orders/fulfilled": order,
        "orders/cancelled": st.builds(lambda payload, at: {**payload, "cancelled_at": at}, order, moments),
        "refunds/create": refund,
        "customers/create": st.builds(lambda at: {**ANA, "created_at": at}, moments),
        "app/uninstalled": st.just({"id": 1, "name": "Demo Shop", "myshopify_domain": store.domain}),
        "customers/data_request": st.just(
            {**shop, "customer": ANA, "orders_requested": [ORDER_ID], "data_request": {"id": 9999}}
        ),
        "customers/redact": st.just({**shop, "customer": ANA, "orders_to_redact": [ORDER_ID]}),
        "shop/redact": st.just(shop),
        "app_subscriptions/update": st.builds(
            subscription_update, plans, st.sampled_from(SUBSCRIPTION_STATUSES), moments
        ),  # fmt: skip
    }[topic]


#: Plans as the Partner Dashboard names them (shop_app/billing/plans.py), and one the app does not know.
plans = st.sampled_from([("Free", "free"), ("Growth", "growth"), ("Scale", "scale"), ("Enterprise", "enterprise")])
SUBSCRIPTION_STATUSES = ["ACTIVE", "CANCELLED", "DECLINED", "EXPIRED", "FROZEN", "PENDING"]


def subscription_update(plan: tuple[str, str], status: str, at: str) -> dict:
    """An app_subscriptions/update body as Shopify sends it (shape: devtools/admin_billing.webhook_payload)."""
    name, handle = plan
    return {
        "app_subscription": {
            "admin_graphql_api_id": f"gid://shopify/AppSubscription/{sum(map(ord, handle))}",
            "name": name,
            "status": status,
            "admin_graphql_api_shop_id": "gid://shopify/Shop/548380009",
            "created_at": at,
            "updated_at": at,
            "currency": "USD",
            "capped_amount": None,
            "price": "19.00",
            "interval": "every_30_days",
            "plan_handle": handle,
        }
    }


#: What an HTTP server lets through in a header value: visible ASCII, tab, space and Latin-1 (obs-text).
HEADER_TEXT = st.text(st.sampled_from("\t ") | st.characters(min_codepoint=0x21, max_codepoint=0xFF), max_size=140)


def webhook_ids() -> st.SearchStrategy[str]:
    """Mostly fresh ids; now and then one seen before (a repeat) or an odd one."""
    return st.one_of(st.builds(lambda: str(uuid.uuid4())), st.sampled_from(["repeat-1", "repeat-2"]), HEADER_TEXT)


@st.composite
def extra_headers(draw: st.DrawFn) -> dict[str, str]:
    """Headers the HMAC does not cover, so a replayed delivery may carry any: mostly Shopify's own."""
    if draw(st.integers(0, 3)):
        return {}
    names = st.sampled_from(["X-Shopify-API-Version", "X-Shopify-Triggered-At", "X-Shopify-Shop-Domain"])
    return draw(st.dictionaries(names, HEADER_TEXT | st.just("DEMO-SHOP.myshopify.com"), min_size=1, max_size=2))


def broken_run(store: ShopifyStore, webhook_id: str) -> str | None:
    """Why the delivery's ingest run broke, or None: it was processed or rejected, it is gone with
    the shop (shop/redact), or its job has not run (Redis lost it: the reconciler's part, below)."""
    with transaction(store.rt.sessions) as session:
        row = session.scalar(select(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook_id.strip()))
        return row.reason if row is not None and row.attempts > 0 else None


def keep_installed(store: ShopifyStore) -> None:
    """Put the shop back after app/uninstalled or shop/redact, so the next example reaches it."""
    with transaction(store.rt.sessions) as session:
        status = session.scalar(select(Shop.status).where(Shop.domain == store.domain))
    if status != "installed":
        ShopifyStore.install(store.rt, store.client, store.domain, timezone="Europe/Madrid", admin_api=store.admin_api)


@pytest.fixture
def shop_with_checkouts(store, monkeypatch) -> ShopifyStore:
    """The store with a few abandoned checkouts and their journeys, for orders, refunds, deletes and
    redacts to find: two of Ana's, and one of Bea's that she paid."""
    monkeypatch.setattr(jobs.dispatch, "INGEST_GRACE_SECONDS", 0)
    abandoned = (NOW - timedelta(minutes=30)).isoformat()
    for token in TOKENS[:2]:
        store.deliver("checkouts/create", store.checkout(token, abandoned))
    store.deliver("checkouts/create", store.checkout(TOKENS[2], abandoned, email=BEA["email"], phone=BEA["phone"],
                                                     customer=BEA))  # fmt: skip
    store.deliver("orders/paid", store.order(TOKENS[2], NOW.isoformat(), id=ORDER_ID, email=BEA["email"], customer=BEA))
    return store


@pytest.mark.parametrize("topic", TOPICS)
def test_any_payload_is_answered_below_500_and_settles(shop_with_checkouts, topic):
    store = shop_with_checkouts
    answers: Counter[int] = Counter()

    @fuzz_settings(5)  # 500 payloads per topic under ci (14 topics: 7,000 in all)
    @given(body=bodies(mutated(seeds(store, topic))), webhook_id=webhook_ids(), headers=extra_headers())
    def post_one(body: bytes, webhook_id: str, headers: dict[str, str]) -> None:
        response = store.post(topic, None, body=body, webhook_id=webhook_id, headers=headers)
        assert response.status_code < 500, (response.status_code, body[:300])
        answers[response.status_code] += 1
        store.drain()
        if response.get_json().get("status") == "accepted":  # not refused, nor a repeat
            broken = broken_run(store, webhook_id)
            assert broken is None, f"the ingest run broke: {broken}; body {body[:300]!r}"
        keep_installed(store)

    post_one()
    outcome = settle(store, datetime.now(UTC))
    print(
        f"\n{topic}: {sum(answers.values())} payloads, {sum(n for code, n in answers.items() if code >= 500)} x 5xx "
        f"(answers {dict(sorted(answers.items()))}); {outcome.summary()}"
    )
    assert outcome.left_non_final == 0
    assert outcome.broken_runs == 0
