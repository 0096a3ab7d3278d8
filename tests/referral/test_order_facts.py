"""What an order keeps for the referral flow (issue 11, migration 0013): its shipping address only as
a keyed hash, and its buyer's locale, through the real webhook routes and worker; the key is gone
after customers/redact."""

from __future__ import annotations

import json
import logging

import pytest
from sqlalchemy import JSON, String, select

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
