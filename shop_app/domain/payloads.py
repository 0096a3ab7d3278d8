"""Shopify webhook JSON → domain values. Pure: no I/O, raises PayloadProblem on bad input."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Literal, overload
from urllib.parse import urlsplit

from shop_app.domain.models import Checkout, LineItem, Order
from shop_app.errors import ReclaimError

MAX_LINE_ITEMS = 500
#: Amounts are stored as NUMERIC(14, 2): anything from here up cannot be a real cart.
MAX_AMOUNT = Decimal("1e11")
MAX_QUANTITY = 1_000_000
MAX_URL = 2048
_CENT = Decimal("0.01")
_NAME_ID = re.compile(r"^#?(\d{1,30})$")
#: NUL and the other C0 controls but tab, newline and carriage return; and UTF-16 halves
#: that JSON's \\uD800 escapes can leave unpaired (no database or provider takes them).
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_LONE_SURROGATES = re.compile(r"[\ud800-\udfff]")


class PayloadProblem(ReclaimError, ValueError):
    """The body is JSON but not a usable Shopify resource; the message says why."""


#: A JSON object as it came in a webhook body.
JsonObject = dict[str, Any]


@overload
def parse_time(value: Any, field: str, *, required: Literal[True] = True) -> datetime: ...
@overload
def parse_time(value: Any, field: str, *, required: bool) -> datetime | None: ...


def parse_time(value: Any, field: str, *, required: bool = True) -> datetime | None:
    if value in (None, ""):
        if required:
            raise PayloadProblem(f"{field} is missing")
        return None
    if not isinstance(value, str):
        raise PayloadProblem(f"{field} must be an ISO 8601 string")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise PayloadProblem(f"{field} is not an ISO 8601 time: {value[:40]!r}") from None
    if parsed.tzinfo is None:  # Shopify always sends an offset; assume UTC if not
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00+01:00 has no UTC equivalent
        raise PayloadProblem(f"{field} is out of range: {value[:40]!r}") from None


def _money(value: Any, field: str) -> Decimal:
    """A non-negative amount in cents, below MAX_AMOUNT; anything else is a PayloadProblem."""
    if value in (None, ""):
        return Decimal("0")
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise PayloadProblem(f"{field} is not a decimal amount")
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise PayloadProblem(f"{field} is not a decimal amount") from None
    if not amount.is_finite():
        raise PayloadProblem(f"{field} is not a finite amount")
    if not 0 <= amount < MAX_AMOUNT:
        raise PayloadProblem(f"{field} is out of range (0 to {MAX_AMOUNT:,.0f})")
    return amount.quantize(_CENT, rounding=ROUND_HALF_UP)


def clean_text(text: str) -> str:
    """`text` without control characters or unpaired surrogates (each becomes U+FFFD)."""
    if text.isascii():
        return _CONTROLS.sub("", text)
    return _LONE_SURROGATES.sub("\ufffd", _CONTROLS.sub("", text))


def _text(value: Any, limit: int = 255) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return None
    text = clean_text(str(value)[: limit * 2]).strip()
    return text[:limit] or None


def normal_email(value: Any) -> str | None:
    text = _text(value, 320)
    return text.lower() if text and "@" in text else None


def normal_phone(value: Any) -> str | None:
    """The phone as written (cleaned, at most 64 characters) if it has six digits or more.
    Parsing it into E.164 needs the shop's country: recovery/contacts.py does that at ingest."""
    text = _text(value, 64)
    if not text or sum(c.isdigit() for c in text) < 6:
        return None
    return text


def _url(value: Any) -> str | None:
    """An absolute http(s) URL with a host, or None (the link then points at the shop's cart)."""
    text = _text(value, MAX_URL + 1)
    if not text or len(text) > MAX_URL or any(c.isspace() for c in text):
        return None
    try:
        parts = urlsplit(text)
    except ValueError:  # e.g. an unbalanced IPv6 bracket
        return None
    return text if parts.scheme in ("https", "http") and parts.hostname else None


def _id(value: Any) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value) if 0 <= value < 10**30 else None
    return _text(value, 64)


def load_body(body: str | None) -> Any:
    """A stored webhook body as JSON: a leading byte-order mark is dropped, and a body that is
    not JSON (or nests too deeply) is a PayloadProblem."""
    try:
        return json.loads((body or "null").removeprefix("\ufeff"))
    except ValueError:
        raise PayloadProblem("the stored body is not JSON") from None
    except RecursionError:
        raise PayloadProblem("the stored body nests too deeply") from None


def _require_object(data: Any) -> JsonObject:
    if not isinstance(data, dict):
        raise PayloadProblem("the body must be a JSON object")
    return data


def _first_name(data: JsonObject) -> str | None:
    for source in (data.get("customer"), data.get("billing_address"), data.get("shipping_address")):
        if isinstance(source, dict) and _text(source.get("first_name")):
            return _text(source.get("first_name"), 80)
    return None


def _line_items(raw: Any) -> tuple[LineItem, ...]:
    if raw in (None, []):
        return ()
    if not isinstance(raw, list):
        raise PayloadProblem("line_items must be a list")
    items = []
    for index, item in enumerate(raw[:MAX_LINE_ITEMS]):
        if not isinstance(item, dict):
            raise PayloadProblem(f"line_items[{index}] must be an object")
        quantity = item.get("quantity", 1)
        if isinstance(quantity, bool) or not isinstance(quantity, int) or not 0 <= quantity <= MAX_QUANTITY:
            raise PayloadProblem(f"line_items[{index}].quantity must be a whole number from 0 to {MAX_QUANTITY:,}")
        items.append(
            LineItem(
                title=_text(item.get("presentment_title") or item.get("title"), 255) or "Item",
                quantity=quantity,
                price=_money(item.get("price"), f"line_items[{index}].price"),
                variant_title=_text(item.get("presentment_variant_title") or item.get("variant_title"), 255),
            )
        )
    return tuple(items)


def checkout_id_of(data: JsonObject) -> str | None:
    """The checkout's numeric id: `id` when sent, else the digits of `name` ("#981820079255243537").

    The 2026-07 sample omits `id` but checkouts/delete carries only `id` and `cart_token`,
    so we keep whichever we can to match a later delete.
    """
    explicit = _id(data.get("id"))
    if explicit:
        return explicit
    match = _NAME_ID.match(str(data.get("name") or ""))
    return match.group(1) if match else None


def checkout_token(data: Any) -> str | None:
    """A checkout body's token as parse_checkout reads it; None when it has none. The webhook
    request keeps it with the delivery (WebhookDelivery.subject)."""
    return _text(data.get("token"), 64) if isinstance(data, dict) else None


def parse_checkout(data: Any) -> Checkout:
    data = _require_object(data)
    token = checkout_token(data)
    if not token:
        raise PayloadProblem("token is missing: not a checkout payload")
    customer = data.get("customer") if isinstance(data.get("customer"), dict) else {}
    sms_consent = data.get("buyer_accepts_sms_marketing") is True
    accepts_email = data.get("buyer_accepts_marketing")
    return Checkout(
        token=token,
        shopify_id=checkout_id_of(data),
        cart_token=_text(data.get("cart_token"), 64),
        updated_at=parse_time(data.get("updated_at"), "updated_at"),
        created_at=parse_time(data.get("created_at"), "created_at", required=False),
        email=normal_email(data.get("email")) or normal_email(customer.get("email")),
        phone=normal_phone(data.get("phone"))
        or normal_phone(data.get("sms_marketing_phone"))
        or normal_phone(customer.get("phone")),
        customer_id=_id(customer.get("id")),
        first_name=_first_name(data),
        abandoned_checkout_url=_url(data.get("abandoned_checkout_url")),
        currency=(_text(data.get("presentment_currency") or data.get("currency"), 3) or "USD").upper(),
        total_price=_money(data.get("total_price"), "total_price"),
        line_items=_line_items(data.get("line_items")),
        accepts_email_marketing=accepts_email if isinstance(accepts_email, bool) else None,
        accepts_sms_marketing=sms_consent,
        sms_phone=normal_phone(data.get("sms_marketing_phone")) if sms_consent else None,
        locale=_text(data.get("customer_locale"), 16),
        completed_at=parse_time(data.get("completed_at"), "completed_at", required=False),
    )


def parse_checkout_delete(data: Any) -> tuple[str | None, str | None]:
    """checkouts/delete sends only `id` and `cart_token`: return both."""
    data = _require_object(data)
    checkout_id, cart_token = _id(data.get("id")), _text(data.get("cart_token"), 64)
    if not checkout_id and not cart_token:
        raise PayloadProblem("neither id nor cart_token: cannot tell which checkout was deleted")
    return checkout_id, cart_token


def parse_order(data: Any) -> Order:
    data = _require_object(data)
    order_id = _id(data.get("id"))
    if not order_id:
        raise PayloadProblem("id is missing: not an order payload")
    customer = data.get("customer") if isinstance(data.get("customer"), dict) else {}
    return Order(
        shopify_id=order_id,
        name=_text(data.get("name"), 64),
        created_at=parse_time(data.get("created_at"), "created_at"),
        checkout_token=_text(data.get("checkout_token"), 64),
        cart_token=_text(data.get("cart_token"), 64),
        email=normal_email(data.get("email"))
        or normal_email(data.get("contact_email"))
        or normal_email(customer.get("email")),
        phone=normal_phone(data.get("phone")) or normal_phone(customer.get("phone")),
        customer_id=_id(customer.get("id")),
        financial_status=_text(data.get("financial_status"), 32),
        # An order's total_price is in the shop's currency (`currency`); the buyer's is only in
        # total_price_set.presentment_money. Recovered revenue is reported in the shop's currency.
        currency=(_text(data.get("currency"), 3) or "USD").upper(),
        total_price=_money(data.get("total_price"), "total_price"),
        accepts_marketing=marketing if isinstance(marketing := data.get("buyer_accepts_marketing"), bool) else None,
        status_url=_text(data.get("order_status_url"), 2000),
    )


def parse_privacy_request(data: Any) -> tuple[str | None, str | None, str | None, tuple[str, ...], str | None]:
    """customers/data_request and customers/redact: (customer id, email, phone, order ids, request id)."""
    data = _require_object(data)
    customer = data.get("customer")
    if not isinstance(customer, dict):
        raise PayloadProblem("customer is missing: not a privacy request")
    customer_id, email, phone = (
        _id(customer.get("id")),
        normal_email(customer.get("email")),
        normal_phone(customer.get("phone")),
    )
    if not (customer_id or email or phone):
        raise PayloadProblem("the customer has no id, email or phone to match")
    raw_orders = data.get("orders_to_redact", data.get("orders_requested")) or []
    if not isinstance(raw_orders, list):
        raise PayloadProblem("the order list must be a list")
    orders = tuple(o for o in (_id(v) for v in raw_orders[:10_000]) if o)
    request = data.get("data_request")
    request_id = _id(request.get("id")) if isinstance(request, dict) else None
    return customer_id, email, phone, orders, request_id
