"""The variables Reclaim sends with each registered Admin API document (shopify_admin_documents.py).

Pure builders: the GraphQL client runs what they return, and the contract test validates it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shop_app.adapters.shopify_http import require_aware
from shop_app.domain.discounts import CUSTOMER_GID_PREFIX, DiscountSpec
from shop_app.domain.referral_codes import ReferralCodeSpec

#: Orders looked at by one payment check (newest first).
PAYMENT_CHECK_ORDERS = 10
#: Customers matched by one phone number.
PHONE_CUSTOMERS = 5
#: Customers per page when importing (Shopify allows up to 250 per connection).
CUSTOMERS_PAGE_SIZE = 100


@dataclass(frozen=True)
class Operation:
    """A registered document (by operation name) and the variables to send with it."""

    name: str
    variables: dict[str, Any]


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


def referral_code_operation(spec: ReferralCodeSpec) -> Operation:
    """The advocate's shared code (issue 11): every buyer, once each, no usage limit, no end.
    "New customers only" has no code-discount input for guests: see domain/referral_codes.py."""
    variables: dict[str, Any] = {
        "title": spec.title,
        "code": spec.code,
        "startsAt": _iso(spec.starts_at),
        "endsAt": None,
        "usageLimit": None,
        "appliesOncePerCustomer": True,
        "context": {"all": "ALL"},
        "combinesWith": {"productDiscounts": False, "orderDiscounts": False, "shippingDiscounts": False},
        "customerGets": {"value": {"percentage": float(spec.fraction)}, "items": {"all": True}},
    }
    return Operation("DiscountCodeBasicCreate", {"input": variables})


def find_code_title_operation(code: str) -> Operation:
    return Operation("CodeDiscountTitleByCode", {"code": code})


def shop_operation() -> Operation:
    return Operation("ShopInfo", {})


def customers_page_operation(after: str | None = None, first: int = CUSTOMERS_PAGE_SIZE) -> Operation:
    return Operation("CustomersPage", {"first": first, "after": after})


def customer_ids_by_phone_operation(phone: str) -> Operation:
    return Operation("CustomerIdsByPhone", {"first": PHONE_CUSTOMERS, "query": f"phone:{search_value(e164(phone))}"})


def customer_order_count_operation(customer_id: str) -> Operation:
    """Shopify's numberOfOrders for a customer, by its numeric id (as webhooks give it) or its gid."""
    gid = customer_id if customer_id.startswith(CUSTOMER_GID_PREFIX) else CUSTOMER_GID_PREFIX + customer_id
    return Operation("CustomerOrderCount", {"id": gid})


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
    require_aware(since)
    alternatives: list[str] = []
    if checkout_token:
        alternatives.append(f"checkout_token:{search_value(checkout_token)}")
    same_person = []
    if email:
        same_person.append(f"email:{search_value(email)}")
    same_person += [f"customer_id:{_numeric_id(gid)}" for gid in customer_ids]
    if same_person:
        since_utc = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        alternatives.append(f"(created_at:>='{since_utc}' AND ({' OR '.join(same_person)}))")
    return " OR ".join(alternatives) or None


def orders_operation(query: str, first: int = PAYMENT_CHECK_ORDERS) -> Operation:
    return Operation("OrdersForPaymentCheck", {"first": first, "query": query})


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _numeric_id(gid: str) -> str:
    tail = gid.rsplit("/", 1)[-1]
    if not tail.isdigit():
        raise ValueError(f"not a Shopify global id: {gid!r}")
    return tail
