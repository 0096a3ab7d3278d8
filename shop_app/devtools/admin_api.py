"""A development Shopify Admin API (OAuth grants and GraphQL) for tests and `reclaim demo`, never for production.

`AdminApiServer` says how to drive it; its GraphQL requests are checked against the pinned schema
(admin_schema.py).
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import functools
import itertools
import secrets
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

from flask import Flask, Response, jsonify, request
from graphql import FieldNode, FragmentDefinitionNode, FragmentSpreadNode, InlineFragmentNode, SelectionSetNode
from graphql.pyutils import Undefined
from graphql.utilities import value_from_ast_untyped

from shop_app.devtools import admin_billing, admin_schema, admin_webhooks, hs256, search_syntax
from shop_app.devtools.serving import BackgroundServer
from shop_app.errors import ReclaimError

DEFAULT_API_KEY = "reclaim-dev-api-key"  # the development credentials of shop_app.config
DEFAULT_API_SECRET = "reclaim-dev-api-secret"
DEFAULT_SCOPES = "read_orders,read_customers,write_discounts,write_app_proxy"
API_VERSION = "2026-07"
ACCESS_TOKEN_SECONDS = 3600  # expiring offline tokens (shopify.dev changelog: offline access tokens support expiry)
REFRESH_TOKEN_SECONDS = 90 * 24 * 3600
AUTH_CODE_SECONDS = 600
# The leaky bucket of a development store (shopify.dev/docs/api/usage/rate-limits).
BUCKET_MAXIMUM = 2000.0
#: The most one request may cost, whatever the bucket holds
#: (shopify.dev/docs/apps/build/apis/graphql-admin/rate-limits).
MAX_QUERY_COST = 1000
RESTORE_RATE = 100.0
MUTATION_COST = 10

TOKEN_EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"
ID_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:id_token"
OFFLINE_TOKEN_TYPE = "urn:shopify:params:oauth:token-type:offline-access-token"
INVALID_TOKEN_BODY = {"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}

mint_session_token = hs256.mint_session_token


# --- state ------------------------------------------------------------------------------------


@dataclass
class DevShop:
    domain: str
    name: str
    email: str
    iana_timezone: str
    currency_code: str
    primary_domain_host: str
    country_code: str | None = None
    discounts: dict[str, DevDiscount] = field(default_factory=dict)  # by upper-cased code
    orders: list[DevOrder] = field(default_factory=list)
    customers: list[DevCustomer] = field(default_factory=list)


@dataclass(frozen=True)
class DevDiscount:
    id: str
    code: str
    kind: str  # "basic" | "free_shipping"
    input: dict


@dataclass(frozen=True)
class DevOrder:
    id: str
    name: str
    created_at: datetime
    checkout_token: str | None
    email: str | None
    phone: str | None
    customer_id: str | None
    financial_status: str
    total: Decimal
    currency_code: str
    cancelled_at: datetime | None = None


@dataclass(frozen=True)
class DevCustomer:
    id: str
    first_name: str | None
    last_name: str | None
    email: str | None
    email_marketing_state: str
    phone: str | None
    sms_marketing_state: str
    created_at: datetime
    #: Shopify's numberOfOrders when a test set it; None: counted from the shop's orders.
    number_of_orders: int | None = None


@dataclass
class Grant:
    shop: str
    access_token: str
    access_expires_at: float | None
    refresh_token: str | None
    refresh_expires_at: float | None


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    shop: str
    kind: str  # "graphql" | "oauth" | "other"
    headers: dict[str, str]
    body: Any
    operation_name: str | None
    variables: dict | None
    status: int
    answer: Any


@dataclass(frozen=True)
class _Failure:
    kind: str  # "throttled" | "status"
    status: int
    retry_after: float | None
    after_processing: bool
    currently_available: float
    operation: str | None = None  # only requests for this operation name; None: any request


class _DevError(ReclaimError):
    """The development server cannot answer this (a field or filter it does not model)."""


# --- server -----------------------------------------------------------------------------------


class AdminApiServer(BackgroundServer):
    """Shopify's OAuth and GraphQL Admin endpoints on 127.0.0.1 (a free port), served from a thread.

        with AdminApiServer() as server:
            settings = settings.with_overrides(shopify_admin_base_url=server.admin_base_url)
            token = server.issue_token("demo-shop.myshopify.com")
            server.add_order("demo-shop.myshopify.com", checkout_token="abc", email="a@b.com")
            server.inject_status(503, count=2, retry_after=1)
            server.set_order_count("demo-shop.myshopify.com", "7001", 3)   # numberOfOrders
            ...
            server.graphql_requests("DiscountCodeBasicCreate")   # what the app sent

    Routes (the shop is the first path segment, so the base URL template is
    `http://127.0.0.1:PORT/{shop}`):
        POST /{shop}/admin/oauth/access_token         token exchange, authorization code, refresh
        POST /{shop}/admin/api/{version}/graphql.json the documents the app uses

    Every GraphQL request is parsed, validated and its variables coerced against the schema,
    and refused with `errors` like Shopify when it does not fit. Answers are projected from
    in-memory state onto the request's selection set, so a field the app reads but did not ask
    for is missing here as it would be there.
    """

    thread_name = "dev-admin-api"

    def __init__(
        self,
        *,
        api_key: str = DEFAULT_API_KEY,
        api_secret: str = DEFAULT_API_SECRET,
        schema_path: str | Path | None = None,
        validate: bool = True,
        scopes: str = DEFAULT_SCOPES,
        api_version: str = API_VERSION,
        clock: Callable[[], float] = time.time,
        host: str = "127.0.0.1",
        port: int = 0,
    ):
        self.api_key, self.api_secret, self.scopes, self.api_version = api_key, api_secret, scopes, api_version
        self.schema = admin_schema.find_schema(schema_path) if validate else None
        self.clock = clock
        self._host, self._port = host, port
        self._lock = threading.RLock()
        self._ids = itertools.count(1001)
        self._shops: dict[str, DevShop] = {}
        self._grants: list[Grant] = []
        self._codes: dict[str, tuple[str, float]] = {}  # authorization code -> (shop, expires)
        self._failures: list[_Failure] = []
        self._user_errors: list[dict] = []  # answered by the next discount mutations, one each
        self._requests: list[RecordedRequest] = []
        self._bucket: dict[str, tuple[float, float]] = {}  # shop -> (available, at)
        self.app = self._build_app()

    @property
    def validating(self) -> bool:
        return self.schema is not None

    # --- addresses (start, stop and url come from BackgroundServer) ------------------------------

    @property
    def admin_base_url(self) -> str:
        """The value for SHOPIFY_ADMIN_BASE_URL."""
        return self.url + "/{shop}"

    def reset(self) -> None:
        """Forget every shop, token, order, injected failure and recorded request."""
        with self._lock:
            self._shops.clear()
            self._grants.clear()
            self._codes.clear()
            self._failures.clear()
            self._user_errors.clear()
            self._requests.clear()
            self._bucket.clear()
        admin_webhooks.forget(self)
        admin_billing.forget(self)

    # --- arranging state (tests, demo) --------------------------------------------------------

    def add_shop(
        self,
        domain: str,
        *,
        name: str | None = None,
        email: str | None = None,
        iana_timezone: str = "UTC",
        currency_code: str = "USD",
        primary_domain_host: str | None = None,
        country_code: str | None = None,
    ) -> DevShop:
        with self._lock:
            shop = self._shops.get(domain)
            if shop is None:
                handle = domain.split(".")[0]
                shop = DevShop(
                    domain,
                    name or handle.replace("-", " ").title(),
                    email or f"owner@{handle}.example",
                    iana_timezone,
                    currency_code,
                    primary_domain_host or domain,
                    country_code,
                )
                self._shops[domain] = shop
            return shop

    def shop(self, domain: str) -> DevShop:
        with self._lock:
            return self._shops[domain]

    def issue_token(self, domain: str, *, expiring: bool = False) -> str:
        """An access token for `domain` without going through OAuth."""
        self.add_shop(domain)
        return self._grant(domain, expiring)["access_token"]

    def authorization_code(self, domain: str) -> str:
        """A single-use code as Shopify would put on the OAuth callback."""
        self.add_shop(domain)
        code = secrets.token_hex(16)
        with self._lock:
            self._codes[code] = (domain, self.clock() + AUTH_CODE_SECONDS)
        return code

    def session_token(self, domain: str, **overrides) -> str:
        """An App Bridge session token for `domain`, signed with this server's app secret."""
        return hs256.mint_session_token(
            domain, api_key=self.api_key, api_secret=self.api_secret, now=self.clock(), **overrides
        )

    def revoke_tokens(self, domain: str) -> None:
        """What an uninstall does to the app's tokens."""
        with self._lock:
            self._grants = [g for g in self._grants if g.shop != domain]

    def add_order(
        self,
        domain: str,
        *,
        checkout_token: str | None = None,
        email: str | None = None,
        phone: str | None = None,
        customer_id: str | None = None,
        created_at: datetime | None = None,
        financial_status: str = "PAID",
        total: Decimal | str = "10.00",
        currency_code: str | None = None,
        cancelled_at: datetime | None = None,
    ) -> DevOrder:
        """An order the store knows, whether or not any webhook told the app about it."""
        shop = self.add_shop(domain)
        with self._lock:
            number = next(self._ids)
            order = DevOrder(
                id=f"gid://shopify/Order/{number}",
                name=f"#{number}",
                created_at=_aware(created_at or datetime.fromtimestamp(self.clock(), UTC)),
                checkout_token=checkout_token,
                email=email,
                phone=phone,
                customer_id=customer_id,
                financial_status=financial_status,
                total=Decimal(str(total)),
                currency_code=currency_code or shop.currency_code,
                cancelled_at=_aware(cancelled_at) if cancelled_at else None,
            )
            shop.orders.append(order)
            return order

    def add_customer(
        self,
        domain: str,
        *,
        first_name: str | None = None,
        last_name: str | None = None,
        email: str | None = None,
        email_marketing_state: str = "NOT_SUBSCRIBED",
        phone: str | None = None,
        sms_marketing_state: str = "NOT_SUBSCRIBED",
        created_at: datetime | None = None,
        customer_id: str | None = None,
        number_of_orders: int | None = None,
    ) -> DevCustomer:
        """A customer of the store; `customer_id` (numeric, as webhooks name it) picks its id,
        `number_of_orders` what Shopify counts (default: the shop's orders of this customer)."""
        shop = self.add_shop(domain)
        with self._lock:
            customer = DevCustomer(
                id=_customer_gid(customer_id) if customer_id else f"gid://shopify/Customer/{next(self._ids)}",
                first_name=first_name,
                last_name=last_name,
                email=email,
                email_marketing_state=email_marketing_state,
                phone=phone,
                sms_marketing_state=sms_marketing_state,
                created_at=_aware(created_at or datetime.fromtimestamp(self.clock(), UTC)),
                number_of_orders=number_of_orders,
            )
            shop.customers.append(customer)
            return customer

    def set_order_count(self, domain: str, customer_id: str, count: int) -> DevCustomer:
        """What Shopify's numberOfOrders says for this customer (numeric id or gid), whatever
        orders the shop holds; a customer the shop does not know yet is added."""
        shop = self.add_shop(domain)
        gid = _customer_gid(customer_id)
        with self._lock:
            for i, customer in enumerate(shop.customers):
                if customer.id == gid:
                    shop.customers[i] = dataclasses.replace(customer, number_of_orders=count)
                    return shop.customers[i]
        return self.add_customer(domain, customer_id=customer_id, number_of_orders=count)

    def add_discount(self, domain: str, code: str, title: str) -> DevDiscount:
        """A code discount the merchant (or another app) made: a readable code can clash with it."""
        data = {"code": code, "title": title, "startsAt": _iso(datetime.now(UTC)), "usageLimit": None}
        with self._lock:
            discount = DevDiscount(f"gid://shopify/DiscountCodeNode/{next(self._ids)}", code, "basic", data)
            self._shops[domain].discounts[code.upper()] = discount
        return discount

    def discounts(self, domain: str) -> list[DevDiscount]:
        with self._lock:
            return list(self._shops[domain].discounts.values()) if domain in self._shops else []

    # --- failures and records -----------------------------------------------------------------

    def inject_throttled(self, count: int = 1, *, currently_available: float = 0.0) -> None:
        """The next `count` GraphQL requests are answered THROTTLED (HTTP 200), with the
        request's cost and `currently_available` points in extensions.cost."""
        self._queue_failures(count, _Failure("throttled", 200, None, False, currently_available))

    def inject_status(
        self,
        status: int,
        count: int = 1,
        *,
        retry_after: float | None = None,
        after_processing: bool = False,
        operation: str | None = None,
    ) -> None:
        """The next `count` GraphQL requests are answered `status` (429 or 5xx).

        `after_processing`: the request is carried out first and only the answer is
        lost, as when a gateway times out after Shopify did the work.
        `operation`: only requests for this operation name fail; others pass untouched.
        """
        self._queue_failures(count, _Failure("status", status, retry_after, after_processing, 0.0, operation))

    def inject_user_error(self, code: str, message: str, field: tuple[str, ...] = (), count: int = 1) -> None:
        """The next `count` discount mutations answer this userError and create nothing."""
        with self._lock:
            self._user_errors.extend([{"code": code, "message": message, "field": list(field)}] * count)

    def _queue_failures(self, count: int, failure: _Failure) -> None:
        with self._lock:
            self._failures.extend([failure] * count)

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def graphql_requests(self, operation_name: str | None = None, *, shop: str | None = None) -> list[RecordedRequest]:
        return [
            r
            for r in self.requests
            if r.kind == "graphql"
            and (operation_name is None or r.operation_name == operation_name)
            and (shop is None or r.shop == shop)
        ]

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    # --- HTTP ---------------------------------------------------------------------------------

    def _build_app(self) -> Flask:
        app = Flask("reclaim_dev_admin_api")

        @app.post("/<shop>/admin/oauth/access_token")
        def access_token(shop: str) -> Response:
            body = request.get_json(silent=True)
            if body is None:
                body = request.form.to_dict()
            status, answer = self._oauth(shop, body if isinstance(body, dict) else {})
            return self._answer("oauth", shop, body, None, None, status, answer)

        @app.post("/<shop>/admin/api/<version>/graphql.json")
        def graphql(shop: str, version: str) -> Response:
            body = request.get_json(silent=True)
            operation = body.get("operationName") if isinstance(body, dict) else None
            variables = body.get("variables") if isinstance(body, dict) else None
            status, answer, headers = self._graphql(shop, version, body)
            return self._answer("graphql", shop, body, operation, variables, status, answer, headers)

        return app

    def _answer(
        self,
        kind: str,
        shop: str,
        body: Any,
        operation: Any,
        variables: Any,
        status: int,
        answer: Any,
        headers: dict[str, str] | None = None,
    ) -> Response:
        with self._lock:
            self._requests.append(
                RecordedRequest(
                    method=request.method,
                    path=request.path,
                    shop=shop,
                    kind=kind,
                    headers=dict(request.headers),
                    body=body,
                    operation_name=operation if isinstance(operation, str) else None,
                    variables=variables if isinstance(variables, dict) else None,
                    status=status,
                    answer=answer,
                )
            )
        response = jsonify(answer)
        response.status_code = status
        for name, value in (headers or {}).items():
            response.headers[name] = value
        return response

    # --- OAuth --------------------------------------------------------------------------------

    def _oauth(self, shop: str, body: dict) -> tuple[int, dict]:
        if body.get("client_id") != self.api_key or body.get("client_secret") != self.api_secret:
            return 400, {"error": "invalid_client", "error_description": "client_id or client_secret is wrong"}
        grant_type = body.get("grant_type")
        now = self.clock()
        if grant_type == TOKEN_EXCHANGE_GRANT:
            if (
                body.get("subject_token_type") != ID_TOKEN_TYPE
                or body.get("requested_token_type") != OFFLINE_TOKEN_TYPE
            ):
                return 400, {
                    "error": "unsupported_token_type",
                    "error_description": "the development server exchanges id tokens for offline tokens only",
                }
            try:
                claims = hs256.decode(
                    str(body.get("subject_token", "")), self.api_secret, audience=self.api_key, now=now
                )
            except hs256.InvalidToken as exc:
                return 400, {"error": "invalid_subject_token", "error_description": str(exc)}
            if hs256.host_of(claims.get("dest")) != shop or hs256.host_of(claims.get("iss")) != shop:
                return 400, {"error": "invalid_subject_token", "error_description": "token is for another shop"}
            self.add_shop(shop)
            return 200, self._grant(shop, body.get("expiring") == "1")
        if grant_type == "refresh_token":
            with self._lock:
                grant = next(
                    (
                        g
                        for g in self._grants
                        if g.shop == shop and g.refresh_token and g.refresh_token == body.get("refresh_token")
                    ),
                    None,
                )
                if grant is None or (grant.refresh_expires_at is not None and grant.refresh_expires_at < now):
                    return 400, {
                        "error": "invalid_grant",
                        "error_description": "refresh token unknown, spent or expired",
                    }
                grant.refresh_token = None  # refresh tokens rotate: this one is spent
            return 200, self._grant(shop, True)
        if grant_type in (None, "authorization_code") and "code" in body:
            with self._lock:
                owner, expires = self._codes.pop(str(body["code"]), (None, 0.0))
            if owner != shop or expires < now:
                return 400, {
                    "error": "invalid_request",
                    "error_description": "The authorization code was not found or was already used",
                }
            return 200, self._grant(shop, body.get("expiring") == "1")
        return 400, {"error": "unsupported_grant_type", "error_description": f"grant {grant_type!r}"}

    def _grant(self, shop: str, expiring: bool) -> dict:
        now = self.clock()
        grant = Grant(
            shop,
            "shpat_" + secrets.token_hex(16),
            now + ACCESS_TOKEN_SECONDS if expiring else None,
            "shprt_" + secrets.token_hex(16) if expiring else None,
            now + REFRESH_TOKEN_SECONDS if expiring else None,
        )
        with self._lock:
            self._grants.append(grant)
        answer: dict[str, Any] = {"access_token": grant.access_token, "scope": self.scopes}
        if expiring:
            answer.update(
                expires_in=ACCESS_TOKEN_SECONDS,
                refresh_token=grant.refresh_token,
                refresh_token_expires_in=REFRESH_TOKEN_SECONDS,
            )
        return answer

    def _token_valid(self, shop: str, token: str | None) -> bool:
        now = self.clock()
        with self._lock:
            return any(
                g.shop == shop
                and g.access_token == token
                and (g.access_expires_at is None or g.access_expires_at > now)
                for g in self._grants
            )

    # --- GraphQL ------------------------------------------------------------------------------

    def _graphql(self, shop: str, version: str, body: Any) -> tuple[int, Any, dict[str, str]]:
        if version != self.api_version:
            return 404, {"errors": f"Not Found: the development server speaks {self.api_version} only"}, {}
        with self._lock:
            known = shop in self._shops
        if not known:
            return 404, {"errors": "Not Found"}, {}
        if not self._token_valid(shop, request.headers.get("X-Shopify-Access-Token")):
            return 401, INVALID_TOKEN_BODY, {}
        wanted = body.get("operationName") if isinstance(body, dict) else None
        with self._lock:
            failure = next((f for f in self._failures if f.operation in (None, wanted)), None)
            if failure is not None:
                self._failures.remove(failure)
        if failure is not None and failure.kind == "status" and not failure.after_processing:
            return self._failure_answer(failure)
        if not isinstance(body, dict):
            return 400, {"errors": [{"message": "Request body must be a JSON object"}]}, {}
        found = self._prepared(body)
        if isinstance(found, list):
            return 200, {"errors": found}, {}
        prepared, cost = found
        if failure is not None and failure.kind == "throttled":
            return self._throttled(cost, failure.currently_available)
        allowed, available = self._take_from_bucket(shop, cost)
        if not allowed:
            return self._throttled(cost, available)
        try:
            data = self._execute(shop, prepared)
        except (_DevError, search_syntax.SearchSyntaxError, ValueError) as exc:
            return 200, {"errors": [{"message": f"development server: {exc}"}]}, {}
        if failure is not None:
            return self._failure_answer(failure)
        actual = _actual_cost(prepared, data, cost)
        available = self._refund(shop, cost - actual)
        return 200, {"data": data, "extensions": {"cost": _cost_block(cost, actual, available)}}, {}

    def _prepared(self, body: dict) -> tuple[admin_schema.Prepared, int] | list[dict]:
        """The request's document checked against the schema, with its requested cost; or its errors."""
        prepared = admin_schema.prepare(
            self.schema, body.get("query"), body.get("variables"), body.get("operationName")
        )
        if isinstance(prepared, list):
            return prepared
        cost = _cost(prepared)
        if cost > MAX_QUERY_COST:  # Shopify refuses such a request whatever the bucket holds
            message = f"Query cost is {cost}, which exceeds the single query max cost limit ({MAX_QUERY_COST})."
            return [{"message": message, "extensions": {"code": "MAX_COST_EXCEEDED"}}]
        return prepared, cost

    def _failure_answer(self, failure: _Failure) -> tuple[int, Any, dict[str, str]]:
        headers = {"Retry-After": f"{failure.retry_after:g}"} if failure.retry_after is not None else {}
        if failure.status == 429:
            body: Any = {
                "errors": "Exceeded 2 calls per second for api client. "
                "Reduce request rates to resume uninterrupted service."
            }
        else:
            body = {"errors": "Internal Server Error"}
        return failure.status, body, headers

    @staticmethod
    def _throttled(requested: int, available: float) -> tuple[int, Any, dict[str, str]]:
        return (
            200,
            {
                "errors": [
                    {
                        "message": "Throttled",
                        "extensions": {
                            "code": "THROTTLED",
                            "documentation": "https://shopify.dev/api/usage/rate-limits",
                        },
                    }
                ],
                "extensions": {"cost": _cost_block(requested, None, available)},
            },
            {},
        )

    def _take_from_bucket(self, shop: str, cost: int) -> tuple[bool, float]:
        """Shopify's leaky bucket: (whether `cost` fits, points available afterwards)."""
        now = self.clock()
        with self._lock:
            available, at = self._bucket.get(shop, (BUCKET_MAXIMUM, now))
            available = min(BUCKET_MAXIMUM, available + max(0.0, now - at) * RESTORE_RATE)
            allowed = available >= cost
            if allowed:
                available -= cost
            self._bucket[shop] = (available, now)
            return allowed, available

    def _refund(self, shop: str, points: int) -> float:
        """Shopify takes the requested cost to start a query and gives back what its answer did not
        use (the bucket then lost actualQueryCost): the points available afterwards."""
        with self._lock:
            available, at = self._bucket[shop]
            self._bucket[shop] = (min(BUCKET_MAXIMUM, available + max(0, points)), at)
            return self._bucket[shop][0]

    def _execute(self, shop_domain: str, prepared: admin_schema.Prepared) -> dict:
        fragments = {d.name.value: d for d in prepared.document.definitions if isinstance(d, FragmentDefinitionNode)}
        mutation = prepared.operation.operation.value == "mutation"
        with self._lock:
            shop = self._shops[shop_domain]
            root = _Root(self, shop, mutation)
            return _project(prepared.operation.selection_set, root, fragments, prepared.variables)


# --- resolving the documents the app uses -----------------------------------------------------


class _Root:
    """QueryRoot / Mutation fields the app's documents use, as plain dicts."""

    def __init__(self, server: AdminApiServer, shop: DevShop, mutation: bool):
        self.server, self.shop, self.mutation = server, shop, mutation
        self.typename = "Mutation" if mutation else "QueryRoot"

    def field(self, name: str, args: dict) -> Any:
        queries: dict[str, Callable[..., Any]] = {
            "shop": self.shop_,
            "codeDiscountNodeByCode": self.code_by_code,
            "orders": self.orders,
            "customers": self.customers,
            "customer": self.customer,
            "webhookSubscriptions": functools.partial(admin_webhooks.subscriptions, self.server, self.shop.domain),
            "currentAppInstallation": functools.partial(admin_billing.installation, self.server, self.shop.domain),
        }
        mutations: dict[str, Callable[..., Any]] = {
            "discountCodeBasicCreate": self.basic_create,
            "discountCodeFreeShippingCreate": self.free_shipping_create,
            "discountCodeDelete": self.code_delete,
            "webhookSubscriptionCreate": functools.partial(admin_webhooks.create, self.server, self.shop.domain),
            "webhookSubscriptionUpdate": functools.partial(admin_webhooks.update, self.server, self.shop.domain),
            "webhookSubscriptionDelete": functools.partial(admin_webhooks.delete, self.server, self.shop.domain),
        }
        resolvers = mutations if self.mutation else queries
        if name not in resolvers:
            raise _DevError(f"{self.typename}.{name} is not modelled")
        return resolvers[name](**args)

    def shop_(self) -> dict:
        s = self.shop
        return {
            "__typename": "Shop",
            "id": f"gid://shopify/Shop/{zlib.crc32(s.domain.encode())}",
            "name": s.name,
            "email": s.email,
            "contactEmail": s.email,
            "ianaTimezone": s.iana_timezone,
            "currencyCode": s.currency_code,
            "myshopifyDomain": s.domain,
            "primaryDomain": {
                "__typename": "Domain",
                "host": s.primary_domain_host,
                "url": f"https://{s.primary_domain_host}",
            },
            "shopAddress": {"__typename": "ShopAddress", "countryCodeV2": s.country_code},
            "plan": admin_billing.shop_plan(self.server, s.domain),
        }

    def code_by_code(self, code: str) -> dict | None:
        found = self.shop.discounts.get(code.upper())
        return _discount_node(found) if found else None

    def orders(
        self,
        first: int | None = None,
        query: str | None = None,
        sortKey: str | None = None,
        reverse: bool | None = False,
        after: str | None = None,
        **_: Any,
    ) -> dict:
        orders = list(self.shop.orders)
        if query:
            tree = search_syntax.parse(query)
            orders = [o for o in orders if search_syntax.evaluate(tree, functools.partial(_order_matches, o))]
        key = {
            None: lambda o: int(o.id.rsplit("/", 1)[1]),
            "ID": lambda o: int(o.id.rsplit("/", 1)[1]),
            "CREATED_AT": lambda o: o.created_at,
        }.get(sortKey)
        if key is None:
            raise _DevError(f"orders sortKey {sortKey} is not modelled")
        orders.sort(key=key, reverse=bool(reverse))
        return _connection([_order_node(o) for o in orders], first, after)

    def customers(
        self,
        first: int | None = None,
        query: str | None = None,
        sortKey: str | None = None,
        reverse: bool | None = False,
        after: str | None = None,
        **_: Any,
    ) -> dict:
        customers = list(self.shop.customers)
        if query:
            tree = search_syntax.parse(query)
            customers = [c for c in customers if search_syntax.evaluate(tree, functools.partial(_customer_matches, c))]
        if sortKey not in (None, "ID"):
            raise _DevError(f"customers sortKey {sortKey} is not modelled")
        customers.sort(key=lambda c: int(c.id.rsplit("/", 1)[1]), reverse=bool(reverse))
        return _connection([_customer_node(c, self.shop) for c in customers], first, after)

    def customer(self, id: str) -> dict | None:
        found = next((c for c in self.shop.customers if c.id == id), None)
        return _customer_node(found, self.shop) if found else None

    def basic_create(self, basicCodeDiscount: dict) -> dict:
        return self._create("basic", "basicCodeDiscount", basicCodeDiscount)

    def free_shipping_create(self, freeShippingCodeDiscount: dict) -> dict:
        return self._create("free_shipping", "freeShippingCodeDiscount", freeShippingCodeDiscount)

    def code_delete(self, id: str) -> dict:  # noqa: A002 (GraphQL's name)
        """Mutation.discountCodeDelete: the discount leaves the store; an id naming none of its
        discounts (never made, or deleted already) answers a userError on `id`, as Shopify does."""
        key = next((key for key, discount in self.shop.discounts.items() if discount.id == id), None)
        if key is None:
            error = {"__typename": "DiscountUserError", "field": ["id"], "code": None,
                     "message": "Discount does not exist", "extraInfo": None}  # fmt: skip
            return {"__typename": "DiscountCodeDeletePayload", "deletedCodeDiscountId": None, "userErrors": [error]}
        del self.shop.discounts[key]
        return {"__typename": "DiscountCodeDeletePayload", "deletedCodeDiscountId": id, "userErrors": []}

    def _create(self, kind: str, argument: str, data: dict) -> dict:
        errors = _discount_problems(kind, argument, data, self.shop)
        if self.server._user_errors:
            injected = self.server._user_errors.pop(0)
            errors = [
                {
                    "__typename": "DiscountUserError",
                    "extraInfo": None,
                    **injected,
                    "field": [argument, *injected["field"]],
                }
            ]
        if errors:
            return {"codeDiscountNode": None, "userErrors": errors}
        discount = DevDiscount(f"gid://shopify/DiscountCodeNode/{next(self.server._ids)}", data["code"], kind, data)
        self.shop.discounts[data["code"].upper()] = discount
        return {"codeDiscountNode": _discount_node(discount), "userErrors": []}


def _discount_problems(kind: str, argument: str, data: dict, shop: DevShop) -> list[dict]:
    """The userErrors Shopify gives for the mistakes an app can make with these inputs."""

    def error(path: list[str], code: str, message: str) -> dict:
        return {
            "__typename": "DiscountUserError",
            "field": [argument, *path],
            "code": code,
            "message": message,
            "extraInfo": None,
        }

    problems = []
    code = data.get("code")
    if not code or not str(code).strip():
        problems.append(error(["code"], "BLANK", "Code can't be blank"))
    elif str(code).upper() in shop.discounts:
        problems.append(error(["code"], "TAKEN", "Code must be unique. Please try a different code."))
    if not data.get("title"):
        problems.append(error(["title"], "BLANK", "Title can't be blank"))
    if not data.get("startsAt"):
        problems.append(error(["startsAt"], "BLANK", "Starts at can't be blank"))
    elif data.get("endsAt") and datetime.fromisoformat(data["endsAt"]) <= datetime.fromisoformat(data["startsAt"]):
        problems.append(error(["endsAt"], "END_DATE_BEFORE_START_DATE", "Ends at needs to be after starts_at"))
    context = data.get("context")
    if context is not None and len([v for v in context.values() if v is not None]) != 1:
        problems.append(
            error(["context"], "INVALID", "Context must name exactly one of all, customers, customerSegments, markets")
        )
    if kind == "basic":
        value = ((data.get("customerGets") or {}).get("value")) or {}
        if not value:
            problems.append(error(["customerGets", "value"], "BLANK", "Value can't be blank"))
        percentage = value.get("percentage")
        if percentage is not None and not 0.0 <= float(percentage) <= 1.0:
            problems.append(
                error(
                    ["customerGets", "value", "percentage"], "VALUE_OUTSIDE_RANGE", "Value must be between 0.0 and 1.0"
                )
            )
        amount = (value.get("discountAmount") or {}).get("amount")
        if amount is not None and Decimal(str(amount)) <= 0:
            problems.append(
                error(
                    ["customerGets", "value", "discountAmount", "amount"],
                    "GREATER_THAN",
                    "Value must be greater than 0",
                )
            )
    return problems


def _discount_node(discount: DevDiscount) -> dict:
    typename = "DiscountCodeBasic" if discount.kind == "basic" else "DiscountCodeFreeShipping"
    data = discount.input
    return {
        "__typename": "DiscountCodeNode",
        "id": discount.id,
        "codeDiscount": {
            "__typename": typename,
            "title": data.get("title"),
            "status": "ACTIVE",
            "startsAt": data.get("startsAt"),
            "endsAt": data.get("endsAt"),
            "usageLimit": data.get("usageLimit"),
            "codes": {"nodes": [{"__typename": "DiscountRedeemCode", "code": discount.code}]},
        },
    }


def _order_node(order: DevOrder) -> dict:
    money = {"__typename": "MoneyV2", "amount": f"{order.total:.2f}", "currencyCode": order.currency_code}
    return {
        "__typename": "Order",
        "id": order.id,
        "name": order.name,
        "createdAt": _iso(order.created_at),
        "cancelledAt": _iso(order.cancelled_at) if order.cancelled_at else None,
        "checkoutToken": order.checkout_token,
        "email": order.email,
        "phone": order.phone,
        "displayFinancialStatus": order.financial_status,
        "totalPriceSet": {"__typename": "MoneyBag", "shopMoney": money, "presentmentMoney": money},
        "customer": {"__typename": "Customer", "id": order.customer_id} if order.customer_id else None,
    }


def _customer_node(customer: DevCustomer, shop: DevShop) -> dict:
    count = customer.number_of_orders
    if count is None:
        count = sum(1 for order in shop.orders if order.customer_id == customer.id)
    return {
        "__typename": "Customer",
        "id": customer.id,
        "numberOfOrders": str(count),  # UnsignedInt64: a string of digits
        "firstName": customer.first_name,
        "lastName": customer.last_name,
        "createdAt": _iso(customer.created_at),
        "defaultEmailAddress": {
            "__typename": "CustomerEmailAddress",
            "emailAddress": customer.email,
            "marketingState": customer.email_marketing_state,
        }
        if customer.email
        else None,
        "defaultPhoneNumber": {
            "__typename": "CustomerPhoneNumber",
            "phoneNumber": customer.phone,
            "marketingState": customer.sms_marketing_state,
        }
        if customer.phone
        else None,
    }


def _customer_gid(customer_id: str) -> str:
    return customer_id if customer_id.startswith("gid://") else f"gid://shopify/Customer/{customer_id}"


def _connection(nodes: list[dict], first: int | None, after: str | None) -> dict:
    if first is None:
        raise _DevError("connections need `first` (Shopify requires first or last)")
    start = 0
    if after:
        ids = [node["id"] for node in nodes]
        position = _decode_cursor(after)
        if position not in ids:
            raise _DevError(f"unknown cursor {after!r}")
        start = ids.index(position) + 1
    page = nodes[start : start + first]
    edges = [{"__typename": "Edge", "cursor": _cursor(node["id"]), "node": node} for node in page]
    return {
        "nodes": page,
        "edges": edges,
        "pageInfo": {
            "__typename": "PageInfo",
            "hasNextPage": start + first < len(nodes),
            "hasPreviousPage": start > 0,
            "startCursor": edges[0]["cursor"] if edges else None,
            "endCursor": edges[-1]["cursor"] if edges else None,
        },
    }


def _cursor(node_id: str) -> str:
    return base64.urlsafe_b64encode(f"cursor:{node_id}".encode()).decode()


def _decode_cursor(cursor: str) -> str:
    try:
        return base64.urlsafe_b64decode(cursor.encode()).decode().removeprefix("cursor:")
    except ValueError as exc:
        raise _DevError(f"malformed cursor {cursor!r}") from exc


def _order_matches(order: DevOrder, term: search_syntax.Term) -> bool:
    if term.field == "checkout_token":
        return _equals(term, order.checkout_token)
    if term.field == "email":
        return _equals(term, order.email, fold=True)
    if term.field == "customer_id":
        return _equals(term, order.customer_id.rsplit("/", 1)[1] if order.customer_id else None)
    if term.field == "financial_status":
        return _equals(term, order.financial_status, fold=True)
    if term.field == "created_at":
        return _compare_time(term, order.created_at)
    raise _DevError(f"orders search on {term.field or 'the default field'!s} is not modelled")


def _customer_matches(customer: DevCustomer, term: search_syntax.Term) -> bool:
    if term.field == "phone":
        return _equals(term, customer.phone)
    if term.field == "email":
        return _equals(term, customer.email, fold=True)
    raise _DevError(f"customers search on {term.field or 'the default field'!s} is not modelled")


def _equals(term: search_syntax.Term, actual: str | None, *, fold: bool = False) -> bool:
    if term.comparator != ":":
        raise _DevError(f"{term.field}{term.comparator} is not modelled")
    if actual is None:
        return False
    return actual.casefold() == term.value.casefold() if fold else actual == term.value


def _compare_time(term: search_syntax.Term, actual: datetime) -> bool:
    try:
        wanted = _aware(datetime.fromisoformat(term.value))
    except ValueError as exc:
        raise _DevError(f"{term.field} value {term.value!r} is not a time") from exc
    return {
        ":": actual == wanted,
        ":<": actual < wanted,
        ":>": actual > wanted,
        ":<=": actual <= wanted,
        ":>=": actual >= wanted,
    }[term.comparator]


# --- projection onto the selection set ----------------------------------------------------------


def _project(
    selection_set: SelectionSetNode | None,
    value: Any,
    fragments: dict[str, FragmentDefinitionNode],
    variables: dict[str, Any],
) -> Any:
    if value is None or selection_set is None:
        return value
    if isinstance(value, list):
        return [_project(selection_set, item, fragments, variables) for item in value]
    out: dict[str, Any] = {}
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            name = selection.name.value
            key = selection.alias.value if selection.alias else name
            if isinstance(value, _Root):
                args = {
                    arg.name.value: _none(value_from_ast_untyped(arg.value, variables))
                    for arg in selection.arguments or ()
                }
                resolved = value.field(name, args)
            elif name == "__typename":
                resolved = value.get("__typename")
            elif name in value:
                resolved = value[name]
            else:
                raise _DevError(f"{value.get('__typename', 'object')}.{name} is not modelled")
            out[key] = _project(selection.selection_set, resolved, fragments, variables)
        else:
            if isinstance(selection, FragmentSpreadNode):
                fragment: InlineFragmentNode | FragmentDefinitionNode = fragments[selection.name.value]
            else:  # the one other kind of selection
                fragment = cast(InlineFragmentNode, selection)
            condition = fragment.type_condition.name.value if fragment.type_condition else None
            if condition is None or isinstance(value, _Root) or condition == value.get("__typename"):
                out.update(_project(fragment.selection_set, value, fragments, variables))
    return out


def _none(value: Any) -> Any:
    return None if value is Undefined else value


def _cost(prepared: admin_schema.Prepared) -> int:
    """A rough requested cost: 10 a mutation field (several under aliases cost several), a query 1
    plus the page sizes asked for."""
    if prepared.operation.operation.value == "mutation":
        return MUTATION_COST * sum(isinstance(s, FieldNode) for s in prepared.operation.selection_set.selections)
    cost = 1
    for selection in prepared.operation.selection_set.selections:
        if isinstance(selection, FieldNode):
            for arg in selection.arguments or ():
                if arg.name.value in ("first", "last"):
                    size = _none(value_from_ast_untyped(arg.value, prepared.variables))
                    cost += int(size or 0)
    return cost


def _actual_cost(prepared: admin_schema.Prepared, data: dict, requested: int) -> int:
    """A rough actual cost: a mutation its requested cost; a query 1 plus the nodes its top-level
    connections returned (an answer of a few orders costs a few points, whatever page it asked for)."""
    if prepared.operation.operation.value == "mutation":
        return requested
    returned = 0
    for value in data.values():
        if isinstance(value, dict):
            returned += len(value.get("nodes") or value.get("edges") or ())
    return min(requested, 1 + returned)


def _cost_block(requested: int, actual: int | None, available: float) -> dict:
    return {
        "requestedQueryCost": requested,
        "actualQueryCost": actual,
        "throttleStatus": {
            "maximumAvailable": BUCKET_MAXIMUM,
            "currentlyAvailable": available,
            "restoreRate": RESTORE_RATE,
        },
    }


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- command line -----------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Development Shopify Admin API (never for production)")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--shop", action="append", default=[], help="a shop to create (repeatable)")
    parser.add_argument("--schema", help=f"SDL file (default ${admin_schema.ENV_VAR} or ../shared)")
    args = parser.parse_args(argv)
    server = AdminApiServer(schema_path=args.schema, port=args.port).start()
    for domain in args.shop:
        print(f"{domain}: access token {server.issue_token(domain)}", flush=True)
    print(
        f"SHOPIFY_ADMIN_BASE_URL={server.admin_base_url}  (validation {'on' if server.validating else 'OFF'})",
        flush=True,
    )
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()


__all__ = [
    "AdminApiServer",
    "DevShop",
    "DevDiscount",
    "DevOrder",
    "DevCustomer",
    "RecordedRequest",
    "mint_session_token",
]
