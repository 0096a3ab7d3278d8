"""A shop's own text that fails at send time (stored before the checks it would fail now, or
failing only with this customer's cart) costs the customer nothing: the default text goes out
and the message records why, without the customer's data (issue 9, item 3)."""

from __future__ import annotations

import time

import pytest

from shop_app.shopify.shops import get_shop
from shop_app.storage.database import transaction
from shop_app.storage.tables import MessageTemplate

ABANDONED = "2026-03-02T19:00:00+01:00"
FIRST_DUE = "2026-03-02T19:00:00+00:00"
CUSTOMER = {"id": 7001, "email": "ana@example.com", "phone": "+34600111222", "first_name": "Ana", "last_name": "Ruiz"}
PERSONAL = ("ana@example.com", "+34600111222", "Ana", "Ruiz", "Mug no.")
SHOWN = "{{ shop_name }} {{ recovery_link }} {{ unsubscribe_link }} "


def cart(count: int) -> list[dict]:
    return [{"title": f"Mug no. {n}", "variant_title": None, "quantity": 1, "price": "18.00", "line_price": "18.00"}
            for n in range(1, count + 1)]  # fmt: skip


def store_text_unchecked(store, body: str) -> None:
    """As a text saved before today's checks would be: written to the table, not through save_template."""
    with transaction(store.rt.sessions) as session:
        shop = get_shop(session, store.domain)
        session.add(MessageTemplate(shop_id=shop.id, step="first", channel="email", language="en",
                                    subject="{{ shop_name }}: your cart", body=SHOWN + body, html=None))  # fmt: skip


@pytest.mark.parametrize(
    "body, why",
    [
        ("{{ cart_items|join(cart_items|join(cart_items|join(', '))) }}",
         "the template builds more than 250000 characters of text while it renders"),
        ("{{ first_name|truncate(-5) }}", "truncate needs a length of at least 3"),
        ("{{ 100 // (more_items - 480) }}", "the template fails to render: a division by zero (ZeroDivisionError)"),
        ("{{ cart_items[first_name] }}",  # Jinja's own message would quote the customer's name
         "the template fails to render: a field, item or attribute that is not there (UndefinedError)"),
    ],
)  # fmt: skip
def test_a_failing_shop_text_is_replaced_by_the_default_and_the_reason_is_recorded(store, body, why):
    store_text_unchecked(store, body)
    store.deliver("checkouts/create", store.checkout("c1", ABANDONED, line_items=cart(500), customer=CUSTOMER))
    started = time.perf_counter()
    store.tick(FIRST_DUE)
    assert time.perf_counter() - started < 5

    email = store.message(step="first", channel="email")
    assert email["status"] == "sent", email
    [sent] = [m for m in store.outbox() if m["channel"] == "email"]
    assert sent["subject"] == "Demo Shop: you left something in your cart"  # the default, not the shop's
    assert sent["body"].startswith("Hi Ana,")
    assert sent["body"].count("- 1 x Mug no.") == 20 and "- and 480 more\n" in sent["body"]
    assert email["reason"].startswith("the shop's own email text could not be used (")
    assert why in email["reason"] and email["reason"].endswith("; the default text was sent")
    assert not [data for data in PERSONAL if data in email["reason"]]


def test_a_shop_text_that_renders_is_still_sent_with_a_large_cart(store):
    store_text_unchecked(store, "{% for item in cart_items %}{{ item.title }};{% endfor %} and {{ more_items }} more")
    store.deliver("checkouts/create", store.checkout("c1", ABANDONED, line_items=cart(500), customer=CUSTOMER))
    store.tick(FIRST_DUE)
    email = store.message(step="first", channel="email")
    assert (email["status"], email["reason"]) == ("sent", None)
    [sent] = [m for m in store.outbox() if m["channel"] == "email"]
    assert sent["subject"] == "Demo Shop: your cart"
    assert sent["body"].endswith("Mug no. 19;Mug no. 20; and 480 more")
