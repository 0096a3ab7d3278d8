"""customers/redact and the webhook bodies we keep (refused ones, and ones not yet ingested).

The database first picks the bodies that may name the customer, and only those are read and
tested in Python (erasure.names_customer: an address in any spelling, as written or in a JSON
string once its escapes are read; the customer id or an order id as a JSON value). The database's
pick must never leave out a body the Python test would drop: a mention only in a nested field, an
email in another case, a number with other separators, an address or an id written with JSON
escapes. Everything goes through the webhook route and the worker; the property test's oracle
reads the document with json.loads and Addresses.scrub_json.
"""

from __future__ import annotations

import json
import re
import sys
import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from shop_app.compliance import erasure
from shop_app.compliance.customer_data import Customer
from shop_app.domain import addresses as address_rules
from shop_app.domain.addresses import Addresses
from shop_app.storage.database import transaction
from shop_app.storage.tables import WebhookDelivery
from tests.examples import examples
from tests.spellings import email_spellings, phone_spellings

ANA = {"id": 7001, "email": "ana.kovac@example.com", "phone": "+34600111222"}
CREATED = "2026-03-02T19:00:00+01:00"


def kept_bodies(store) -> dict[str, str | None]:
    """Each delivery's body by webhook id (None once dropped)."""
    with transaction(store.rt.sessions) as session:
        return {
            webhook_id: body
            for webhook_id, body in session.execute(select(WebhookDelivery.webhook_id, WebhookDelivery.body))
        }


def post_kept(store, topic: str, body: str) -> str:
    """Post a body the app keeps (refused at the route or by the ingest job); its webhook id."""
    webhook_id = str(uuid.uuid4())
    response = store.post(topic, None, body=body.encode(), webhook_id=webhook_id)
    assert response.status_code in (200, 400), response.get_json()
    store.drain()
    return webhook_id


def unusable_order(**fields) -> str:
    """An orders/create body the ingest refuses (its total is no amount), so it is kept."""
    return json.dumps({"id": 99001, "created_at": CREATED, "total_price": "lots", **fields}, ensure_ascii=False)


def noting(written: str) -> str:
    """An unusable order whose note is `written` as it stands in the JSON text (escapes and all)."""
    return unusable_order(note="X").replace('"X"', f'"{written}"')


def nested(written: str, depth: int = 100_000) -> str:
    """A JSON string `written` inside `depth` arrays: too deep for json.loads (refused at the route)."""
    return "[" * depth + f'"{written}"' + "]" * depth


def test_a_kept_body_naming_the_customer_anywhere_in_any_spelling_loses_it_and_others_keep_theirs(store):
    posted = {
        "shipping phone, other spelling": post_kept(
            store, "orders/create", unusable_order(shipping_address={"city": "Madrid", "phone": "0034 600-111 222"})
        ),
        "email in capitals, in a list": post_kept(
            store,
            "orders/create",
            unusable_order(note_attributes=[{"name": "gift for", "value": "ANA.Kovac@Example.COM"}]),
        ),
        # Not JSON (refused at the route): a no-break space and a line break inside the number.
        "number split by Unicode spaces": post_kept(store, "checkouts/update", '{"note": "call +34 600\u00a0111\n222"'),
        # The customer id as a JSON string with an escaped digit: json.loads reads "7001".
        "escaped customer id": post_kept(
            store, "orders/create", unusable_order(customer={"id": "X"}).replace('"X"', '"70\\u00301"')
        ),
        "the order to redact": post_kept(store, "orders/paid", unusable_order(id=5551)),
    }
    # JSON escapes: json.loads reads Ana's number and email, the text as written holds neither.
    escaped = {
        "number split by an escaped line break": post_kept(store, "orders/create", unusable_order(note="600\n111 222")),
        "number split by escaped no-break spaces": post_kept(store, "orders/create", noting("600\\u00a0111\\u00a0222")),
        "number with escaped digits": post_kept(store, "orders/create", noting("\\u0036\\u00300 111 222")),
        "email with an escaped @": post_kept(store, "orders/create", noting("ana.kovac\\u0040example.com")),
        "email with an escaped Kelvin sign": post_kept(store, "orders/create", noting("ana.\\u212aovac@example.com")),
        "email with every letter escaped": post_kept(
            store, "orders/create", noting("".join(f"\\u{ord(c):04x}" for c in "ANA.KOVAC@EXAMPLE.COM"))
        ),
        "escaped number 100,000 arrays deep": post_kept(store, "checkouts/update", nested("600\\n111\\n222")),
    }
    posted |= escaped
    others = {
        # Ana's id, order id and number as other values: the Python test keeps these.
        "another customer": post_kept(
            store,
            "orders/create",
            unusable_order(
                id=99002, customer={"id": 7002, "email": "bea@example.com"}, note="ref 7001/5551, call 600111223"
            ),
        ),
        "another order id": post_kept(store, "orders/create", unusable_order(id=55510, order_number=5551)),
        "customer id only in a checkout's order": post_kept(store, "checkouts/update", '{"order_id": 7001, "x": ['),
        # Escaped as above, but other numbers and emails: found_in reads them as no address of Ana's.
        "another number, escaped": post_kept(store, "orders/create", noting("600\\n111\\u00a0223")),
        "a longer number, escaped digits": post_kept(store, "orders/create", noting("\\u0036\\u00300111\\n2223")),
        "another email, escaped @": post_kept(store, "orders/create", noting("ana.kovac\\u0040example.co")),
        "a longer email, escaped K": post_kept(store, "orders/create", noting("ana.\\u212aovac@example.com.es")),
        "another email, 100,000 arrays deep": post_kept(store, "checkouts/update", nested("ana\\u0040example.com")),
        "Ana's number with a backslash and n": post_kept(store, "orders/create", noting("600\\\\n111 222")),
    }
    before = kept_bodies(store)
    assert all(before[webhook_id] for webhook_id in (posted | others).values())  # all kept: the test can fail
    as_written = Addresses.of([ANA["email"], ANA["phone"]])
    assert not any(as_written.found_in(before[webhook_id] or "") for webhook_id in escaped.values())

    redact = {"shop_id": 1, "shop_domain": store.domain, "customer": ANA, "orders_to_redact": [5551]}
    store.deliver("customers/redact", redact)

    after = kept_bodies(store)
    assert {name for name, webhook_id in posted.items() if after[webhook_id] is not None} == set()
    assert {name: after[webhook_id] for name, webhook_id in others.items()} == {
        name: before[webhook_id] for name, webhook_id in others.items()
    }


def test_a_redact_whose_customer_id_is_no_number_reads_every_kept_body_however_deep(store):
    """An id that is not all digits may be any JSON value, so every kept body is read (the fuzz test
    found this way to a body too deep for json.loads): the one naming Ana loses it, the other keeps it."""
    # 700 deep json.loads reads, and Addresses.scrub_json then recurses too deep; 3,000 deep neither.
    ana = [post_kept(store, "checkouts/update", nested("ana.kovac\\u0040example.com", n)) for n in (700, 3_000)]
    bea = post_kept(store, "checkouts/update", nested("bea\\u0040example.com", depth=3_000))
    customer = {"id": "x" * 5_000, "email": ANA["email"]}
    store.deliver("customers/redact", {"shop_id": 1, "shop_domain": store.domain, "customer": customer})
    after = kept_bodies(store)
    assert [after[webhook_id] for webhook_id in ana] == [None, None]
    assert after[bea] is not None


def test_a_redact_naming_only_a_number_drops_the_body_with_its_digits_escaped(store):
    """No customer id to look for (whose escaped digits the database looks for too): the number's."""
    ana = post_kept(store, "orders/create", noting("\\u0036\\u00300\\n111\\u0020222"))
    bea = post_kept(store, "orders/create", noting("\\u0036\\u00300\\n111\\u0020223"))
    store.deliver("customers/redact", {"shop_id": 1, "shop_domain": store.domain, "customer": {"phone": ANA["phone"]}})
    after = kept_bodies(store)
    assert after[ana] is None
    assert after[bea] is not None


def test_a_redact_that_names_nothing_we_hold_keeps_every_body(store):
    webhook_id = post_kept(store, "orders/create", unusable_order(email="bea@example.com"))
    store.deliver("customers/redact", {"shop_id": 1, "shop_domain": store.domain, "customer": {"id": 424242}})
    assert kept_bodies(store)[webhook_id] is not None


def test_the_separators_left_out_of_a_number_are_every_one_its_pattern_allows():
    pattern = re.compile(address_rules._SEP_CHAR)
    allowed = {chr(code) for code in range(sys.maxunicode + 1) if pattern.fullmatch(chr(code))}
    assert allowed == set(erasure._phone_separators())
    assert {"\u00a0", "\u2028", "\u3000", "\x1c"} <= allowed  # not only the ASCII ones


def test_the_letters_beyond_ascii_an_escaped_email_allows_are_every_one_re_matches_with_an_ascii_one():
    letters = re.compile("[a-z]", re.IGNORECASE)
    beyond = {chr(code) for code in range(0x80, sys.maxunicode + 1) if letters.fullmatch(chr(code))}
    assert beyond == set(erasure._ASCII_LOOKALIKES)


# --- the property: whatever the Python test drops, the database picked -----------------------------

EMAIL = "kristin_sæther@example.com"
PHONE = "+34600111222"
CUSTOMER = Customer("7001", EMAIL, PHONE, ("5551",))
ADDRESSES = Addresses.of([EMAIL, PHONE])


#: The customer's and the order's id as JSON values, in spellings json.loads reads as the id or not.
IDS = ["7001", '"7001"', '"\\u0037001"', '"70\\u00301"', '" 7001"', "7001.0", "-7001", '"7002"', "null", "true"]
ORDER_IDS = ["5551", '"5551"', '"\\u0035551"', "5551.0", "55510", '"5552"']


def json_text(text: str, how: str) -> str:
    """`text` inside a JSON string: raw, escaped as json.dumps does, or every character escaped."""
    if how == "raw":
        return text
    if how == "dumps":
        return json.dumps(text)[1:-1]
    return "".join(f"\\u{ord(c):04x}" if ord(c) < 0x10000 else c for c in text)


@st.composite
def kept_payloads(draw: st.DrawFn) -> tuple[str, str, str, str]:
    """(topic, body, the shipping phone field as written, its value): an order or checkout the
    ingest refuses, where the order id, the customer id and a shipping phone (an email or number,
    raw or with JSON escapes) each name the customer, nearly do, or are another's; sometimes
    broken as JSON (refused at the route)."""
    order_id = draw(st.sampled_from(ORDER_IDS) | st.just("99001"))
    customer_id = draw(st.sampled_from(IDS) | st.just("7002"))
    mention = draw(email_spellings(EMAIL) | phone_spellings(PHONE))
    how = draw(st.sampled_from(["raw", "raw", "raw", "dumps", "escaped"]))
    field = f'"phone": "{json_text(mention, how)}"'
    body = (
        f'{{"id": {order_id}, "customer": {{"id": {customer_id}}}, "created_at": "{CREATED}", '
        f'"shipping_address": {{{field}}}, "total_price": "lots"}}'
    )
    if draw(st.integers(0, 3)) == 0:
        body = body[: draw(st.integers(1, len(body)))]
    return draw(st.sampled_from(["orders/create", "orders/paid", "checkouts/update"])), body, field, mention


def decoded_names(body: str, field: str, mention: str) -> bool:
    """Whether the document, its escapes read, holds an address of the customer: json.loads and
    Addresses.scrub_json; in a body cut short, the shipping phone's string if it is whole."""
    try:
        payload = json.loads(body)
    except ValueError:
        return field in body and ADDRESSES.found_in(mention)
    return ADDRESSES.scrub_json(payload) != payload


@settings(max_examples=examples(2), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payloads=st.lists(kept_payloads(), min_size=1, max_size=6))
def test_every_kept_body_the_python_test_would_drop_is_dropped_and_no_other(store, payloads):
    posted = {post_kept(store, topic, body): (topic, body, field, mention) for topic, body, field, mention in payloads}
    before = kept_bodies(store)
    redact = {"customer": {"id": 7001, "email": EMAIL.upper(), "phone": PHONE}, "orders_to_redact": [5551]}
    store.deliver("customers/redact", {"shop_id": 1, "shop_domain": store.domain, **redact})
    after = kept_bodies(store)
    for webhook_id, (topic, body, field, mention) in posted.items():
        if before[webhook_id] is None:
            continue  # the ingest took it after all: nothing kept
        kept = before[webhook_id]
        by_id = erasure._names_by_id(kept, topic, CUSTOMER)
        names = ADDRESSES.found_in(kept) or decoded_names(kept, field, mention) or by_id
        assert (after[webhook_id] is None) == names, (topic, body)
