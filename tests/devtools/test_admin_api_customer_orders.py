"""The development Admin API answers CustomerOrderCount (issue 11) from its in-memory customers,
spoken to through the app's own client and document."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shop_app.adapters.shopify_admin import AdminClient
from shop_app.adapters.shopify_admin_documents import CUSTOMER_ORDER_COUNT
from shop_app.config import Settings
from shop_app.devtools.admin_api import AdminApiServer
from tests.conftest import admin_schema_path
from tests.devtools.test_admin_api_server import SHOP, graphql


@pytest.fixture
def strict():
    schema = admin_schema_path()
    with AdminApiServer(schema_path=schema) as running:
        assert running.validating
        running.add_shop(SHOP)
        yield running


@pytest.fixture
def admin(strict: AdminApiServer):
    settings = Settings.from_env().with_overrides(shopify_admin_base_url=strict.admin_base_url)
    with AdminClient(settings, SHOP, strict.issue_token(SHOP), sleep=lambda _: None) as admin:
        yield admin


def test_a_set_count_is_what_shopify_says(strict: AdminApiServer, admin: AdminClient) -> None:
    strict.set_order_count(SHOP, "7001", 3)
    assert admin.customer_order_count("7001") == 3
    assert admin.customer_order_count("gid://shopify/Customer/7001") == 3
    strict.set_order_count(SHOP, "7001", 1)  # set again: the same customer, a new count
    assert admin.customer_order_count("7001") == 1
    assert [c.id for c in strict.shop(SHOP).customers] == ["gid://shopify/Customer/7001"]


def test_without_a_set_count_the_shops_orders_of_that_customer_count(
    strict: AdminApiServer, admin: AdminClient
) -> None:
    customer = strict.add_customer(SHOP, email="ana@example.com")
    number = customer.id.rsplit("/", 1)[1]
    assert admin.customer_order_count(number) == 0
    strict.add_order(SHOP, customer_id=customer.id, created_at=datetime(2026, 3, 1, tzinfo=UTC))
    strict.add_order(SHOP, customer_id=customer.id)
    strict.add_order(SHOP, customer_id="gid://shopify/Customer/1")  # someone else's
    assert admin.customer_order_count(number) == 2


def test_an_unknown_customer_is_null(admin: AdminClient) -> None:
    assert admin.customer_order_count("999999") is None


def test_the_answer_is_an_unsigned_int64_string_projected_on_the_selection(strict: AdminApiServer) -> None:
    strict.set_order_count(SHOP, "7001", 12)
    answer = graphql(strict, CUSTOMER_ORDER_COUNT, {"id": "gid://shopify/Customer/7001"}).json()
    assert answer["data"] == {"customer": {"numberOfOrders": "12"}}
    refused = graphql(strict, CUSTOMER_ORDER_COUNT, {}).json()  # $id is required
    assert "errors" in refused and "data" not in refused
