"""The development Admin API answers (and refuses) like Shopify, spoken to with plain HTTP."""

from __future__ import annotations

import logging
import time

import pytest
import requests

from shop_app.adapters.shopify_admin_documents import (
    CODE_DISCOUNT_BY_CODE,
    DISCOUNT_CODE_BASIC_CREATE,
    SHOP_INFO,
)
from shop_app.devtools import admin_schema, hs256
from shop_app.devtools.admin_api import AdminApiServer
from tests.conftest import admin_schema_path

SHOP = "demo-shop.myshopify.com"
KEY, SECRET = "test-key", "test-secret"


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def schema_file():
    return admin_schema_path()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def server(clock):
    # Validation is asked for through the default lookup; tests that need it use `strict`.
    with AdminApiServer(api_key=KEY, api_secret=SECRET, clock=clock) as running:
        running.add_shop(SHOP)
        yield running


@pytest.fixture
def strict(schema_file, clock):
    with AdminApiServer(api_key=KEY, api_secret=SECRET, clock=clock, schema_path=schema_file) as running:
        assert running.validating
        running.add_shop(SHOP)
        yield running


def graphql(
    server: AdminApiServer,
    query: str,
    variables: dict | None = None,
    *,
    token: str | None = None,
    shop: str = SHOP,
    version: str = "2026-07",
) -> requests.Response:
    token = token or server.issue_token(shop)
    return requests.post(
        f"{server.url}/{shop}/admin/api/{version}/graphql.json",
        json={"query": query, "variables": variables or {}},
        headers={"X-Shopify-Access-Token": token},
        timeout=5,
    )


def oauth(server: AdminApiServer, shop: str = SHOP, **fields) -> requests.Response:
    body = {"client_id": KEY, "client_secret": SECRET, **fields}
    return requests.post(f"{server.url}/{shop}/admin/oauth/access_token", json=body, timeout=5)


def basic_input(code: str = "WELCOME-ABCDEFGHJK", percentage: float = 0.1) -> dict:
    return {
        "input": {
            "title": "Come back",
            "code": code,
            "startsAt": "2026-03-02T18:00:00Z",
            "endsAt": "2026-03-05T18:00:00Z",
            "usageLimit": 1,
            "appliesOncePerCustomer": True,
            "context": {"all": "ALL"},
            "customerGets": {"value": {"percentage": percentage}, "items": {"all": True}},
        }
    }


# --- schema validation -------------------------------------------------------------------------


def test_a_valid_request_is_answered_with_data_and_cost(strict) -> None:
    answer = graphql(strict, SHOP_INFO).json()
    assert answer["data"]["shop"]["myshopifyDomain"] == SHOP
    assert set(answer["data"]["shop"]) == {
        "name",
        "email",
        "ianaTimezone",
        "currencyCode",
        "myshopifyDomain",
        "primaryDomain",
        "shopAddress",
    }  # exactly what was selected
    assert answer["data"]["shop"]["shopAddress"] == {"countryCodeV2": None}  # the shop was added without one
    cost = answer["extensions"]["cost"]
    assert cost["throttleStatus"]["maximumAvailable"] == 2000.0 and cost["requestedQueryCost"] == 1


@pytest.mark.parametrize(
    "query, fragment",
    [
        ("query { shop { nme } }", "Cannot query field 'nme'"),
        ("query { shop }", "must have a selection"),
        ("query Q($x: NoSuchType) { shop { name } }", "Unknown type 'NoSuchType'"),
        (
            "mutation { discountCodeBasicCreate(basicCodeDiscount: {title: 1}) { userErrors { code } } }",
            "String cannot represent",
        ),
    ],
)
def test_invalid_documents_are_refused_like_shopify(strict, query: str, fragment: str) -> None:
    response = graphql(strict, query)
    assert response.status_code == 200
    answer = response.json()
    assert "data" not in answer
    assert any(fragment in error["message"] for error in answer["errors"]), answer
    assert answer["errors"][0]["locations"]


def test_a_syntax_error_is_refused_even_without_the_schema(server) -> None:
    answer = graphql(server, "query { shop { name }").json()
    assert answer["errors"][0]["extensions"]["code"] == "PARSE_ERROR"


@pytest.mark.parametrize(
    "variables, fragment",
    [
        ({}, "non-null type 'DiscountCodeBasicInput!'"),
        ({"input": {**basic_input()["input"], "bogus": 1}}, "unknown field 'bogus'"),
        (
            {"input": {**basic_input()["input"], "customerGets": {"value": {"percentage": "10%"}}}},
            "Float cannot represent",
        ),
        ({"input": {**basic_input()["input"], "startsAt": "next tuesday"}}, "ISO 8601"),
        ({"input": {**basic_input()["input"], "startsAt": "2026-03-02T18:00:00"}}, "time zone"),
        ({"input": {**basic_input()["input"], "context": {"all": "EVERYONE"}}}, "DiscountBuyerSelection"),
        (
            {"input": {**basic_input()["input"], "customerGets": {"value": {"discountAmount": {"amount": "five"}}}}},
            "not a decimal",
        ),
    ],
)
def test_bad_variables_are_refused(strict, variables: dict, fragment: str) -> None:
    answer = graphql(strict, DISCOUNT_CODE_BASIC_CREATE, variables).json()
    assert "data" not in answer
    assert answer["errors"][0]["extensions"]["code"] == "INVALID_VARIABLE"
    assert fragment in answer["errors"][0]["message"], answer
    assert strict.discounts(SHOP) == []


def test_without_the_schema_the_server_runs_unvalidated_and_says_so(tmp_path, caplog) -> None:
    with (
        caplog.at_level(logging.WARNING, logger="shop_app.devtools.admin_schema"),
        AdminApiServer(schema_path=tmp_path / "missing.graphql") as bare,
    ):
        assert not bare.validating
        bare.add_shop(SHOP)
        answer = graphql(bare, "query { shop { name nme } }").json()
    assert "WITHOUT validating" in caplog.text
    assert "nme" in answer["errors"][0]["message"]  # unknown fields still cannot be answered


def test_the_schema_is_built_once_per_process(schema_file) -> None:
    assert admin_schema.load_schema(schema_file) is admin_schema.load_schema(str(schema_file))


def test_schema_location_prefers_argument_then_environment(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv(admin_schema.ENV_VAR, str(tmp_path / "env.graphql"))
    assert admin_schema.schema_location(tmp_path / "arg.graphql") == tmp_path / "arg.graphql"
    assert admin_schema.schema_location() == tmp_path / "env.graphql"
    monkeypatch.delenv(admin_schema.ENV_VAR)
    assert admin_schema.schema_location() == admin_schema.DEFAULT_SCHEMA
    assert admin_schema.DEFAULT_SCHEMA.parts[-5:] == (
        "shared",
        "fixtures",
        "shopify",
        "admin-schema",
        "2026-07.graphql",
    )


# --- discounts ---------------------------------------------------------------------------------


def test_a_duplicate_code_is_taken(server) -> None:
    first = graphql(server, DISCOUNT_CODE_BASIC_CREATE, basic_input("SAME-CODE-123")).json()
    assert first["data"]["discountCodeBasicCreate"]["userErrors"] == []
    second = graphql(server, DISCOUNT_CODE_BASIC_CREATE, basic_input("same-code-123")).json()
    payload = second["data"]["discountCodeBasicCreate"]
    assert payload["codeDiscountNode"] is None
    assert payload["userErrors"][0]["code"] == "TAKEN"
    assert payload["userErrors"][0]["field"] == ["basicCodeDiscount", "code"]
    assert len(server.discounts(SHOP)) == 1
    found = graphql(server, CODE_DISCOUNT_BY_CODE, {"code": "Same-Code-123"}).json()
    assert (
        found["data"]["codeDiscountNodeByCode"]["id"]
        == first["data"]["discountCodeBasicCreate"]["codeDiscountNode"]["id"]
    )


def test_a_percentage_is_a_fraction(server) -> None:
    payload = graphql(server, DISCOUNT_CODE_BASIC_CREATE, basic_input(percentage=10)).json()
    errors = payload["data"]["discountCodeBasicCreate"]["userErrors"]
    assert [e["code"] for e in errors] == ["VALUE_OUTSIDE_RANGE"]
    assert server.discounts(SHOP) == []


def test_context_must_name_one_buyer_selection(server) -> None:
    variables = basic_input()
    variables["input"]["context"] = {"all": "ALL", "customers": {"add": ["gid://shopify/Customer/1"]}}
    errors = graphql(server, DISCOUNT_CODE_BASIC_CREATE, variables).json()["data"]["discountCodeBasicCreate"][
        "userErrors"
    ]
    assert [e["code"] for e in errors] == ["INVALID"]


# --- access, failures, records -----------------------------------------------------------------


def test_requests_need_a_live_token_of_that_shop(server, clock) -> None:
    assert graphql(server, SHOP_INFO, token="shpat_nope").status_code == 401
    server.add_shop("other.myshopify.com")
    other = server.issue_token("other.myshopify.com")
    assert graphql(server, SHOP_INFO, token=other).status_code == 401
    assert graphql(server, SHOP_INFO, shop="unknown.myshopify.com", token=other).status_code == 404
    assert graphql(server, SHOP_INFO, version="2025-01").status_code == 404
    expiring = server.issue_token(SHOP, expiring=True)
    assert graphql(server, SHOP_INFO, token=expiring).status_code == 200
    clock.now += 3601
    assert graphql(server, SHOP_INFO, token=expiring).status_code == 401
    live = server.issue_token(SHOP)
    server.revoke_tokens(SHOP)
    assert graphql(server, SHOP_INFO, token=live).status_code == 401


def test_injected_failures_come_in_order_then_stop(server) -> None:
    server.inject_throttled(currently_available=3)
    server.inject_status(429, retry_after=2)
    server.inject_status(503)
    throttled = graphql(server, SHOP_INFO)
    assert throttled.status_code == 200
    assert throttled.json()["errors"][0]["extensions"]["code"] == "THROTTLED"
    assert throttled.json()["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] == 3
    limited = graphql(server, SHOP_INFO)
    assert (limited.status_code, limited.headers["Retry-After"]) == (429, "2")
    assert graphql(server, SHOP_INFO).status_code == 503
    assert graphql(server, SHOP_INFO).status_code == 200


def test_a_failure_after_processing_keeps_the_effect(server) -> None:
    server.inject_status(500, after_processing=True)
    assert graphql(server, DISCOUNT_CODE_BASIC_CREATE, basic_input()).status_code == 500
    assert len(server.discounts(SHOP)) == 1


def test_the_leaky_bucket_throttles_when_empty(server, clock) -> None:
    token = server.issue_token(SHOP)
    server._bucket[SHOP] = (5.0, clock.now)  # a nearly empty bucket
    answer = graphql(server, DISCOUNT_CODE_BASIC_CREATE, basic_input(), token=token).json()
    assert answer["errors"][0]["extensions"]["code"] == "THROTTLED"
    assert answer["extensions"]["cost"]["requestedQueryCost"] == 10
    clock.now += 0.1  # restores 10 points at 100/s
    assert "data" in graphql(server, DISCOUNT_CODE_BASIC_CREATE, basic_input(), token=token).json()


def test_every_request_is_recorded(server) -> None:
    graphql(server, CODE_DISCOUNT_BY_CODE, {"code": "X1"})
    [record] = server.graphql_requests(shop=SHOP)
    assert record.path == f"/{SHOP}/admin/api/2026-07/graphql.json"
    assert record.variables == {"code": "X1"} and record.status == 200
    assert record.answer == {"data": {"codeDiscountNodeByCode": None}, "extensions": record.answer["extensions"]}
    server.clear_requests()
    assert server.requests == []


# --- OAuth -------------------------------------------------------------------------------------


def exchange(server: AdminApiServer, token: str, shop: str = SHOP, **fields) -> requests.Response:
    body = {
        "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
        "subject_token": token,
        "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
        "requested_token_type": "urn:shopify:params:oauth:token-type:offline-access-token",
        "expiring": "1",
        **fields,
    }
    return oauth(server, shop, **body)


def test_token_exchange_with_a_good_session_token(server) -> None:
    answer = exchange(server, server.session_token(SHOP))
    assert answer.status_code == 200
    body = answer.json()
    assert body["expires_in"] == 3600 and body["refresh_token"].startswith("shprt_")
    assert body["refresh_token_expires_in"] == 90 * 24 * 3600
    assert graphql(server, SHOP_INFO, token=body["access_token"]).status_code == 200


@pytest.mark.parametrize(
    "make_token",
    [
        lambda now: hs256.mint_session_token(SHOP, api_key=KEY, api_secret="wrong", now=now),
        lambda now: hs256.mint_session_token(SHOP, api_key="other-app", api_secret=SECRET, now=now),
        lambda now: hs256.mint_session_token(SHOP, api_key=KEY, api_secret=SECRET, now=now - 120),
        lambda now: hs256.mint_session_token(SHOP, api_key=KEY, api_secret=SECRET, now=now + 120),
        lambda now: hs256.mint_session_token(
            SHOP, api_key=KEY, api_secret=SECRET, now=now, dest="https://evil.myshopify.com"
        ),
        lambda now: hs256.mint_session_token(
            SHOP, api_key=KEY, api_secret=SECRET, now=now, iss="https://evil.myshopify.com/admin"
        ),
        lambda now: hs256.encode(
            {"aud": KEY, "dest": f"https://{SHOP}", "iss": f"https://{SHOP}/admin", "exp": now + 60, "nbf": now},
            SECRET,
            header={"alg": "none"},
        ),
        lambda now: "not.a.jwt",
    ],
    ids=[
        "bad-signature",
        "wrong-audience",
        "expired",
        "not-yet-valid",
        "other-dest",
        "other-iss",
        "alg-none",
        "garbage",
    ],
)
def test_token_exchange_refuses_bad_session_tokens(server, clock, make_token) -> None:
    answer = exchange(server, make_token(clock.now))
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_subject_token"


def test_session_tokens_within_leeway_are_accepted(server, clock) -> None:
    skewed = hs256.mint_session_token(SHOP, api_key=KEY, api_secret=SECRET, now=clock.now + 8)
    assert exchange(server, skewed).status_code == 200


def test_oauth_checks_the_app_credentials(server) -> None:
    answer = oauth(server, code=server.authorization_code(SHOP), client_secret="wrong")
    assert (answer.status_code, answer.json()["error"]) == (400, "invalid_client")


def test_authorization_code_is_single_use_and_per_shop(server) -> None:
    code = server.authorization_code(SHOP)
    assert oauth(server, "other.myshopify.com", code=code).status_code == 400
    code = server.authorization_code(SHOP)
    plain = oauth(server, code=code)
    assert plain.status_code == 200 and set(plain.json()) == {"access_token", "scope"}  # not expiring
    assert oauth(server, code=code).status_code == 400


def test_authorization_code_accepts_a_form_body(server) -> None:
    answer = requests.post(
        f"{server.url}/{SHOP}/admin/oauth/access_token",
        timeout=5,
        data={"client_id": KEY, "client_secret": SECRET, "code": server.authorization_code(SHOP)},
    )
    assert answer.status_code == 200


def test_refresh_rotates_and_expires(server, clock) -> None:
    first = oauth(server, code=server.authorization_code(SHOP), expiring="1").json()
    second = oauth(server, grant_type="refresh_token", refresh_token=first["refresh_token"]).json()
    assert second["access_token"] != first["access_token"]
    assert graphql(server, SHOP_INFO, token=second["access_token"]).status_code == 200
    reused = oauth(server, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert (reused.status_code, reused.json()["error"]) == (400, "invalid_grant")
    clock.now += 91 * 24 * 3600
    late = oauth(server, grant_type="refresh_token", refresh_token=second["refresh_token"])
    assert late.status_code == 400


def test_unknown_grants_are_refused(server) -> None:
    assert oauth(server, grant_type="client_credentials").json()["error"] == "unsupported_grant_type"
    online = exchange(
        server,
        server.session_token(SHOP),
        requested_token_type="urn:shopify:params:oauth:token-type:online-access-token",
    )
    assert online.status_code == 400


def test_a_query_costs_the_bucket_what_its_answer_used_not_the_page_it_asked_for(server, clock) -> None:
    """Shopify takes the requested cost to start a query and charges actualQueryCost: a page of 100
    that comes back with two orders costs a few points, not 101 (the dev server's rough actual cost:
    1 plus the nodes returned)."""
    for n in (1, 2):
        server.add_order(SHOP, email=f"buyer{n}@example.com")
    orders = "query { orders(first: 100) { nodes { id } } }"
    cost = graphql(server, orders).json()["extensions"]["cost"]
    assert (cost["requestedQueryCost"], cost["actualQueryCost"]) == (101, 3)
    assert cost["throttleStatus"]["currentlyAvailable"] == cost["throttleStatus"]["maximumAvailable"] - 3
    server._bucket[SHOP] = (50.0, clock.now)  # not enough to start it: throttled, nothing charged
    throttled = graphql(server, orders).json()
    assert throttled["errors"][0]["extensions"]["code"] == "THROTTLED"
    assert throttled["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] == 50.0
