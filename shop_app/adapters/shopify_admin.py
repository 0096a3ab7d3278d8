"""Shopify GraphQL Admin API client: runs the registered documents for one shop and token.

Calls retry THROTTLED / 429 / 5xx / network failures a bounded number of times. From the
`shopifyapi` package we take only the API-version rules (`ApiVersion` and its
`/admin/api/{version}` path); we post with `requests`, because `shopify.GraphQL` has no
timeout and `shopify.Session` keeps the shop and token in process-wide state.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple

import requests
from shopify.api_version import ApiVersion, VersionNotFoundError

from shop_app.adapters.http_errors import retry_after_seconds
from shop_app.adapters.shopify_admin_codes import (
    CreatedDiscount,
    create_discount_code,
    create_discount_codes,
    delete_discount_code,
)
from shop_app.adapters.shopify_admin_documents import DOCUMENTS
from shop_app.adapters.shopify_admin_operations import (
    BATCH_PAGE,
    CHECKS_PER_QUERY,
    CUSTOMERS_PAGE_SIZE,
    Operation,
    PaymentLookup,
    batch_payment_query,
    chunks,
    customer_ids_by_phone_operation,
    customer_order_count_operation,
    customers_by_phones_operation,
    customers_page_operation,
    find_code_operation,
    find_code_title_operation,
    orders_operation,
    paid_by,
    payment_check_query,
    phones_query,
    referral_code_operation,
    shop_operation,
)
from shop_app.adapters.shopify_admin_operations import e164 as _e164
from shop_app.adapters.shopify_http import DEFAULT_TIMEOUT, Timeout, json_or_none, post, shop_base_url
from shop_app.config import Settings
from shop_app.domain.discounts import DiscountSpec
from shop_app.domain.referral_codes import ReferralCodeSpec
from shop_app.errors import (
    AdminApiError,
    AdminApiUnauthorized,
    AdminApiUnavailable,
    AdminUserError,
    ConfigurationError,
    DiscountCodeTaken,
    ReclaimError,
)
from shop_app.shopify.signatures import clean_shop_domain

log = logging.getLogger(__name__)

#: A JSON object as Shopify sends it: the `data` of an answer, or one node of it.
JsonObject = dict[str, Any]


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
        factor: float = 2 ** (attempt - 1)
        return min(self.max_delay, self.base_delay * factor)


@dataclass(frozen=True)
class ShopInfo:
    name: str
    email: str
    iana_timezone: str
    currency_code: str
    myshopify_domain: str
    primary_domain_host: str
    #: The shop's country (ISO 3166 alpha-2), when its address names one.
    country_code: str | None = None


class FoundDiscount(NamedTuple):
    id: str
    title: str | None


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


# --- the client -------------------------------------------------------------------------------


@dataclass
class Outcome:
    data: JsonObject
    uncertain: bool  # an earlier attempt may have been carried out (timeout or 5xx on a mutation)


class _Retry(ReclaimError):
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
        timeout: Timeout = DEFAULT_TIMEOUT,
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

    def __enter__(self) -> AdminClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
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
            country_code=(shop.get("shopAddress") or {}).get("countryCodeV2"),
        )

    def create_discount_code(self, spec: DiscountSpec) -> CreatedDiscount:
        """Create the single-use code (shopify_admin_codes.py); DiscountCodeTaken / AdminUserError on
        userErrors, its own code returned if an uncertain earlier attempt had created it."""
        return create_discount_code(self, spec)

    def create_discount_codes(self, specs: Sequence[DiscountSpec]) -> list[CreatedDiscount | ReclaimError]:
        """Several single-use codes in as few requests as Shopify allows (shopify_admin_codes.py)."""
        return create_discount_codes(self, specs)

    def delete_discount_code(self, discount_id: str) -> bool:
        """Delete a code discount by its gid: True if deleted now, False if Shopify has none of
        that id; AdminUserError on other userErrors (shopify_admin_codes.py)."""
        return delete_discount_code(self, discount_id)

    def create_referral_code(self, spec: ReferralCodeSpec) -> CreatedDiscount:
        """Create an advocate's shared code (issue 11); DiscountCodeTaken whenever Shopify answers
        TAKEN, even after a lost answer: a readable code may be someone else's, so the caller
        decides by the title (`find_code_titled`) whether it is ours."""
        operation = referral_code_operation(spec)
        payload = self.run(operation)["discountCodeBasicCreate"]
        errors = payload.get("userErrors") or []
        if any(error.get("code") == "TAKEN" for error in errors):
            raise DiscountCodeTaken(spec.code, errors)
        if errors:
            raise AdminUserError("; ".join(f"{e.get('code')}: {e.get('message')}" for e in errors), errors)
        node = payload.get("codeDiscountNode")
        if not node:
            raise AdminApiError(f"{operation.name} returned neither a discount nor userErrors")
        return CreatedDiscount(node["id"], spec.code)

    def find_code_titled(self, code: str) -> FoundDiscount | None:
        """The code discount with this code (case-insensitive) and its title, or None."""
        node = self.run(find_code_title_operation(code))["codeDiscountNodeByCode"]
        if not node:
            return None
        return FoundDiscount(node["id"], (node.get("codeDiscount") or {}).get("title"))

    def find_code(self, code: str) -> str | None:
        """The id of the code discount with this code (case-insensitive), or None."""
        node = self.run(find_code_operation(code))["codeDiscountNodeByCode"]
        return node["id"] if node else None

    def customer_ids_by_phone(self, phone: str) -> tuple[str, ...]:
        nodes = self.run(customer_ids_by_phone_operation(phone))["customers"]["nodes"]
        return tuple(node["id"] for node in nodes)

    def customer_order_count(self, customer_id: str) -> int | None:
        """Shopify's count of the customer's orders at the store (numberOfOrders, this order
        included); None when Shopify knows no such customer."""
        customer = self.run(customer_order_count_operation(customer_id))["customer"]
        if customer is None:
            return None
        count = str(customer.get("numberOfOrders"))
        if not count.isdigit():
            raise AdminApiError("CustomerOrderCount: numberOfOrders is not a count")
        return int(count)

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

    def orders_for_payment_checks(self, lookups: Sequence[PaymentLookup]) -> dict[int, list[OrderSummary]]:
        """The batched payment check (issue 13): by each lookup's key, the orders (newest first)
        that `orders_for_payment_check` would count for it, found by one `orders(query:)` per
        CHECKS_PER_QUERY checkouts, their phones first turned into customers the same way."""
        phones = sorted({_e164(lookup.phone) for lookup in lookups if lookup.phone})
        owners: dict[str, tuple[str, ...]] = dict.fromkeys(phones, ())
        for node in self._search(customers_by_phones_operation, phones, phones_query):
            number = _e164((node.get("defaultPhoneNumber") or {}).get("phoneNumber") or "")
            if number in owners:
                owners[number] += (node["id"],)
        asked = [lookup for lookup in lookups if batch_payment_query([lookup], owners)]
        found: dict[int, list[OrderSummary]] = {lookup.key: [] for lookup in lookups}
        text = functools.partial(batch_payment_query, owners=owners)
        nodes = self._search(lambda run, first: orders_operation(text(run) or "", first), asked, text)
        for order in sorted({node["id"]: _order(node) for node in nodes}.values(), key=lambda o: o.created_at):
            for lookup in asked:
                ids = owners.get(_e164(lookup.phone), ()) if lookup.phone else ()
                if paid_by(lookup, ids, order.checkout_token, order.email, order.customer_id, order.created_at):
                    found[lookup.key].insert(0, order)
        return found

    def _search(self, build: Callable[[list[Any], int], Operation], items: list[Any], text: Callable) -> list[Any]:
        """The nodes of one search per run of `items` (bounded in number and length); a run whose
        page comes back full is asked again in halves, so nothing is cut off."""
        nodes: list[Any] = []
        for run in chunks(items, CHECKS_PER_QUERY, text):
            nodes += self._search_run(build, run)
        return nodes

    def _search_run(self, build: Callable[[list[Any], int], Operation], run: list[Any]) -> list[Any]:
        operation = build(run, BATCH_PAGE)
        found = next(iter(self.run(operation).values()))["nodes"]
        if len(found) < BATCH_PAGE or len(run) == 1:
            return list(found)
        half = len(run) // 2
        return self._search_run(build, run[:half]) + self._search_run(build, run[half:])

    def customers_page(self, after: str | None = None, first: int = CUSTOMERS_PAGE_SIZE) -> CustomersPage:
        connection = self.run(customers_page_operation(after, first))["customers"]
        return CustomersPage(
            customers=tuple(_customer(node) for node in connection["nodes"]),
            has_next_page=bool(connection["pageInfo"]["hasNextPage"]),
            end_cursor=connection["pageInfo"]["endCursor"],
        )

    # --- transport ----------------------------------------------------------------------------

    def run(self, operation: Operation) -> JsonObject:
        """The `data` of a registered document; retries transient failures, raises the rest."""
        return self.execute(operation).data

    def execute(self, operation: Operation) -> Outcome:
        """The answer to `operation`, and whether an earlier attempt of it may have been carried out."""
        document = operation.document or DOCUMENTS[operation.name]
        mutation = document.lstrip().startswith("mutation")
        body = {"query": document, "variables": operation.variables, "operationName": operation.name}
        uncertain = False
        reason = "no attempt made"
        for attempt in range(1, self.policy.max_attempts + 1):
            try:
                return Outcome(self._attempt(body), uncertain)
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

    def _attempt(self, body: JsonObject) -> JsonObject:
        try:
            response = post(self._session, self.endpoint, json=body, headers=self._headers, timeout=self.timeout)
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
                answer = json_or_none(response)
                wait = _throttle_wait(answer) if isinstance(answer, dict) else None
            raise _Retry("HTTP 429", wait, uncertain=False)
        if status >= 500:
            raise _Retry(f"HTTP {status}", retry_after_seconds(response.headers.get("Retry-After")), uncertain=True)
        payload = json_or_none(response)
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


# --- reading answers --------------------------------------------------------------------------


def _as_list(errors: object) -> list[Any]:
    return errors if isinstance(errors, list) else [errors]


def _throttled(errors: object) -> bool:
    return any(
        isinstance(error, dict) and (error.get("extensions") or {}).get("code") == "THROTTLED"
        for error in _as_list(errors)
    )


def _throttle_wait(payload: JsonObject) -> float | None:
    """Seconds until the leaky bucket holds the requested cost again (shopify.dev/docs/api/usage/rate-limits)."""
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


def _time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _order(node: JsonObject) -> OrderSummary:
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


def _customer(node: JsonObject) -> CustomerRecord:
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
