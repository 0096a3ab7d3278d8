"""The variables Reclaim sends with each registered Admin API document (shopify_admin_documents.py).

Pure builders: the GraphQL client runs what they return, and the contract test validates it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shop_app.adapters.shopify_admin_documents import DISCOUNT_CODES_CREATE, discount_codes_create
from shop_app.adapters.shopify_http import require_aware
from shop_app.domain.discounts import CUSTOMER_GID_PREFIX, DiscountSpec
from shop_app.domain.referral_codes import ReferralCodeSpec

#: Orders looked at by one payment check (newest first).
PAYMENT_CHECK_ORDERS = 10
#: Customers matched by one phone number.
PHONE_CUSTOMERS = 5
#: The batched payment check (issue 13) puts at most this many checkouts (or phones) in one search
#: and keeps each search string under MAX_QUERY_CHARS: Shopify documents no limit on either, so
#: these are our own conservative bounds; a batch with more is asked in several searches.
CHECKS_PER_QUERY = 20
MAX_QUERY_CHARS = 4000
#: Orders (customers) one search of the batched check reads at most; a full page is asked again
#: in halves, so no match is cut off. Kept low enough for the query's cost (about 4 points a node).
BATCH_PAGE = 100
#: Customers per page when importing (Shopify allows up to 250 per connection).
CUSTOMERS_PAGE_SIZE = 100
#: What joins the alternatives of a search.
OR = " OR "


@dataclass(frozen=True)
class Operation:
    """A registered document (by operation name) and the variables to send with it; `document`: the
    text of DiscountCodesCreate, the one document whose shape depends on the call (its builder is
    in shopify_admin_documents.py, validated by the contract test like the registered ones)."""

    name: str
    variables: dict[str, Any]
    document: str | None = None


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


def discount_codes_operation(specs: list[DiscountSpec]) -> Operation:
    """Several codes in one request (DiscountCodesCreate): each `discount_create_operation`'s input
    under its own variable, `c0` for specs[0] and so on."""
    singles = [discount_create_operation(spec) for spec in specs]
    document = discount_codes_create(tuple(single.name for single in singles))
    variables = {f"c{n}": single.variables["input"] for n, single in enumerate(singles)}
    return Operation(DISCOUNT_CODES_CREATE, variables, document)


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


def discount_delete_operation(discount_id: str) -> Operation:
    """Delete a code discount by its gid (never by its code: an advocate's holds their name)."""
    return Operation("DiscountCodeDelete", {"id": discount_id})


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


@dataclass(frozen=True)
class PaymentLookup:
    """One checkout of a batched payment check: `key` names it in the answer."""

    key: int
    checkout_token: str | None
    email: str | None
    phone: str | None
    since: datetime


def phones_query(phones: list[str]) -> str:
    """`phone:"+1…" OR phone:"+2…"`: the customers owning any of `phones` (E.164)."""
    return OR.join(f"phone:{search_value(phone)}" for phone in phones)


def customers_by_phones_operation(phones: list[str], first: int) -> Operation:
    return Operation("CustomerIdsByPhone", {"first": first, "query": phones_query(phones)})


def batch_payment_query(lookups: list[PaymentLookup], owners: dict[str, tuple[str, ...]]) -> str | None:
    """One `orders(query:)` string for several checkouts: each checkout's `payment_check_query`
    in parentheses, OR'ed (`owners`: the customer ids of each E.164 phone). None: nothing to ask."""
    parts = []
    for lookup in lookups:
        ids = owners.get(e164(lookup.phone), ()) if lookup.phone else ()
        part = payment_check_query(lookup.checkout_token, lookup.email, ids, lookup.since)
        if part is not None:
            parts.append(f"({part})")
    return OR.join(parts) or None


def chunks(items: list[Any], size: int, text: Any) -> list[list[Any]]:
    """`items` in runs of at most `size` whose `text(run)` stays within MAX_QUERY_CHARS (an item
    alone may exceed it: it is asked on its own). `text(run)` is its items' own texts joined by
    " OR " (phones_query, batch_payment_query), so a run's length is summed, not rebuilt per item."""
    runs: list[list[Any]] = []
    length = 0
    for item in items:
        own = len(text([item]) or "")
        if runs and len(runs[-1]) < size and length + len(OR) + own <= MAX_QUERY_CHARS:
            runs[-1].append(item)
            length += len(OR) + own
        else:
            runs.append([item])
            length = own
    return runs


def paid_by(lookup: PaymentLookup, owners: tuple[str, ...], order_token: str | None, email: str | None,
            customer: str | None, created_at: datetime) -> bool:  # fmt: skip
    """Whether an order found by a batched search is this checkout's (`payment_check_query`'s rule:
    the checkout's order at any time, or one since `since` of the same email or phone's customer)."""
    if lookup.checkout_token and order_token == lookup.checkout_token:
        return True
    if created_at < lookup.since.replace(microsecond=0):  # the search compares whole seconds
        return False
    same_email = bool(lookup.email and email and email.casefold() == lookup.email.casefold())
    return same_email or (customer is not None and customer in owners)


def orders_operation(query: str, first: int = PAYMENT_CHECK_ORDERS) -> Operation:
    return Operation("OrdersForPaymentCheck", {"first": first, "query": query})


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _numeric_id(gid: str) -> str:
    tail = gid.rsplit("/", 1)[-1]
    if not tail.isdigit():
        raise ValueError(f"not a Shopify global id: {gid!r}")
    return tail
