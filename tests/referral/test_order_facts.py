"""What an order keeps for the referral flow (issue 11, migration 0013): its shipping address only as
a keyed hash, its buyer's locale (the language of the referral messages), through the real webhook
routes and worker; the key is gone after customers/redact."""

from __future__ import annotations

import json
import logging

import pytest
from click.testing import CliRunner
from sqlalchemy import JSON, String, select

from shop_app.cli.commands import main
from shop_app.domain.addresses import normal_shipping_address, shipping_address_key
from shop_app.storage.database import transaction
from shop_app.storage.tables import Base, OrderRow

SECRET = "a-secret-of-at-least-sixteen-characters"
STREET = "Calle Mayor, 5 - 2ºB"
ADDRESS = {
    "first_name": "Ana",
    "last_name": "López",
    "address1": STREET,
    "address2": None,
    "city": "Madrid",
    "zip": "28013",
    "country_code": "ES",
    "phone": "+34600111222",
}


# --- the key (pure) -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spelling",
    [
        {"address1": "calle mayor 5", "address2": "2ob", "zip": "28013", "city": "MADRID", "country_code": "es"},
        {
            "address1": "  CALLE  MAYOR,  5 ",
            "address2": "- 2º B",
            "zip": "28 013",
            "city": "madrid",
            "country_code": "ES",
        },
        {"address1": "Calle Mayor 5 2ºB", "zip": "28013", "city": "Madrid.", "country_code": "ES", "first_name": "Bea"},
    ],
    ids=["lower", "spaced-and-punctuated", "one-line-other-name"],
)
def test_spellings_of_one_address_have_one_key(spelling) -> None:
    assert shipping_address_key(SECRET, spelling) == shipping_address_key(SECRET, ADDRESS)


def test_the_key_is_a_keyed_hash_that_does_not_show_the_address() -> None:
    key = shipping_address_key(SECRET, ADDRESS)
    assert key is not None and len(key) == 64 and int(key, 16) >= 0
    assert normal_shipping_address(ADDRESS) == "callemayor52ob|28013|madrid|es"
    assert "mayor" not in key and normal_shipping_address(ADDRESS) not in key
    assert shipping_address_key("another-secret-of-sixteen-chars", ADDRESS) != key  # the secret is the key
    for other in ({"zip": "28014"}, {"city": "Toledo"}, {"country_code": "MX"}, {"address2": "3ºA"}):
        assert shipping_address_key(SECRET, {**ADDRESS, **other}) != key, other


@pytest.mark.parametrize(
    "address", [None, {}, {"city": "Madrid", "zip": "28013", "country_code": "ES"}, {"address1": " ,. "}, "Calle"]
)
def test_no_street_no_key(address) -> None:
    assert shipping_address_key(SECRET, address) is None


# --- through the webhooks -------------------------------------------------------------------------


def _order_row(store, shopify_id: str) -> OrderRow:
    with transaction(store.rt.sessions) as session:
        row = session.scalars(select(OrderRow).where(OrderRow.shopify_id == shopify_id)).one()
        session.expunge(row)
        return row


def _every_text_value(store) -> list[str]:
    """Every text and JSON value of every table, as the database holds it."""
    values = []
    with transaction(store.rt.sessions) as session:
        for table in Base.metadata.sorted_tables:
            columns = [c for c in table.c if isinstance(c.type, String | JSON)]
            for row in session.execute(select(*columns)) if columns else ():
                values += [json.dumps(v) if not isinstance(v, str) else v for v in row if v is not None]
    return values


def test_an_order_keeps_its_address_as_a_key_and_its_locale(store, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    order = store.order(None, "2026-03-02T19:00:00+01:00", id=9001, name="#1001")
    order.update(shipping_address=ADDRESS, billing_address=ADDRESS, customer_locale="es-MX")
    store.deliver("orders/paid", order)

    row = _order_row(store, "9001")
    assert row.shipping_address_key == shipping_address_key(store.rt.settings.secret_key, ADDRESS)
    assert row.locale == "es-MX" and row.refunded_total == 0
    # The address is nowhere: not in a column (the delivery's body is dropped once ingested), not in a log.
    stored = _every_text_value(store)
    assert not [v for v in stored if "Mayor" in v or "mayor" in v or "28013" in v]
    assert not [r for r in caplog.records if "Mayor" in r.getMessage() or "mayor" in r.getMessage()]


def test_an_order_body_without_them_keeps_what_was_stored(store) -> None:
    order = store.order(None, "2026-03-02T19:00:00+01:00", id=9001, name="#1001")
    store.deliver("orders/create", {**order, "shipping_address": ADDRESS, "customer_locale": "es"})
    store.deliver("orders/paid", order)  # the fixture's body says neither
    row = _order_row(store, "9001")
    assert row.locale == "es" and row.shipping_address_key is not None


def test_customers_redact_clears_the_address_key(store) -> None:
    order = store.order(None, "2026-03-02T19:00:00+01:00", id=9001, name="#1001", shipping_address=ADDRESS)
    store.deliver("orders/paid", order)
    assert _order_row(store, "9001").shipping_address_key is not None
    store.deliver(
        "customers/redact",
        {"shop_domain": store.domain, "customer": {"id": 7001, "email": "ana@example.com"}, "orders_to_redact": [9001]},
    )
    row = _order_row(store, "9001")
    assert (row.shipping_address_key, row.email, row.customer_id) == (None, None, None)


# --- the referral messages' language --------------------------------------------------------------


def _review_sent(store, locale: str | None) -> dict:
    """A captured first-time buyer whose order says `locale`; the review step is sent."""
    store.deliver("checkouts/create", store.checkout("c1", "2026-03-02T18:00:00+01:00", email="ana@example.com"))
    order = store.order("c1", "2026-03-02T19:00:00+01:00", id=9001, name="#1001", buyer_accepts_marketing=True)
    if locale is not None:
        order["customer_locale"] = locale
    store.deliver("orders/paid", order)
    store.deliver("orders/fulfilled", {"id": 9001, "updated_at": "2026-03-03T10:00:00Z"})
    store.tick("2026-03-06T10:01:00+00:00")
    result = CliRunner().invoke(main, ["messages", "--shop", store.domain, "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    [review] = [r for r in json.loads(result.output) if r["flow"] == "referral" and r["step"] == "review"]
    assert review["status"] == "sent", review
    return review


@pytest.mark.parametrize(
    ("locale", "spanish"), [("es-MX", True), ("es", True), ("fr-CA", False), (None, False)], ids=str
)
def test_the_referral_messages_speak_the_orders_language(store, locale, spanish) -> None:
    review = _review_sent(store, locale)
    [mail] = [m for m in store.outbox() if m["to"] == "ana@example.com"]
    assert ("Gracias por tu pedido" in mail["subject"]) is spanish, mail["subject"]
    assert ("reseña" in review["body"]) is spanish
    assert ("review" in review["body"]) is not spanish
