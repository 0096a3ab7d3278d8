"""The Admin API client against the development server, over real HTTP.

The client's `sleep` is a recorder, so retries and their waits are asserted, never slept.
"""

from __future__ import annotations

import os
import socket
import time
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from shop_app.adapters.shopify_admin import AdminClient, RetryPolicy
from shop_app.adapters.shopify_admin_operations import Operation, orders_operation, payment_check_query
from shop_app.adapters.shopify_http import shop_base_url
from shop_app.adapters.shopify_oauth import OAuthClient
from shop_app.config import Settings
from shop_app.devtools.admin_api import AdminApiServer
from shop_app.domain.discounts import DiscountSpec, default_expiry, random_bytes_needed, unguessable_code
from shop_app.errors import (
    AdminApiError,
    AdminApiUnauthorized,
    AdminApiUnavailable,
    AdminUserError,
    ConfigurationError,
    DiscountCodeTaken,
    InvalidShopDomain,
    TokenExchangeRejected,
)
from tests.conftest import admin_schema_path

SHOP = "demo-shop.myshopify.com"
NOW = datetime.now(UTC).replace(microsecond=0)
POLICY = RetryPolicy(max_attempts=4, base_delay=1.0, max_delay=30.0)


@pytest.fixture(scope="module")
def server():
    with AdminApiServer() as running:
        yield running


@pytest.fixture
def settings(server, tmp_path) -> Settings:
    return Settings.from_env({"RECLAIM_INSTANCE_DIR": str(tmp_path)}).with_overrides(
        shopify_admin_base_url=server.admin_base_url
    )


@pytest.fixture
def waits() -> list[float]:
    return []


@pytest.fixture
def shop(server):
    """A fresh shop per test so discounts and orders never leak between tests."""
    domain = f"shop-{os.urandom(4).hex()}.myshopify.com"
    server.add_shop(
        domain,
        name="Demo Shop",
        email="owner@demo.example",
        iana_timezone="Europe/Madrid",
        currency_code="EUR",
        primary_domain_host="demo.example",
        country_code="ES",
    )
    return domain


@pytest.fixture
def api(server, settings, shop, waits):
    with AdminClient(settings, shop, server.issue_token(shop), sleep=waits.append, policy=POLICY) as client:
        yield client


def code_spec(
    kind: str = "percentage", value: Decimal | None = Decimal("10"), customer: str | None = None
) -> DiscountSpec:
    return DiscountSpec(
        kind=kind,
        value=value,
        code=unguessable_code("BACK", os.urandom(random_bytes_needed())),
        title="Reclaim: come back",
        starts_at=NOW,
        ends_at=default_expiry(NOW),
        customer_gid=customer,
        combines_with_shipping=True,
    )


# --- happy paths -------------------------------------------------------------------------------


def test_shop_info_goes_to_the_configured_base_url_with_the_token(server, api, shop) -> None:
    info = api.shop_info()
    assert (info.name, info.email, info.iana_timezone, info.currency_code) == (
        "Demo Shop",
        "owner@demo.example",
        "Europe/Madrid",
        "EUR",
    )
    assert (info.myshopify_domain, info.primary_domain_host, info.country_code) == (shop, "demo.example", "ES")
    sent = server.graphql_requests("ShopInfo", shop=shop)[-1]
    assert sent.path == f"/{shop}/admin/api/2026-07/graphql.json"
    assert sent.headers["X-Shopify-Access-Token"] == api._headers["X-Shopify-Access-Token"]


@pytest.mark.parametrize(
    "kind, value, customer",
    [
        ("percentage", Decimal("10"), None),
        ("percentage", Decimal("15"), "gid://shopify/Customer/7"),
        ("fixed_amount", Decimal("5.50"), None),
        ("free_shipping", None, "gid://shopify/Customer/8"),
    ],
)
def test_discount_codes_are_created_single_use_and_restricted(server, api, shop, kind, value, customer) -> None:
    spec = code_spec(kind, value, customer)
    created = api.create_discount_code(spec)
    assert created.code == spec.code and created.id.startswith("gid://shopify/DiscountCodeNode/")
    [stored] = server.discounts(shop)
    assert stored.id == created.id
    sent = stored.input
    assert sent["usageLimit"] == 1 and sent["appliesOncePerCustomer"] is True
    assert sent["combinesWith"]["shippingDiscounts"] is True
    assert sent["context"] == ({"customers": {"add": [customer]}} if customer else {"all": "ALL"})
    assert "customerSelection" not in sent
    assert sent["startsAt"] == NOW.strftime("%Y-%m-%dT%H:%M:%SZ")
    if kind == "percentage":
        assert sent["customerGets"]["value"] == {"percentage": float(value) / 100}
    elif kind == "fixed_amount":
        assert sent["customerGets"]["value"]["discountAmount"]["amount"] == "5.50"
    else:
        assert server.graphql_requests(shop=shop)[-1].operation_name == "DiscountCodeFreeShippingCreate"
    assert api.find_code(spec.code.lower()) == created.id


def test_find_code_answers_none_for_an_unknown_code(api) -> None:
    assert api.find_code("NO-SUCH-CODE") is None


# --- retries -----------------------------------------------------------------------------------


def test_throttled_is_retried_after_the_cost_bucket_refills(server, api, shop, waits) -> None:
    server.inject_throttled(2, currently_available=4.0)
    api.create_discount_code(code_spec())
    # (requested 10 - available 4) / restoreRate 100
    assert waits == pytest.approx([0.06, 0.06])
    assert len(server.discounts(shop)) == 1
    assert len(server.graphql_requests("DiscountCodeBasicCreate", shop=shop)) == 3


def test_throttled_wait_uses_the_cost_of_the_request(server, api, waits) -> None:
    server.inject_throttled(currently_available=0.0)
    api.find_code("ANY-CODE")  # a query of cost 1
    assert waits == pytest.approx([0.01])


def test_429_honours_retry_after(server, api, waits) -> None:
    server.inject_status(429, retry_after=3)
    api.shop_info()
    assert waits == [3.0]


def test_429_without_retry_after_backs_off_exponentially(server, api, waits) -> None:
    server.inject_status(429, count=3)
    api.shop_info()
    assert waits == [1.0, 2.0, 4.0]


def test_5xx_is_retried_with_backoff(server, api, shop, waits) -> None:
    server.inject_status(502)
    server.inject_status(503, retry_after=7)
    created = api.create_discount_code(code_spec())
    assert waits == [1.0, 7.0]
    assert [d.id for d in server.discounts(shop)] == [created.id]


def test_gives_up_after_the_allowed_attempts(server, api, shop, waits) -> None:
    server.inject_status(500, count=POLICY.max_attempts)
    with pytest.raises(AdminApiUnavailable) as raised:
        api.shop_info()
    assert raised.value.attempts == POLICY.max_attempts
    assert waits == [1.0, 2.0, 4.0]
    assert len(server.graphql_requests(shop=shop)) == POLICY.max_attempts
    api.shop_info()  # the injected failures are used up


def test_a_retry_after_beyond_the_longest_wait_gives_up_at_once(server, api, waits) -> None:
    server.inject_status(429, retry_after=120)
    with pytest.raises(AdminApiUnavailable) as raised:
        api.shop_info()
    assert raised.value.retry_after == 120 and raised.value.attempts == 1
    assert waits == []


def test_a_lost_answer_does_not_make_a_second_code(server, api, shop, waits) -> None:
    """The first create succeeds but its answer is lost (500 after processing): the retry
    meets TAKEN for our own unguessable code, and the client returns the existing one."""
    server.inject_status(500, after_processing=True)
    spec = code_spec()
    created = api.create_discount_code(spec)
    [stored] = server.discounts(shop)
    assert created.id == stored.id and created.code == spec.code
    assert waits == [1.0]
    assert len(server.graphql_requests("CodeDiscountByCode", shop=shop)) == 1
    assert len(server.graphql_requests("DiscountCodeBasicCreate", shop=shop)) == 2


def test_timeouts_are_retried_then_reported(settings, waits) -> None:
    """A server that accepts connections but never answers."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    try:
        local = settings.with_overrides(shopify_admin_base_url=f"http://127.0.0.1:{silent.getsockname()[1]}/{{shop}}")
        started = time.monotonic()
        with (
            AdminClient(
                local,
                SHOP,
                "token",
                sleep=waits.append,
                timeout=(1.0, 0.2),
                policy=RetryPolicy(max_attempts=2, base_delay=0.5),
            ) as client,
            pytest.raises(AdminApiUnavailable, match="read timeout"),
        ):
            client.shop_info()
        assert time.monotonic() - started < 5
        assert waits == [0.5]
    finally:
        silent.close()


# --- errors that are not retried ---------------------------------------------------------------


def test_taken_code_is_a_typed_error(server, api, shop, waits) -> None:
    spec = code_spec()
    api.create_discount_code(spec)
    again = DiscountSpec(**{**spec.__dict__, "code": spec.code.lower()})
    with pytest.raises(DiscountCodeTaken) as raised:
        api.create_discount_code(again)
    assert raised.value.code == spec.code.lower()
    assert raised.value.user_errors[0]["code"] == "TAKEN"
    assert len(server.discounts(shop)) == 1 and waits == []


def test_other_user_errors_carry_the_list(server, api, shop) -> None:
    server.inject_user_error("MAX_APP_DISCOUNTS", "Too many app discounts", ("code",))
    with pytest.raises(AdminUserError) as raised:
        api.create_discount_code(code_spec("free_shipping", None))
    assert not isinstance(raised.value, DiscountCodeTaken)
    assert raised.value.user_errors[0]["code"] == "MAX_APP_DISCOUNTS"
    assert raised.value.user_errors[0]["field"] == ["freeShippingCodeDiscount", "code"]
    assert server.discounts(shop) == []


def test_graphql_errors_raise_admin_api_error(api, waits) -> None:
    with pytest.raises(AdminApiError, match="unterminated"):
        api.run(orders_operation('checkout_token:"unterminated'))
    assert waits == []


def test_invalid_variables_are_refused_by_the_schema(settings, waits) -> None:
    schema = admin_schema_path()  # skips, or fails under CI
    with AdminApiServer(schema_path=schema) as strict:
        local = settings.with_overrides(shopify_admin_base_url=strict.admin_base_url)
        with (
            AdminClient(local, SHOP, strict.issue_token(SHOP), sleep=waits.append) as client,
            pytest.raises(AdminApiError) as raised,
        ):
            client.run(Operation("CodeDiscountByCode", {"code": 5}))
    assert raised.value.errors and "$code" in raised.value.errors[0]["message"]
    assert waits == []


def test_a_bad_token_is_unauthorized_and_not_retried(server, settings, shop, waits) -> None:
    with (
        AdminClient(settings, shop, "shpat_wrong", sleep=waits.append) as client,
        pytest.raises(AdminApiUnauthorized),
    ):
        client.shop_info()
    assert waits == []


def test_the_api_version_comes_from_settings(settings, server, shop) -> None:
    older = settings.with_overrides(shopify_api_version="2026-04")
    with AdminClient(older, shop, server.issue_token(shop)) as client:
        assert client.endpoint.endswith("/admin/api/2026-04/graphql.json")
        with pytest.raises(AdminApiError) as raised:
            client.shop_info()
    assert raised.value.status == 404


def test_urls_only_for_valid_shops_and_https_outside_this_machine(settings) -> None:
    with pytest.raises(InvalidShopDomain):
        AdminClient(settings, "evil.example.com/x", "token")
    remote = settings.with_overrides(shopify_admin_base_url="http://{shop}")
    with pytest.raises(ConfigurationError):
        shop_base_url(remote, SHOP)
    with pytest.raises(ConfigurationError):
        AdminClient(settings.with_overrides(shopify_api_version="latest"), SHOP, "token")
    assert shop_base_url(settings.with_overrides(shopify_admin_base_url="https://{shop}"), SHOP) == f"https://{SHOP}"


def test_retry_policy_is_checked_when_built() -> None:
    for bad in ({"max_attempts": 0}, {"base_delay": -1}, {"base_delay": 5, "max_delay": 1}):
        with pytest.raises(ValueError):
            RetryPolicy(**bad)
    assert [RetryPolicy(base_delay=1, max_delay=5).backoff(n) for n in range(1, 6)] == [1, 2, 4, 5, 5]


# --- payment check -----------------------------------------------------------------------------


def test_payment_check_finds_orders_by_checkout_email_or_phone(server, api, shop) -> None:
    since = NOW - timedelta(hours=2)
    owner = server.add_customer(shop, email="other@example.com", phone="+34600111222")
    by_token = server.add_order(shop, checkout_token="tok-1", created_at=NOW - timedelta(days=5))
    by_email = server.add_order(shop, email="Ana@Example.com", created_at=NOW - timedelta(hours=1))
    by_phone = server.add_order(shop, customer_id=owner.id, created_at=NOW)
    server.add_order(shop, email="ana@example.com", created_at=NOW - timedelta(days=1))  # before abandonment
    server.add_order(shop, email="bob@example.com", created_at=NOW)
    server.add_order(shop, checkout_token="tok-2", created_at=NOW)

    found = api.orders_for_payment_check("tok-1", "ana@example.com", "+34 600 111 222", since)

    assert [o.id for o in found] == [by_phone.id, by_email.id, by_token.id]  # newest first
    assert found[2].checkout_token == "tok-1" and found[2].total == Decimal("10.00")
    assert found[2].financial_status == "PAID" and found[2].currency_code == "EUR"
    assert found[0].customer_id == owner.id
    phone_query = server.graphql_requests("CustomerIdsByPhone", shop=shop)[-1].variables["query"]
    assert phone_query == 'phone:"+34600111222"'


def test_payment_check_without_matches_is_empty(server, api, shop) -> None:
    server.add_order(shop, checkout_token="someone-else", email="x@example.com", created_at=NOW)
    assert api.orders_for_payment_check("tok-9", "ana@example.com", None, NOW - timedelta(hours=1)) == []
    assert api.orders_for_payment_check(None, None, None, NOW) == []


def test_payment_check_query_string() -> None:
    since = datetime(2026, 3, 2, 19, 30, tzinfo=timezone(timedelta(hours=1)))
    assert payment_check_query("abc", 'a"b@x.com', ("gid://shopify/Customer/12",), since) == (
        'checkout_token:"abc" OR (created_at:>=\'2026-03-02T18:30:00Z\' AND (email:"a\\"b@x.com" OR customer_id:12))'
    )
    assert payment_check_query("abc", None, (), since) == 'checkout_token:"abc"'
    assert payment_check_query(None, None, (), since) is None
    with pytest.raises(ValueError):
        payment_check_query("abc", None, (), datetime(2026, 3, 2))


# --- customers import --------------------------------------------------------------------------


def test_customers_are_paged(server, api, shop) -> None:
    ana = server.add_customer(
        shop,
        first_name="Ana",
        last_name="Ruiz",
        email="ana@example.com",
        email_marketing_state="SUBSCRIBED",
        phone="+34600111222",
        sms_marketing_state="PENDING",
    )
    server.add_customer(shop, first_name="Bob")
    server.add_customer(shop, first_name="Cy", email="cy@example.com")

    first = api.customers_page(first=2)
    assert [c.first_name for c in first.customers] == ["Ana", "Bob"]
    assert first.has_next_page and first.end_cursor
    record = first.customers[0]
    assert (record.id, record.last_name, record.email, record.email_marketing_state) == (
        ana.id,
        "Ruiz",
        "ana@example.com",
        "SUBSCRIBED",
    )
    assert (record.phone, record.sms_marketing_state) == ("+34600111222", "PENDING")
    assert first.customers[1].email is None and first.customers[1].phone is None

    second = api.customers_page(after=first.end_cursor, first=2)
    assert [c.first_name for c in second.customers] == ["Cy"]
    assert not second.has_next_page


# --- OAuth -------------------------------------------------------------------------------------


def test_token_exchange_gives_an_expiring_offline_token(server, settings, shop) -> None:
    token = OAuthClient(settings).exchange_session_token(shop, server.session_token(shop), now=NOW)
    assert token.expires_at == NOW + timedelta(hours=1)
    assert token.refresh_token and token.refresh_token_expires_at == NOW + timedelta(days=90)
    assert token.scope == server.scopes
    sent = server.requests[-1].body
    assert sent["grant_type"] == "urn:ietf:params:oauth:grant-type:token-exchange"
    assert sent["requested_token_type"] == "urn:shopify:params:oauth:token-type:offline-access-token"
    assert sent["expiring"] == "1"
    with AdminClient(settings, shop, token.access_token) as client:
        assert client.shop_info().myshopify_domain == shop


def test_code_grant_and_refresh(server, settings, shop) -> None:
    oauth = OAuthClient(settings)
    first = oauth.exchange_code(shop, server.authorization_code(shop), now=NOW)
    later = NOW + timedelta(minutes=50)
    second = oauth.refresh(shop, first.refresh_token, now=later)
    assert second.access_token != first.access_token and second.refresh_token != first.refresh_token
    assert second.expires_at == later + timedelta(hours=1)
    with pytest.raises(TokenExchangeRejected) as raised:
        oauth.refresh(shop, first.refresh_token, now=later)  # spent by the rotation
    assert raised.value.status == 400 and raised.value.error == "invalid_grant"


def test_rejected_grants_are_typed(server, settings, shop) -> None:
    oauth = OAuthClient(settings)
    with pytest.raises(TokenExchangeRejected):
        oauth.exchange_session_token(shop, server.session_token("other-shop.myshopify.com"), now=NOW)
    with pytest.raises(TokenExchangeRejected):
        oauth.exchange_code(shop, "not-a-code", now=NOW)
    wrong_secret = OAuthClient(settings.with_overrides(shopify_api_secret="not-the-secret"))
    with pytest.raises(TokenExchangeRejected) as raised:
        wrong_secret.exchange_code(shop, server.authorization_code(shop), now=NOW)
    assert raised.value.error == "invalid_client"
