"""The batched payment check (issue 13, point 3) against the development Admin API over real HTTP:
each checkout gets the orders a check of its own would count, from searches bounded in checkouts and
length, a full page asked again in halves; the variables coerce against the 2026-07 schema."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pytest
from graphql import parse
from graphql.execution.values import get_variable_values
from graphql.language import OperationDefinitionNode

import shop_app.adapters.shopify_admin as shopify_admin
from shop_app.adapters.shopify_admin import AdminClient
from shop_app.adapters.shopify_admin_documents import DOCUMENTS
from shop_app.adapters.shopify_admin_operations import (
    CHECKS_PER_QUERY,
    MAX_QUERY_CHARS,
    OR,
    PaymentLookup,
    batch_payment_query,
    chunks,
    customers_by_phones_operation,
    orders_operation,
)
from shop_app.config import Settings
from shop_app.devtools import search_syntax
from shop_app.devtools.admin_api import AdminApiServer
from shop_app.devtools.admin_schema import load_schema
from tests.conftest import admin_schema_path

NOW = datetime.now(UTC).replace(microsecond=0)
SINCE = NOW - timedelta(hours=2)


@pytest.fixture(scope="module")
def server():
    with AdminApiServer() as running:
        yield running


@pytest.fixture
def shop(server) -> str:
    domain = f"batch-{os.urandom(4).hex()}.myshopify.com"
    server.add_shop(domain, name="Batch Shop", iana_timezone="UTC", currency_code="EUR")
    return domain


@pytest.fixture
def api(server, shop, tmp_path):
    settings = Settings.from_env({"RECLAIM_INSTANCE_DIR": str(tmp_path)}).with_overrides(
        shopify_admin_base_url=server.admin_base_url
    )
    with AdminClient(settings, shop, server.issue_token(shop), sleep=lambda _: None) as client:
        yield client


def lookup(n: int, *, email: str | None = None, phone: str | None = None) -> PaymentLookup:
    return PaymentLookup(n, f"tok-{n}", email or f"buyer{n}@example.com", phone, SINCE)


def test_each_checkout_gets_what_its_own_check_would_find(server, api, shop) -> None:
    owner = server.add_customer(shop, phone="+34600111222")
    by_token = server.add_order(shop, checkout_token="tok-1", created_at=NOW - timedelta(days=3))
    by_email = server.add_order(shop, email="Buyer2@Example.com", created_at=NOW - timedelta(hours=1))
    server.add_order(shop, email="buyer3@example.com", created_at=NOW - timedelta(days=1))  # before abandonment
    by_phone = server.add_order(shop, customer_id=owner.id, created_at=NOW)
    lookups = [lookup(1), lookup(2), lookup(3), lookup(4, phone="+34 600 111 222"), lookup(5, phone="+34600999999")]

    found = api.orders_for_payment_checks(lookups)

    assert {key: [o.id for o in orders] for key, orders in found.items()} == {
        1: [by_token.id], 2: [by_email.id], 3: [], 4: [by_phone.id], 5: [],
    }  # fmt: skip
    for key, orders in found.items():  # the same as a check of its own
        one = next(item for item in lookups if item.key == key)
        alone = api.orders_for_payment_check(one.checkout_token, one.email, one.phone, one.since)
        assert [o.id for o in orders] == [o.id for o in alone]


def test_a_big_batch_is_asked_in_bounded_searches(server, api, shop) -> None:
    lookups = [lookup(n, email=f"{'x' * (n % 3) * 60}buyer{n}@example.com") for n in range(45)]
    paid = server.add_order(shop, checkout_token="tok-44", created_at=NOW)
    found = api.orders_for_payment_checks(lookups)
    searches = server.graphql_requests("OrdersForPaymentCheck", shop=shop)
    assert len(searches) >= 3  # 45 checkouts: at least 20 + 20 + 5
    for search in searches:
        query = search.variables["query"]
        assert len(query) <= MAX_QUERY_CHARS and query.count("checkout_token:") <= CHECKS_PER_QUERY
        search_syntax.parse(query)  # what Shopify's grammar allows
    assert [o.id for o in found[44]] == [paid.id] and not any(found[n] for n in range(44))


def test_a_full_page_is_asked_again_in_halves_so_no_order_is_cut_off(server, api, shop, monkeypatch) -> None:
    monkeypatch.setattr(shopify_admin, "BATCH_PAGE", 2)
    orders = {n: server.add_order(shop, checkout_token=f"tok-{n}", created_at=NOW) for n in range(4)}
    found = api.orders_for_payment_checks([lookup(n) for n in range(4)])
    assert {n: [o.id for o in found[n]] for n in range(4)} == {n: [orders[n].id] for n in range(4)}
    searches = server.graphql_requests("OrdersForPaymentCheck", shop=shop)
    assert len(searches) > 1 and searches[0].variables["first"] == 2


def test_the_batched_variables_coerce_against_the_schema() -> None:
    schema = load_schema(admin_schema_path())
    lookups = [lookup(1), lookup(2, phone="+34600111222"), PaymentLookup(3, None, "a@b.com", None, SINCE)]
    query = batch_payment_query(lookups, {"+34600111222": ("gid://shopify/Customer/7",)})
    assert query is not None and search_syntax.parse(query)
    for operation in (orders_operation(query, 100), customers_by_phones_operation(["+34600111222", "+1555"], 100)):
        [definition] = [
            d for d in parse(DOCUMENTS[operation.name]).definitions if isinstance(d, OperationDefinitionNode)
        ]
        coerced = get_variable_values(schema, definition.variable_definitions or (), operation.variables)
        assert not isinstance(coerced, list), [error.message for error in coerced]


@pytest.mark.parametrize("lengths", [[10] * 50, [900, 1500, 1700, 10, 3999, 4001, 5, 5], [2000, 1996, 1, 1]])
def test_runs_are_bounded_in_number_and_joined_length(lengths: list[int]):
    """chunks sums its items' lengths: each run's joined text within MAX_QUERY_CHARS (or one item
    alone), at most `size` items, in order, none lost; a run ends only when the next item would not fit."""
    items = ["x" * n for n in lengths]
    runs = chunks(items, 7, OR.join)
    assert [item for run in runs for item in run] == items
    for run, following in zip(runs, [*runs[1:], None], strict=True):
        assert len(run) <= 7 and (len(OR.join(run)) <= MAX_QUERY_CHARS or len(run) == 1)
        if following is not None and len(run) < 7:
            assert len(OR.join([*run, following[0]])) > MAX_QUERY_CHARS
