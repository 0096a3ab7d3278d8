"""Shopify Admin API: OAuth token grants and the GraphQL calls Reclaim makes.

Every call goes to `settings.shopify_admin_base_url` with `{shop}` replaced (tests and
the demo point it at shop_app.devtools.admin_api), carries a timeout, and the GraphQL
calls retry THROTTLED / 429 / 5xx / network failures a bounded number of times.

From the `shopifyapi` package we take the API-version rules (`ApiVersion`: any
`YYYY-MM` is a release, and its `/admin/api/{version}` path). We do not send through
`shopify.GraphQL().execute()` or `shopify.Session`: the first has no timeout and
prints HTTP errors to stdout, both keep the shop and token in process-wide class
state (unsafe in a worker serving many shops), and `Session` rewrites every host to
`*.myshopify.com` over https, so the development server could not be reached. We
post with `requests` instead, to the URL the library would build.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Callable, NamedTuple
from urllib.parse import urlsplit

import requests
from shopify.api_version import ApiVersion, VersionNotFoundError

from shop_app.adapters.http_errors import retry_after_seconds
from shop_app.adapters.shopify_admin_documents import DOCUMENTS
from shop_app.config import Settings
from shop_app.domain.discounts import DiscountSpec
from shop_app.errors import (
    AdminApiError,
    AdminApiUnauthorized,
    AdminApiUnavailable,
    AdminUserError,
    ConfigurationError,
    DiscountCodeTaken,
    TokenExchangeRejected,
)
from shop_app.shopify.signatures import clean_shop_domain

log = logging.getLogger(__name__)

#: (connect, read) seconds for every HTTP call.
DEFAULT_TIMEOUT = (5.0, 20.0)
#: Orders looked at by one payment check (newest first).
PAYMENT_CHECK_ORDERS = 10
#: Customers matched by one phone number.
PHONE_CUSTOMERS = 5
#: Customers per page when importing (Shopify allows up to 250 per connection).
CUSTOMERS_PAGE_SIZE = 100
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})

TOKEN_EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"
ID_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:id_token"
OFFLINE_TOKEN_TYPE = "urn:shopify:params:oauth:token-type:offline-access-token"


# --- values -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long the GraphQL calls wait before giving up.

    A wait longer than `max_delay` (a long Retry-After, a deep throttle) is not
    slept through: the call gives up at once with `retry_after`, so the job can
    postpone instead of holding a worker.
    """

    max_attempts: int = 5
    base_delay: float = 1.0
    max_delay: float = 30.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.base_delay < 0 or self.max_delay < self.base_delay:
            raise ValueError("delays must satisfy 0 <= base_delay <= max_delay")

    def backoff(self, attempt: int) -> float:
        """Exponential wait after failed attempt number `attempt` (1-based)."""
        return min(self.max_delay, self.base_delay * 2 ** (attempt - 1))


@dataclass(frozen=True)
class OfflineToken:
    access_token: str
    scope: str
    expires_at: datetime | None  # None: a non-expiring token
    refresh_token: str | None
    refresh_token_expires_at: datetime | None

    @classmethod
    def from_response(cls, payload: dict, now: datetime) -> "OfflineToken":
        def after(key: str) -> datetime | None:
            seconds = payload.get(key)
            return None if seconds is None else now + timedelta(seconds=int(seconds))

        if not payload.get("access_token"):
            raise AdminApiError("token response without access_token")
        return cls(
            access_token=payload["access_token"],
            scope=payload.get("scope", ""),
            expires_at=after("expires_in"),
            refresh_token=payload.get("refresh_token"),
            refresh_token_expires_at=after("refresh_token_expires_in"),
        )


@dataclass(frozen=True)
class ShopInfo:
    name: str
    email: str
    iana_timezone: str
    currency_code: str
    myshopify_domain: str
    primary_domain_host: str


class CreatedDiscount(NamedTuple):
    id: str
    code: str


@dataclass(frozen=True)
class OrderSummary:
    id: str
    name: str
    created_at: datetime
    cancelled_at: datetime | None
    checkout_token: str | None
    email: str | None
    financial_status: str | None
    total: Decimal
    currency_code: str
    customer_id: str | None


@dataclass(frozen=True)
class CustomerRecord:
    id: str
    first_name: str | None
    last_name: str | None
    email: str | None
    email_marketing_state: str | None
    phone: str | None
    sms_marketing_state: str | None
    created_at: datetime


@dataclass(frozen=True)
class CustomersPage:
    customers: tuple[CustomerRecord, ...]
    has_next_page: bool
    end_cursor: str | None


@dataclass(frozen=True)
class Operation:
    """A registered document (by operation name) and the variables to send with it."""

    name: str
    variables: dict[str, Any]


# --- builders (pure; the contract test validates what they produce) --------------------------


def discount_create_operation(spec: DiscountSpec) -> Operation:
    common: dict[str, Any] = {
        "title": spec.title,
        "code": spec.code,
        "startsAt": _iso(spec.starts_at),
        "endsAt": _iso(spec.ends_at),
        "usageLimit": 1,
        "appliesOncePerCustomer": True,
        "context": {"customers": {"add": [spec.customer_gid]}} if spec.customer_gid else {"all": "ALL"},
        "combinesWith": {
            "productDiscounts": False,
            "orderDiscounts": False,
            "shippingDiscounts": spec.combines_with_shipping,
        },
    }
    if spec.kind == "free_shipping":
        return Operation("DiscountCodeFreeShippingCreate", {"input": {**common, "destination": {"all": True}}})
    if spec.kind == "percentage":
        # Shopify's percentage is a fraction: 0.10 means 10 %.
        value: dict[str, Any] = {"percentage": float(spec.percentage_fraction)}
    else:
        value = {"discountAmount": {"amount": f"{spec.value:f}", "appliesOnEachItem": False}}
    gets = {"value": value, "items": {"all": True}}
    return Operation("DiscountCodeBasicCreate", {"input": {**common, "customerGets": gets}})


def find_code_operation(code: str) -> Operation:
    return Operation("CodeDiscountByCode", {"code": code})


def shop_operation() -> Operation:
    return Operation("ShopInfo", {})


def customers_page_operation(after: str | None = None, first: int = CUSTOMERS_PAGE_SIZE) -> Operation:
    return Operation("CustomersPage", {"first": first, "after": after})


def customer_ids_by_phone_operation(phone: str) -> Operation:
    return Operation("CustomerIdsByPhone", {"first": PHONE_CUSTOMERS, "query": f"phone:{search_value(e164(phone))}"})


def e164(phone: str) -> str:
    """`+34 600-111 222` → `+34600111222`: Shopify stores customer phones in E.164."""
    return "".join(ch for ch in phone.strip() if ch.isdigit() or ch == "+")


def search_value(value: str) -> str:
    """A double-quoted search-syntax value: an exact phrase, so `:`, `(`, spaces and
    the tokenizing of emails cannot change what is matched."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def payment_check_query(
    checkout_token: str | None, email: str | None, customer_ids: tuple[str, ...], since: datetime
) -> str | None:
    """The `orders(query:)` string of the live payment check, or None if there is nothing to ask.

    Semantics: an order of this checkout at any time, OR an order created at or after
    `since` (the abandonment) whose email is `email` or whose customer is one of
    `customer_ids` (the customers owning the checkout's phone). Parentheses make the
    grouping explicit; dates are quoted, as Shopify's search syntax requires.
    """
    _require_aware(since)
    alternatives: list[str] = []
    if checkout_token:
        alternatives.append(f"checkout_token:{search_value(checkout_token)}")
    same_person = []
    if email:
        same_person.append(f"email:{search_value(email)}")
    same_person += [f"customer_id:{_numeric_id(gid)}" for gid in customer_ids]
    if same_person:
        since_utc = since.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        alternatives.append(f"(created_at:>='{since_utc}' AND ({' OR '.join(same_person)}))")
    return " OR ".join(alternatives) or None


def orders_operation(query: str, first: int = PAYMENT_CHECK_ORDERS) -> Operation:
    return Operation("OrdersForPaymentCheck", {"first": first, "query": query})


# --- OAuth ------------------------------------------------------------------------------------


class OAuthClient:
    """The three grants of POST /admin/oauth/access_token (contract §2).

    One attempt each, never retried here: a refresh token rotates on use, so
    repeating a refresh whose answer was lost would burn it; the job retries.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        timeout: tuple[float, float] | float = DEFAULT_TIMEOUT,
        session: requests.Session | None = None,
    ):
        self.settings = settings
        self.timeout = timeout
        self._session = session

    def exchange_session_token(self, domain: str, id_token: str, *, now: datetime) -> OfflineToken:
        """Token exchange for an expiring offline token (managed install)."""
        return self._grant(
            domain,
            {
                "grant_type": TOKEN_EXCHANGE_GRANT,
                "subject_token": id_token,
                "subject_token_type": ID_TOKEN_TYPE,
                "requested_token_type": OFFLINE_TOKEN_TYPE,
                "expiring": "1",
            },
            now,
        )

    def exchange_code(self, domain: str, code: str, *, now: datetime) -> OfflineToken:
        """Authorization-code grant; asks for an expiring token (required of public apps)."""
        return self._grant(domain, {"code": code, "expiring": "1"}, now)

    def refresh(self, domain: str, refresh_token: str, *, now: datetime) -> OfflineToken:
        """A new access token and a new refresh token; the old refresh token is spent."""
        return self._grant(domain, {"grant_type": "refresh_token", "refresh_token": refresh_token}, now)

    def _grant(self, domain: str, fields: dict[str, str], now: datetime) -> OfflineToken:
        _require_aware(now)
        url = shop_base_url(self.settings, domain) + "/admin/oauth/access_token"
        body = {"client_id": self.settings.shopify_api_key, "client_secret": self.settings.shopify_api_secret, **fields}
        try:
            response = _post(
                self._session, url, json=body, headers={"Accept": "application/json"}, timeout=self.timeout
            )
        except requests.RequestException as exc:
            raise AdminApiUnavailable(f"token request to {domain} failed: {type(exc).__name__}", attempts=1) from exc
        payload = _json_or_none(response)
        if response.status_code == 200 and isinstance(payload, dict):
            return OfflineToken.from_response(payload, now)
        if 400 <= response.status_code < 500 and response.status_code != 429:
            error = payload.get("error") if isinstance(payload, dict) else None
            detail = (payload or {}).get("error_description") if isinstance(payload, dict) else None
            raise TokenExchangeRejected(
                f"{domain} refused the grant ({response.status_code} {error or ''}): {detail or response.text[:200]}",
                status=response.status_code,
                error=error,
            )
        raise AdminApiUnavailable(
            f"token request to {domain} answered {response.status_code}",
            attempts=1,
            retry_after=retry_after_seconds(response.headers.get("Retry-After")),
        )


# --- GraphQL ----------------------------------------------------------------------------------


@dataclass
class _Outcome:
    data: dict
    uncertain: bool  # an earlier attempt may have been carried out (timeout or 5xx on a mutation)


class _Retry(Exception):
    def __init__(self, reason: str, wait: float | None, uncertain: bool):
        super().__init__(reason)
        self.reason, self.wait, self.uncertain = reason, wait, uncertain


class AdminClient:
    """GraphQL Admin API for one shop and access token. Close it (or use `with`)."""

    def __init__(
        self,
        settings: Settings,
        domain: str,
        access_token: str,
        *,
        sleep: Callable[[float], None] = time.sleep,
        timeout: tuple[float, float] | float = DEFAULT_TIMEOUT,
        policy: RetryPolicy = RetryPolicy(),
        session: requests.Session | None = None,
    ):
        self.domain = clean_shop_domain(domain)
        try:
            version = ApiVersion.coerce_to_version(settings.shopify_api_version)
        except VersionNotFoundError as exc:
            raise ConfigurationError(f"not an Admin API version: {settings.shopify_api_version!r}") from exc
        self.endpoint = version.api_path(shop_base_url(settings, self.domain)) + "/graphql.json"
        self._headers = {
            "X-Shopify-Access-Token": access_token,
            "Content-Type": "application/json",
            "Accept": "application/json",
        }
        self._sleep = sleep
        self.timeout = timeout
        self.policy = policy
        self._own_session = session is None
        self._session = session or requests.Session()

    def close(self) -> None:
        if self._own_session:
            self._session.close()

    def __enter__(self) -> "AdminClient":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # --- high-level calls ---------------------------------------------------------------------

    def shop_info(self) -> ShopInfo:
        shop = self.run(shop_operation())["shop"]
        return ShopInfo(
            name=shop["name"],
            email=shop["email"],
            iana_timezone=shop["ianaTimezone"],
            currency_code=shop["currencyCode"],
            myshopify_domain=shop["myshopifyDomain"],
            primary_domain_host=shop["primaryDomain"]["host"],
        )

    def create_discount_code(self, spec: DiscountSpec) -> CreatedDiscount:
        """Create the single-use code; raises DiscountCodeTaken / AdminUserError on userErrors.

        If an earlier attempt of this call timed out or met a 5xx and the retry then
        finds the code TAKEN, that earlier attempt created it: the code is unguessable,
        so the existing discount is ours and is returned instead of an error.
        """
        operation = discount_create_operation(spec)
        outcome = self._execute(operation)
        payload = next(iter(outcome.data.values()))
        errors = payload.get("userErrors") or []
        if errors:
            if any(error.get("code") == "TAKEN" for error in errors):
                existing = self.find_code(spec.code) if outcome.uncertain else None
                if existing:
                    return CreatedDiscount(existing, spec.code)
                raise DiscountCodeTaken(spec.code, errors)
            raise AdminUserError("; ".join(f"{e.get('code')}: {e.get('message')}" for e in errors), errors)
        node = payload.get("codeDiscountNode")
        if not node:
            raise AdminApiError(f"{operation.name} returned neither a discount nor userErrors")
        return CreatedDiscount(node["id"], spec.code)

    def find_code(self, code: str) -> str | None:
        """The id of the code discount with this code (case-insensitive), or None."""
        node = self.run(find_code_operation(code))["codeDiscountNodeByCode"]
        return node["id"] if node else None

    def customer_ids_by_phone(self, phone: str) -> tuple[str, ...]:
        nodes = self.run(customer_ids_by_phone_operation(phone))["customers"]["nodes"]
        return tuple(node["id"] for node in nodes)

    def orders_for_payment_check(
        self, checkout_token: str | None, email: str | None, phone: str | None, since: datetime
    ) -> list[OrderSummary]:
        """Orders that show the buyer already paid: see `payment_check_query` for the rule.

        Orders cannot be searched by phone, so a phone is first turned into the ids
        of the customers who own it (one more call). Newest first, at most
        PAYMENT_CHECK_ORDERS; an empty list means none was found.
        """
        customer_ids = self.customer_ids_by_phone(phone) if phone else ()
        query = payment_check_query(checkout_token, email, customer_ids, since)
        if query is None:
            return []
        nodes = self.run(orders_operation(query))["orders"]["nodes"]
        return [_order(node) for node in nodes]

    def customers_page(self, after: str | None = None, first: int = CUSTOMERS_PAGE_SIZE) -> CustomersPage:
        connection = self.run(customers_page_operation(after, first))["customers"]
        return CustomersPage(
            customers=tuple(_customer(node) for node in connection["nodes"]),
            has_next_page=bool(connection["pageInfo"]["hasNextPage"]),
            end_cursor=connection["pageInfo"]["endCursor"],
        )

    # --- transport ----------------------------------------------------------------------------

    def run(self, operation: Operation) -> dict:
        """The `data` of a registered document; retries transient failures, raises the rest."""
        return self._execute(operation).data

    def _execute(self, operation: Operation) -> _Outcome:
        document = DOCUMENTS[operation.name]
        mutation = document.lstrip().startswith("mutation")
        body = {"query": document, "variables": operation.variables, "operationName": operation.name}
        uncertain = False
        reason = "no attempt made"
        for attempt in range(1, self.policy.max_attempts + 1):
            try:
                return _Outcome(self._attempt(body), uncertain)
            except _Retry as retry:
                uncertain = uncertain or (mutation and retry.uncertain)
                reason = retry.reason
                wait = self.policy.backoff(attempt) if retry.wait is None else max(0.0, retry.wait)
            if attempt == self.policy.max_attempts:
                break
            if wait > self.policy.max_delay:
                raise AdminApiUnavailable(
                    f"{operation.name} on {self.domain}: {reason}; asked to wait {wait:.1f}s",
                    attempts=attempt,
                    retry_after=wait,
                )
            log.warning(
                "%s on %s: %s; retry %d/%d in %.2fs",
                operation.name,
                self.domain,
                reason,
                attempt,
                self.policy.max_attempts - 1,
                wait,
            )
            self._sleep(wait)
        raise AdminApiUnavailable(
            f"{operation.name} on {self.domain}: gave up after {self.policy.max_attempts} attempts: {reason}",
            attempts=self.policy.max_attempts,
        )

    def _attempt(self, body: dict) -> dict:
        try:
            response = _post(self._session, self.endpoint, json=body, headers=self._headers, timeout=self.timeout)
        except requests.ConnectTimeout as exc:
            raise _Retry(f"connect timeout ({exc.__class__.__name__})", None, uncertain=False) from exc
        except requests.Timeout as exc:
            raise _Retry("read timeout", None, uncertain=True) from exc
        except requests.ConnectionError as exc:
            raise _Retry(f"connection failed ({exc.__class__.__name__})", None, uncertain=True) from exc
        status = response.status_code
        if status == 429:
            wait = retry_after_seconds(response.headers.get("Retry-After"))
            if wait is None:
                body = _json_or_none(response)
                wait = _throttle_wait(body) if isinstance(body, dict) else None
            raise _Retry("HTTP 429", wait, uncertain=False)
        if status >= 500:
            raise _Retry(f"HTTP {status}", retry_after_seconds(response.headers.get("Retry-After")), uncertain=True)
        payload = _json_or_none(response)
        if status == 401:
            raise AdminApiUnauthorized(f"{self.domain} rejected the access token (401)", status=401)
        if status != 200 or not isinstance(payload, dict):
            raise AdminApiError(f"{self.domain} answered {status}: {response.text[:300]}", status=status)
        errors = payload.get("errors")
        if errors:
            if _throttled(errors):
                raise _Retry("THROTTLED", _throttle_wait(payload), uncertain=False)
            messages = "; ".join(str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in _as_list(errors))
            raise AdminApiError(
                f"GraphQL errors from {self.domain}: {messages}", status=status, errors=_as_list(errors)
            )
        data = payload.get("data")
        if not isinstance(data, dict):
            raise AdminApiError(f"{self.domain} answered without data", status=status)
        return data


# --- helpers ----------------------------------------------------------------------------------


def shop_base_url(settings: Settings, domain: str) -> str:
    """`SHOPIFY_ADMIN_BASE_URL` for this shop; plain http only to this machine (tests, demo)."""
    base = settings.shopify_admin_base_url.replace("{shop}", clean_shop_domain(domain)).rstrip("/")
    parts = urlsplit(base)
    if parts.scheme != "https" and not (parts.scheme == "http" and parts.hostname in LOCAL_HOSTS):
        raise ConfigurationError(f"Admin API base URL must be https (http only for 127.0.0.1): {base}")
    return base


def _post(session: requests.Session | None, url: str, **kwargs) -> requests.Response:
    if session is not None:
        return session.post(url, **kwargs)
    with requests.Session() as own:
        return own.post(url, **kwargs)


def _json_or_none(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _as_list(errors: Any) -> list:
    return errors if isinstance(errors, list) else [errors]


def _throttled(errors: Any) -> bool:
    return any(
        isinstance(error, dict) and (error.get("extensions") or {}).get("code") == "THROTTLED"
        for error in _as_list(errors)
    )


def _throttle_wait(payload: dict) -> float | None:
    """Seconds until the leaky bucket holds the requested cost again (contract §5.4)."""
    cost = (payload.get("extensions") or {}).get("cost") or {}
    status = cost.get("throttleStatus") or {}
    try:
        requested = float(cost["requestedQueryCost"])
        available = float(status["currentlyAvailable"])
        rate = float(status["restoreRate"])
    except (KeyError, TypeError, ValueError):
        return None
    if rate <= 0:
        return None
    return max(0.0, (requested - available) / rate)


def _require_aware(value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("times passed to the Shopify client must be timezone-aware")


def _iso(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _numeric_id(gid: str) -> str:
    tail = gid.rsplit("/", 1)[-1]
    if not tail.isdigit():
        raise ValueError(f"not a Shopify global id: {gid!r}")
    return tail


def _time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _order(node: dict) -> OrderSummary:
    money = node["totalPriceSet"]["shopMoney"]
    return OrderSummary(
        id=node["id"],
        name=node["name"],
        created_at=datetime.fromisoformat(node["createdAt"]),
        cancelled_at=_time(node.get("cancelledAt")),
        checkout_token=node.get("checkoutToken"),
        email=node.get("email"),
        financial_status=node.get("displayFinancialStatus"),
        total=Decimal(str(money["amount"])),
        currency_code=money["currencyCode"],
        customer_id=(node.get("customer") or {}).get("id"),
    )


def _customer(node: dict) -> CustomerRecord:
    email = node.get("defaultEmailAddress") or {}
    phone = node.get("defaultPhoneNumber") or {}
    return CustomerRecord(
        id=node["id"],
        first_name=node.get("firstName"),
        last_name=node.get("lastName"),
        email=email.get("emailAddress"),
        email_marketing_state=email.get("marketingState"),
        phone=phone.get("phoneNumber"),
        sms_marketing_state=phone.get("marketingState"),
        created_at=datetime.fromisoformat(node["createdAt"]),
    )
