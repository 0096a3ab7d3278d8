"""Fuzz the storefront's app-proxy routes (issue 9): requests signed like Shopify's proxy, with
generated query parameters and subscribe bodies.

Most examples are signed correctly, so they get past the signature to the route; the query
and the body are where the mutations are. Every answer must be below 500. Subscriptions that
were stored join the journeys of the checkouts already abandoned for their cart, and after
the run those push reminders must be sent, skipped or cancelled like any other message.
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

import jobs.dispatch
from shop_app.shopify.app_proxy import SINGLE, proxy_signature
from tests.fuzz.settling import settle
from tests.fuzz.strategies import JSON_VALUES, PLAIN_TEXT, bodies, fuzz_settings, mutated
from tests.push_peer import Browser, PushService

pytestmark = [
    pytest.mark.slow,  # the fuzz suite: ~20 s under the dev profile, minutes under ci
    pytest.mark.filterwarnings("ignore:Generating overly large repr"),  # a failing 10 kB body is still reported
]

SHOP = "demo-shop.myshopify.com"
CARTS = [f"cart-fuzz-{n}" for n in range(4)]


#: What one example changes in the proxy's query; most change nothing and reach the route.
QUERY_CHANGES = [None] * 5 + ["shop", "logged_in_customer_id", "path_prefix", "timestamp", "signature", "repeat"]
ODD_VALUES = {
    "shop": st.just("other-shop.myshopify.com") | PLAIN_TEXT,
    "logged_in_customer_id": PLAIN_TEXT | st.sampled_from(["0", "-1", "9" * 40]),
    "path_prefix": PLAIN_TEXT | st.sampled_from(["/a/b/c/d/e", "/apps/x</script>", "/apps/reclaim/"]),
    "timestamp": PLAIN_TEXT | st.sampled_from(["", "1e9", "9" * 5000, str(int(time.time()) - 3600)]),
}


@st.composite
def signed_queries(draw: st.DrawFn, secret: str) -> str:
    """The query Shopify's proxy adds, with generated extra parameters, signed with `secret`; now
    and then one of its own parameters is odd, repeated, or the signature wrong."""
    params = {
        "shop": SHOP,
        "logged_in_customer_id": "",
        "path_prefix": "/apps/reclaim",
        "timestamp": str(int(time.time())),
    }
    change = draw(st.sampled_from(QUERY_CHANGES))
    if change in ODD_VALUES:
        params[change] = draw(ODD_VALUES[change])
    pairs = list(params.items()) + draw(st.lists(st.tuples(PLAIN_TEXT.filter(lambda k: k not in SINGLE), PLAIN_TEXT)))
    if change == "repeat":
        pairs.append((draw(st.sampled_from(list(params))), draw(PLAIN_TEXT)))
    pairs = draw(st.permutations(pairs))
    signature = draw(PLAIN_TEXT) if change == "signature" else proxy_signature(pairs, secret)
    return urlencode([*pairs, ("signature", signature)])


def subscribe_documents(push_service: PushService) -> st.SearchStrategy:
    """What the storefront script posts, for a few browsers of the local push service, mutated."""
    subscriptions = [Browser(push_service.endpoint(f"browser-{n}")).subscription for n in range(3)]
    seed = st.builds(
        lambda subscription, cart: {"subscription": subscription, "cart_token": cart},
        st.sampled_from(subscriptions),
        st.sampled_from(CARTS) | st.sampled_from([c + "?key=k" for c in CARTS]),
    )
    return mutated(seed, JSON_VALUES)


@pytest.fixture
def push_service():
    """A push service on 127.0.0.1 (development mode takes local endpoints): the reminders sent
    after the run reach it, not a real browser vendor's."""
    with PushService() as service:
        yield service


@pytest.fixture
def shop(store, monkeypatch):
    """The store with an abandoned checkout for some of the carts the subscriptions name."""
    monkeypatch.setattr(jobs.dispatch, "INGEST_GRACE_SECONDS", 0)
    for cart in CARTS[:2]:
        token = cart.removeprefix("cart-")
        store.deliver("checkouts/create", store.checkout(token, (datetime.now(UTC) - timedelta(minutes=5)).isoformat()))
    return store


@pytest.mark.parametrize("route", ["subscribe", "push-key", "sw.js"])
def test_any_proxied_request_is_answered_below_500(shop, rt, push_service, route):
    answers: Counter[int] = Counter()
    body_strategy = bodies(subscribe_documents(push_service)) if route == "subscribe" else st.none()

    @fuzz_settings(5)  # 500 requests per route under ci, 1,500 in all
    @given(query=signed_queries(rt.settings.shopify_api_secret), body=body_strategy)
    def request_one(query: str, body: bytes | None) -> None:
        if body is None:
            response = shop.client.get(f"/proxy/{route}", query_string=query)
        else:
            headers = {"Content-Type": "application/json"}
            response = shop.client.post(f"/proxy/{route}", query_string=query, data=body, headers=headers)
        assert response.status_code < 500, (query, body and body[:300], response.get_data(as_text=True)[:500])
        answers[response.status_code] += 1

    request_one()
    outcome = settle(shop, datetime.now(UTC))
    print(
        f"\nproxy {route}: {sum(answers.values())} requests, {sum(n for c, n in answers.items() if c >= 500)} x 5xx "
        f"(answers {dict(sorted(answers.items()))}); {outcome.summary()}"
    )
    assert outcome.left_non_final == 0
    assert outcome.broken_runs == 0
