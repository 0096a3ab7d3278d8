# ruff: noqa: F811 (the fixtures of test_shopify_admin.py, imported, are the tests' arguments)
"""Several discount codes in one Admin API request (shopify_admin_codes.create_discount_codes, issue 13)
against the development server over real HTTP: each code its own single-use discount for its own
customer, each answer read under its alias, a refused code alone refused, requests kept under
Shopify's cost limit, and a lost answer never making a second code."""

from __future__ import annotations

from decimal import Decimal

import pytest

from shop_app.adapters.shopify_admin_codes import CODES_PER_REQUEST, CreatedDiscount
from shop_app.adapters.shopify_admin_operations import discount_codes_operation
from shop_app.devtools.admin_api import MAX_QUERY_COST
from shop_app.errors import AdminApiError, AdminApiUnavailable, AdminUserError, DiscountCodeTaken
from tests.adapters.test_shopify_admin import api, code_spec, server, settings, shop, waits  # noqa: F401

CUSTOMERS = [f"gid://shopify/Customer/{n}" for n in (7, 8, 9)]


def test_each_code_is_its_own_single_use_discount_made_in_one_request(server, api, shop) -> None:
    specs = [
        code_spec("percentage", Decimal("10"), CUSTOMERS[0]),
        code_spec("free_shipping", None, CUSTOMERS[1]),
        code_spec("fixed_amount", Decimal("5"), None),
    ]
    made = api.create_discount_codes(specs)
    assert [type(m) for m in made] == [CreatedDiscount] * 3
    assert [m.code for m in made] == [s.code for s in specs]
    [request] = server.graphql_requests(shop=shop)
    assert request.operation_name == "DiscountCodesCreate" and list(request.variables) == ["c0", "c1", "c2"]
    stored = {d.code: d for d in server.discounts(shop)}
    assert [stored[s.code].id for s in specs] == [m.id for m in made]
    assert [stored[s.code].kind for s in specs] == ["basic", "free_shipping", "basic"]
    for spec in specs:
        sent = stored[spec.code].input
        assert sent["usageLimit"] == 1 and sent["appliesOncePerCustomer"] is True
        expected = {"customers": {"add": [spec.customer_gid]}} if spec.customer_gid else {"all": "ALL"}
        assert sent["context"] == expected


def test_a_refused_code_is_refused_alone(server, api, shop) -> None:
    taken = code_spec()
    api.create_discount_code(taken)  # someone else's (an earlier call, not this request): TAKEN
    specs = [code_spec(), taken, code_spec()]
    server.clear_requests()
    server.inject_user_error("MAX_APP_DISCOUNTS", "Too many app discounts", ("code",))  # the first create's
    made = api.create_discount_codes(specs)
    assert isinstance(made[0], AdminUserError) and made[0].user_errors[0]["code"] == "MAX_APP_DISCOUNTS"
    assert isinstance(made[1], DiscountCodeTaken) and made[1].code == taken.code
    assert isinstance(made[2], CreatedDiscount) and made[2].code == specs[2].code
    assert len(server.graphql_requests(shop=shop)) == 1  # no lookup: nothing was uncertain
    assert {d.code for d in server.discounts(shop)} == {taken.code, specs[2].code}


def test_requests_stay_under_shopifys_cost_limit(server, api, shop) -> None:
    specs = [code_spec() for _ in range(CODES_PER_REQUEST + 3)]
    made = api.create_discount_codes(specs)
    assert all(isinstance(m, CreatedDiscount) for m in made) and len(made) == len(specs)
    sizes = [len(r.variables) for r in server.graphql_requests("DiscountCodesCreate", shop=shop)]
    assert sizes == [CODES_PER_REQUEST, 3]
    assert len(server.discounts(shop)) == len(specs)


def test_the_development_server_refuses_a_request_above_the_cost_limit(server, api, shop) -> None:
    """What CODES_PER_REQUEST keeps the client from: 10 points a create, at most 1,000 a request."""
    too_many = MAX_QUERY_COST // 10 + 1
    with pytest.raises(AdminApiError, match="exceeds the single query max cost limit"):
        api.execute(discount_codes_operation([code_spec() for _ in range(too_many)]))
    assert server.discounts(shop) == []


def test_a_lost_answer_does_not_make_second_codes(server, api, shop, waits) -> None:
    """Shopify made the codes but the answer was lost (a 502 after processing): the retry finds each
    code TAKEN, and being unguessable, they are ours."""
    specs = [code_spec() for _ in range(3)]
    server.inject_status(502, after_processing=True, operation="DiscountCodesCreate")
    made = api.create_discount_codes(specs)
    assert all(isinstance(m, CreatedDiscount) for m in made) and waits == [1.0]
    stored = {d.code: d.id for d in server.discounts(shop)}
    assert len(stored) == 3 and [stored[s.code] for s in specs] == [m.id for m in made]
    assert len(server.graphql_requests("CodeDiscountByCode", shop=shop)) == 3


def test_a_request_shopify_cannot_answer_costs_its_own_codes_only(server, api, shop, monkeypatch) -> None:
    """The second request of a batch fails after its retries: the first request's codes stand."""
    specs = [code_spec() for _ in range(CODES_PER_REQUEST + 2)]
    real, calls = api.execute, []

    def second_fails(operation):
        calls.append(operation.name)
        if len(calls) == 2:
            raise AdminApiUnavailable("DiscountCodesCreate: gave up after 4 attempts: HTTP 503")
        return real(operation)

    monkeypatch.setattr(api, "execute", second_fails)
    made = api.create_discount_codes(specs)
    assert all(isinstance(m, CreatedDiscount) for m in made[:CODES_PER_REQUEST])
    assert all(isinstance(m, AdminApiUnavailable) for m in made[CODES_PER_REQUEST:])
    assert {d.code for d in server.discounts(shop)} == {s.code for s in specs[:CODES_PER_REQUEST]}
