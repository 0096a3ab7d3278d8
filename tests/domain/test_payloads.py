"""Shopify webhook JSON → domain values. Small inline payloads only: the official samples are
exercised by the contract tests; here every rule and every kind of bad input gets its own case.
"""

from __future__ import annotations

import contextlib
import copy
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shop_app.domain.models import Checkout, LineItem, Order
from shop_app.domain.payloads import (
    MAX_LINE_ITEMS,
    PayloadProblem,
    parse_checkout,
    parse_checkout_delete,
    parse_order,
)
from tests.examples import examples


def checkout_payload(**overrides: object) -> dict:
    data: dict = {
        "id": 981820079,
        "token": "0f1e2d3c4b5a",
        "cart_token": "cart-abc",
        "name": "#981820079",
        "email": "Ana.Garcia@Example.COM",
        "phone": None,
        "created_at": "2026-03-10T15:10:00+01:00",
        "updated_at": "2026-03-10T15:25:30+01:00",
        "completed_at": None,
        "currency": "EUR",
        "presentment_currency": "EUR",
        "total_price": "59.90",
        "buyer_accepts_marketing": False,
        "buyer_accepts_sms_marketing": False,
        "abandoned_checkout_url": "https://demo-shop.myshopify.com/123/checkouts/0f1e2d3c4b5a/recover?key=k1",
        "customer_locale": "es-ES",
        "customer": {"id": 207119551, "email": "other@example.com", "first_name": "Ana", "phone": "+34 600 111 222"},
        "line_items": [
            {"title": "Linen shirt", "variant_title": "M / Blue", "quantity": 2, "price": "24.95"},
            {"title": "Socks", "quantity": 1, "price": "10.00"},
        ],
    }
    data.update(overrides)
    return data


def order_payload(**overrides: object) -> dict:
    data: dict = {
        "id": 450789469,
        "name": "#1001",
        "created_at": "2026-03-10T18:04:00-05:00",
        "checkout_token": "0f1e2d3c4b5a",
        "cart_token": "cart-abc",
        "email": "Ana.Garcia@Example.com",
        "phone": "+34600111222",
        "financial_status": "paid",
        "currency": "EUR",
        "total_price": "59.90",
        "customer": {"id": 207119551},
    }
    data.update(overrides)
    return data


# -- checkouts: the happy path ------------------------------------------------------------------


def test_checkout_fields() -> None:
    c = parse_checkout(checkout_payload())
    assert isinstance(c, Checkout)
    assert c.token == "0f1e2d3c4b5a"
    assert c.shopify_id == "981820079"
    assert c.cart_token == "cart-abc"
    assert c.updated_at == datetime(2026, 3, 10, 14, 25, 30, tzinfo=UTC)
    assert c.created_at == datetime(2026, 3, 10, 14, 10, tzinfo=UTC)
    assert c.completed_at is None
    assert c.email == "ana.garcia@example.com"
    assert c.phone == "+34 600 111 222"  # as written; E.164 comes at ingest, with the shop's country
    assert c.customer_id == "207119551"
    assert c.first_name == "Ana"
    assert c.currency == "EUR"
    assert c.total_price == Decimal("59.90")
    assert str(c.total_price) == "59.90"
    assert c.line_items == (
        LineItem(title="Linen shirt", quantity=2, price=Decimal("24.95"), variant_title="M / Blue"),
        LineItem(title="Socks", quantity=1, price=Decimal("10.00"), variant_title=None),
    )
    assert c.abandoned_checkout_url == "https://demo-shop.myshopify.com/123/checkouts/0f1e2d3c4b5a/recover?key=k1"
    assert c.accepts_email_marketing is False
    assert c.accepts_sms_marketing is False
    assert c.locale == "es-ES"
    assert c.is_candidate


def test_times_are_converted_to_utc() -> None:
    c = parse_checkout(checkout_payload(updated_at="2026-07-01T23:30:00-07:00"))
    assert c.updated_at == datetime(2026, 7, 2, 6, 30, tzinfo=UTC)
    assert c.updated_at.utcoffset().total_seconds() == 0
    assert c.updated_at.tzinfo is UTC


def test_z_suffix_and_fractional_seconds() -> None:
    c = parse_checkout(checkout_payload(updated_at="2026-03-10T14:25:30.123Z"))
    assert c.updated_at == datetime(2026, 3, 10, 14, 25, 30, 123000, tzinfo=UTC)


def test_odd_offset_zone() -> None:
    c = parse_checkout(checkout_payload(updated_at="2026-03-10T20:10:00+05:45"))  # Nepal
    assert c.updated_at == datetime(2026, 3, 10, 14, 25, tzinfo=UTC)


def test_time_without_offset_is_read_as_utc() -> None:
    assert parse_checkout(checkout_payload(updated_at="2026-03-10T14:25:00")).updated_at == datetime(
        2026, 3, 10, 14, 25, tzinfo=UTC
    )


def test_completed_checkout() -> None:
    c = parse_checkout(checkout_payload(completed_at="2026-03-10T16:00:00+01:00"))
    assert c.completed_at == datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
    assert not c.is_candidate


def test_checkout_id_from_name_when_id_is_absent() -> None:
    data = checkout_payload(name="#123")
    del data["id"]
    assert parse_checkout(data).shopify_id == "123"


def test_checkout_id_from_name_without_hash() -> None:
    data = checkout_payload(name="456", id=None)
    assert parse_checkout(data).shopify_id == "456"


@pytest.mark.parametrize("name", [None, "", "#abc", "Order 123", "#12a", ["#1"]])
def test_no_checkout_id_when_name_has_no_number(name: object) -> None:
    data = checkout_payload(name=name)
    del data["id"]
    assert parse_checkout(data).shopify_id is None


def test_explicit_id_wins_over_name() -> None:
    assert parse_checkout(checkout_payload(id=42, name="#123")).shopify_id == "42"
    assert parse_checkout(checkout_payload(id="77", name="#123")).shopify_id == "77"


def test_emails_are_lower_cased_and_trimmed() -> None:
    assert parse_checkout(checkout_payload(email="  BOB@Shop.IO ")).email == "bob@shop.io"


def test_customer_email_is_the_fallback() -> None:
    c = parse_checkout(checkout_payload(email=None, customer={"email": "Cust@Example.com"}))
    assert c.email == "cust@example.com"


@pytest.mark.parametrize("email", ["", "not-an-email", 42, True, ["a@b.c"], {"a": "b@c"}])
def test_unusable_email_is_none(email: object) -> None:
    assert parse_checkout(checkout_payload(email=email, customer=None)).email is None


def test_phone_sources_are_kept_as_written() -> None:
    # E.164 needs the shop's country (recovery/contacts.py at ingest); the parser only cleans.
    assert parse_checkout(checkout_payload(phone=" +1 (555) 010-9999 ")).phone == "+1 (555) 010-9999"
    sms_only = checkout_payload(phone=None, sms_marketing_phone="+44 7700 900123")
    assert parse_checkout(sms_only).phone == "+44 7700 900123"
    assert parse_checkout(checkout_payload(phone="12", customer=None)).phone is None
    assert parse_checkout(checkout_payload(phone="+49 30 1234567 ext. 8")).phone == "+49 30 1234567 ext. 8"


def test_the_sms_consent_names_its_own_number() -> None:
    both = {"phone": "+34600111222", "sms_marketing_phone": "+34 600 333 444"}
    consented = parse_checkout(checkout_payload(**both, buyer_accepts_sms_marketing=True))
    assert (consented.phone, consented.sms_phone, consented.marketing_phone) == (
        "+34600111222",
        "+34 600 333 444",
        "+34 600 333 444",
    )
    # No consent: the SMS number names nothing, and the contact phone stays the phone.
    unticked = parse_checkout(checkout_payload(**both, buyer_accepts_sms_marketing=False))
    assert (unticked.sms_phone, unticked.marketing_phone) == (None, "+34600111222")
    # Consent without a number (older payloads): the contact phone is the consented one.
    plain = parse_checkout(checkout_payload(phone="+34600111222", buyer_accepts_sms_marketing=True))
    assert (plain.sms_phone, plain.marketing_phone) == (None, "+34600111222")


def test_first_name_falls_back_to_addresses() -> None:
    data = checkout_payload(customer={"id": 1}, billing_address={"first_name": " Lucía "})
    assert parse_checkout(data).first_name == "Lucía"
    data = checkout_payload(customer=None, shipping_address={"first_name": "Bea"})
    assert parse_checkout(data).first_name == "Bea"


def test_marketing_consent_flags() -> None:
    c = parse_checkout(checkout_payload(buyer_accepts_marketing=True, buyer_accepts_sms_marketing=True))
    assert (c.accepts_email_marketing, c.accepts_sms_marketing) == (True, True)
    c = parse_checkout(checkout_payload(buyer_accepts_marketing="yes", buyer_accepts_sms_marketing="true"))
    assert (c.accepts_email_marketing, c.accepts_sms_marketing) == (None, False)
    data = checkout_payload()
    del data["buyer_accepts_marketing"], data["buyer_accepts_sms_marketing"]
    c = parse_checkout(data)
    assert (c.accepts_email_marketing, c.accepts_sms_marketing) == (None, False)


def test_presentment_currency_wins_and_is_upper_cased() -> None:
    assert parse_checkout(checkout_payload(currency="USD", presentment_currency="eur")).currency == "EUR"
    assert parse_checkout(checkout_payload(currency="gbp", presentment_currency=None)).currency == "GBP"
    assert parse_checkout(checkout_payload(currency=None, presentment_currency=None)).currency == "USD"


def test_decimal_strings_stay_exact() -> None:
    c = parse_checkout(
        checkout_payload(total_price="0.30", line_items=[{"title": "a", "quantity": 3, "price": "0.10"}])
    )
    assert c.total_price == Decimal("0.30")
    assert c.line_items[0].price * 3 == c.total_price  # no float rounding
    assert isinstance(c.total_price, Decimal)


def test_missing_amounts_are_zero() -> None:
    c = parse_checkout(checkout_payload(total_price=None, line_items=[{"title": "x"}]))
    assert c.total_price == Decimal("0")
    assert c.line_items == (LineItem("x", 1, Decimal("0")),)


def test_presentment_titles_win() -> None:
    item = {
        "title": "Shirt",
        "presentment_title": "Camisa",
        "variant_title": "M",
        "presentment_variant_title": "Mediana",
    }
    c = parse_checkout(checkout_payload(line_items=[item]))
    assert (c.line_items[0].title, c.line_items[0].variant_title) == ("Camisa", "Mediana")


def test_untitled_item() -> None:
    assert parse_checkout(checkout_payload(line_items=[{"quantity": 1, "price": "1"}])).line_items[0].title == "Item"


def test_line_items_absent_or_empty() -> None:
    assert parse_checkout(checkout_payload(line_items=[])).line_items == ()
    assert parse_checkout(checkout_payload(line_items=None)).line_items == ()


def test_line_items_are_capped() -> None:
    items = [{"title": f"i{n}", "quantity": 1, "price": "1"} for n in range(MAX_LINE_ITEMS + 10)]
    assert len(parse_checkout(checkout_payload(line_items=items)).line_items) == MAX_LINE_ITEMS


# -- checkouts: refused --------------------------------------------------------------------------


def problem(data: object, parser=parse_checkout) -> str:
    with pytest.raises(PayloadProblem) as excinfo:
        parser(data)
    return str(excinfo.value)


@pytest.mark.parametrize("token", [None, "", "   ", [], {"t": 1}, True])
def test_missing_token(token: object) -> None:
    assert "token" in problem(checkout_payload(token=token))


def test_token_absent() -> None:
    data = checkout_payload()
    del data["token"]
    assert "token" in problem(data)


@pytest.mark.parametrize("body", [None, [], "x", 42, [checkout_payload()]])
def test_body_must_be_an_object(body: object) -> None:
    assert problem(body) == "the body must be a JSON object"
    assert problem(body, parse_order) == "the body must be a JSON object"
    assert problem(body, parse_checkout_delete) == "the body must be a JSON object"


@pytest.mark.parametrize(
    "overrides, mentions",
    [
        ({"updated_at": None}, "updated_at"),
        ({"updated_at": ""}, "updated_at"),
        ({"updated_at": "yesterday"}, "updated_at"),
        ({"updated_at": 1741616730}, "updated_at"),
        ({"updated_at": ["2026-03-10T14:25:00Z"]}, "updated_at"),
        ({"updated_at": "2026-02-30T10:00:00Z"}, "updated_at"),
        ({"created_at": "soon"}, "created_at"),
        ({"completed_at": {"at": "now"}}, "completed_at"),
        ({"line_items": "2 shirts"}, "line_items"),
        ({"line_items": {"title": "x"}}, "line_items"),
        ({"line_items": ["shirt"]}, "line_items[0]"),
        ({"line_items": [{"title": "a", "quantity": 1}, None]}, "line_items[1]"),
        ({"line_items": [{"title": "x", "quantity": "2"}]}, "line_items[0].quantity"),
        ({"line_items": [{"title": "x", "quantity": 2.0}]}, "line_items[0].quantity"),
        ({"line_items": [{"title": "x", "quantity": True}]}, "line_items[0].quantity"),
        ({"line_items": [{"title": "x", "quantity": -1}]}, "line_items[0].quantity"),
        ({"line_items": [{"title": "x", "quantity": None}]}, "line_items[0].quantity"),
        ({"line_items": [{"title": "x", "quantity": 1, "price": "ten"}]}, "line_items[0].price"),
        ({"line_items": [{"title": "x", "quantity": 1, "price": [1]}]}, "line_items[0].price"),
        ({"total_price": "abc"}, "total_price"),
        ({"total_price": "NaN"}, "total_price"),
        ({"total_price": "Infinity"}, "total_price"),
        ({"total_price": {"amount": "1"}}, "total_price"),
        ({"total_price": True}, "total_price"),
        # Out of range for the NUMERIC(14, 2) columns, or not an amount at all: refused, not a crash.
        ({"total_price": "1e12"}, "total_price is out of range"),
        ({"total_price": 1e308}, "total_price is out of range"),
        ({"total_price": "-5.00"}, "total_price is out of range"),
        ({"line_items": [{"title": "x", "quantity": 1, "price": 1e308}]}, "line_items[0].price is out of range"),
        ({"line_items": [{"title": "x", "quantity": 10**12, "price": "1"}]}, "line_items[0].quantity"),
    ],
)
def test_bad_fields_are_payload_problems(overrides: dict, mentions: str) -> None:
    assert mentions in problem(checkout_payload(**overrides))


@pytest.mark.parametrize("when", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_times_at_the_edge_of_the_calendar_are_payload_problems(when: str) -> None:
    # Converting these to UTC leaves the datetime range: a PayloadProblem, not an OverflowError.
    assert "updated_at" in problem(checkout_payload(updated_at=when))


def test_amounts_are_rounded_to_cents() -> None:
    c = parse_checkout(checkout_payload(total_price="19.995", line_items=[{"title": "x", "price": 0.1}]))
    assert (c.total_price, c.line_items[0].price) == (Decimal("20.00"), Decimal("0.10"))
    assert parse_checkout(checkout_payload(total_price="99999999999.99")).total_price == Decimal("99999999999.99")


def test_nul_controls_and_lone_surrogates_are_cleaned() -> None:
    # json.loads turns "\u0000" and "\ud800" escapes into these; no database takes them.
    c = parse_checkout(
        checkout_payload(
            token="tok\x00en",
            customer={"first_name": "An\x00a\ud800", "id": 7},
            line_items=[{"title": "Shirt\x07\udfff", "quantity": 1, "price": "1"}],
        )
    )
    assert (c.token, c.first_name, c.line_items[0].title) == ("token", "Ana\ufffd", "Shirt\ufffd")
    assert all(text.encode("utf-8") for text in (c.token, c.first_name, c.line_items[0].title))


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "/relative/recover",
        "https://",
        "https://shop.example/a b",
        "ftp://shop.example/x",
        "https://[::1/x",
        "https://shop.example/" + "x" * 2048,
        12345,
    ],
)
def test_a_checkout_url_that_is_not_one_is_dropped(url: object) -> None:
    assert parse_checkout(checkout_payload(abandoned_checkout_url=url)).abandoned_checkout_url is None


def test_a_checkout_url_is_kept() -> None:
    url = "https://shop.example/123/checkouts/ac/abc/recover?key=k&locale=es"
    assert parse_checkout(checkout_payload(abandoned_checkout_url=url)).abandoned_checkout_url == url


@pytest.mark.parametrize("customer_id", [10**40, -3])
def test_an_id_no_shop_can_have_is_none(customer_id: int) -> None:
    assert parse_checkout(checkout_payload(customer={"id": customer_id})).customer_id is None


@pytest.mark.parametrize("customer", [None, "x", [], 5])
def test_non_object_customer_is_ignored(customer: object) -> None:
    c = parse_checkout(checkout_payload(customer=customer))
    assert c.customer_id is None
    assert c.email == "ana.garcia@example.com"


# -- orders --------------------------------------------------------------------------------------


def test_order_fields() -> None:
    o = parse_order(order_payload())
    assert isinstance(o, Order)
    assert o.shopify_id == "450789469"
    assert o.name == "#1001"
    assert o.created_at == datetime(2026, 3, 10, 23, 4, tzinfo=UTC)
    assert o.checkout_token == "0f1e2d3c4b5a"
    assert o.cart_token == "cart-abc"
    assert o.email == "ana.garcia@example.com"
    assert o.phone == "+34600111222"
    assert o.customer_id == "207119551"
    assert o.financial_status == "paid"
    assert o.currency == "EUR"
    assert o.total_price == Decimal("59.90")


def test_an_orders_total_is_in_the_shops_currency() -> None:
    order = parse_order(order_payload(currency="eur", presentment_currency="USD", total_price="50.00"))
    assert (order.currency, order.total_price) == ("EUR", Decimal("50.00"))


def test_order_email_fallbacks_are_lower_cased() -> None:
    assert parse_order(order_payload(email=None, contact_email="Contact@X.io")).email == "contact@x.io"
    o = parse_order(order_payload(email="", contact_email=None, customer={"email": "C@Y.io", "id": 9}))
    assert (o.email, o.customer_id) == ("c@y.io", "9")


def test_order_without_id() -> None:
    data = order_payload()
    del data["id"]
    assert "id" in problem(data, parse_order)
    assert "id" in problem(order_payload(id=None), parse_order)
    assert "id" in problem(order_payload(id=True), parse_order)


@pytest.mark.parametrize(
    "overrides, mentions",
    [
        ({"created_at": None}, "created_at"),
        ({"created_at": "last week"}, "created_at"),
        ({"created_at": 12345}, "created_at"),
        ({"total_price": "1,000.00"}, "total_price"),
        ({"total_price": []}, "total_price"),
    ],
)
def test_bad_order_fields(overrides: dict, mentions: str) -> None:
    assert mentions in problem(order_payload(**overrides), parse_order)


# -- checkouts/delete ------------------------------------------------------------------------------


def test_delete_with_both() -> None:
    assert parse_checkout_delete({"id": 981820079, "cart_token": "cart-abc"}) == ("981820079", "cart-abc")


def test_delete_with_one() -> None:
    assert parse_checkout_delete({"id": "981820079"}) == ("981820079", None)
    assert parse_checkout_delete({"cart_token": "cart-abc"}) == (None, "cart-abc")


@pytest.mark.parametrize("data", [{}, {"id": None, "cart_token": ""}, {"id": True, "cart_token": []}, {"token": "t"}])
def test_delete_with_neither(data: dict) -> None:
    assert "neither" in problem(data, parse_checkout_delete)


# -- robustness: any JSON in any field gives a value or a PayloadProblem --------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)
TIMES = st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat())

CHECKOUT_KEYS = sorted(checkout_payload()) + ["sms_marketing_phone", "billing_address", "shipping_address"]
ORDER_KEYS = sorted(order_payload()) + ["contact_email"]


@settings(max_examples=examples(3), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(CHECKOUT_KEYS), JSON | TIMES, max_size=4))
def test_checkout_never_raises_anything_but_payload_problem(changes: dict) -> None:
    data = copy.deepcopy(checkout_payload())
    data.update(changes)
    try:
        c = parse_checkout(data)
    except PayloadProblem:
        return
    assert c.updated_at.utcoffset().total_seconds() == 0
    assert c.email is None or c.email == c.email.lower()


@settings(max_examples=examples(2), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(ORDER_KEYS), JSON | TIMES, max_size=4))
def test_order_never_raises_anything_but_payload_problem(changes: dict) -> None:
    data = copy.deepcopy(order_payload())
    data.update(changes)
    try:
        o = parse_order(data)
    except PayloadProblem:
        return
    assert o.created_at.utcoffset().total_seconds() == 0


@settings(max_examples=examples(2), deadline=None)
@given(st.lists(JSON, max_size=3))
def test_line_items_never_raise_anything_but_payload_problem(items: list) -> None:
    with contextlib.suppress(PayloadProblem):
        parse_checkout(checkout_payload(line_items=items))
