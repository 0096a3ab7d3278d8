"""customers/redact and the customer's addresses written into other people's texts.

`erase_mentions` lets the database pick the texts that may mention an address and masks them
in Python (`Addresses.scrub`, the same pattern as `found_in`). The pick must never be narrower
than the mask: a number split by a line break, a no-break space or other Unicode whitespace, or
an email with a letter SQL's lower() does not fold as Python's re does (K the Kelvin sign, ſ,
İ/ı), must still be picked, or the address stays after the redact. Everything goes through
the signed webhook route and the worker: another shopper's checkout names Ana in its line items
(a JSON column) and first name (a text column), and the recovery email renders them.
"""

from __future__ import annotations

import json
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shop_app.domain import addresses as address_rules
from shop_app.domain.addresses import Addresses
from shop_app.storage.tables import CheckoutRow as Checkout
from tests.examples import examples
from tests.jobs.test_redact_everywhere import table_texts
from tests.spellings import email_spellings, phone_spellings

ABANDONED = "2026-03-02T12:00:00+01:00"
FIRST_DUE = "2026-03-02T12:00:00+00:00"
EMAIL = "kim.santos@example.com"
PHONE = "+34600111222"
ANA = {"id": 7001, "email": EMAIL, "phone": PHONE, "first_name": "Ana"}
BEA = {"id": 8002, "email": "bea@example.com", "phone": "+34611999888", "first_name": "Bea"}
ADDRESSES = Addresses.of([EMAIL, PHONE])

#: Ana's addresses as other shoppers typed them into their own checkouts.
SPELLINGS = {
    "number split by a line break": "call her on 600\n111 222 please",
    "number split by no-break spaces": "call +34 600\u00a0111\u00a0222",
    "number split by an ideographic space and a line separator": "600\u3000111\u2028222",
    "number with 0034 and dashes": "tel 0034-600-111-222",
    "email in capitals": "gift for KIM.SANTOS@EXAMPLE.COM",
    "email with a Kelvin-sign K": "gift for \u212aim.santos@example.com",
    "email with a long s": "from kim.\u017fantos@example.com",
}
#: Texts with similar digits or letters that are not Ana's: left as they are.
NEAR_MISSES = {
    "another number": "call 600 111 223",
    "her digits inside a longer number": "ref 96001112229",
    "too few digits": "box 600\n111",
    "another email": "kim.santo@example.com",
}


def values_of(value) -> list[str]:
    """Every string in a stored value, decoded: a JSON column's strings and keys one by one."""
    if isinstance(value, str):
        try:
            decoded = json.loads(value)
        except ValueError:
            return [value]
        return [value, *values_of(decoded)] if isinstance(decoded, dict | list) else [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*values_of(k), *values_of(v))]
    if isinstance(value, list):
        return [s for v in value for s in values_of(v)]
    return []


def table_strings(rt) -> list[str]:
    """Every text of every table (tests/jobs/test_redact_everywhere.py's search), JSON decoded,
    so an escaped line break or no-break space reads as what it is."""
    found = []
    for text in table_texts(rt):
        place, dumped = text.split(": ", 1)
        found += [f"{place}: {s}" for s in values_of(json.loads(dumped))]
    return found


def spells_ana(text: str) -> bool:
    """Ana's number or email in any spelling: digits joined across up to three separators (any
    Unicode space too), then her national number with or without the country code and not inside
    a longer number; the email in the text case-folded (K the Kelvin sign folds to k, ſ to s)."""
    joined = re.sub(r"(?<=[0-9])[\s\-./()]{1,3}(?=[0-9+])", "", text)
    folded = text.casefold().replace("i\u0307", "i").replace("\u0131", "i")
    return re.search(r"(?<![0-9])(?:\+?34|0034)?600111222(?![0-9])", joined) is not None or EMAIL in folded


def checkout_naming(store, token: str, texts: list[str], first_name: str = "Bea") -> None:
    """Bea's checkout, whose line items are titled with `texts` (she names Ana in them)."""
    items = [{"title": text, "quantity": 1, "price": "10.00", "line_price": "10.00"} for text in texts]
    payload = store.checkout(
        token,
        ABANDONED,
        email=BEA["email"],
        phone=BEA["phone"],
        line_items=items,
        customer={**BEA, "first_name": first_name},
    )
    store.deliver("checkouts/create", payload)


def redact_ana(store) -> None:
    store.deliver(
        "customers/redact",
        {"shop_id": 1, "shop_domain": store.domain, "customer": {"id": 7001, "email": EMAIL.upper(), "phone": PHONE}},
    )


def test_every_spelling_of_ana_in_anothers_texts_is_masked_and_similar_texts_stay(store):
    store.deliver("checkouts/create", store.checkout("ana", ABANDONED, email=EMAIL, phone=PHONE, customer=ANA))
    # One checkout per text, in a line item (JSON) and the first name (text): a row the database
    # picks for one spelling must not hide another spelling the pick misses.
    for number, text in enumerate([*SPELLINGS.values(), *NEAR_MISSES.values()]):
        checkout_naming(store, f"bea-{number}", [text], first_name=f"Bea {text}")
    store.tick(FIRST_DUE)  # the recovery emails render the name and the line items
    before = table_strings(store.rt)
    for name, text in SPELLINGS.items():  # the search can fail: each spelling is found before
        assert spells_ana(text), name
        assert any(text in s for s in before), name
        assert any(s.startswith("checkouts.first_name: ") and text in s for s in before), name
        assert any(s.startswith("messages.body: ") and text in s for s in before), name
    assert not any(spells_ana(text) for text in NEAR_MISSES.values())

    redact_ana(store)

    after = table_strings(store.rt)
    assert [s[:200] for s in after if spells_ana(s)] == []
    for name, text in NEAR_MISSES.items():
        assert any(s.startswith("checkouts.first_name: ") and text in s for s in after), name
        assert any(s.startswith("checkouts.line_items: ") and text in s for s in after), name


# --- the property: whatever the Python mask changes, the database picked -------------------------


@settings(max_examples=examples(2), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mentions=st.lists(email_spellings(EMAIL) | phone_spellings(PHONE), min_size=1, max_size=4), data=st.data())
def test_every_text_the_python_mask_would_change_is_masked_and_no_other(store, mentions, data):
    token = f"bea-{data.draw(st.uuids()).hex}"
    first_name = data.draw(st.sampled_from(mentions))
    checkout_naming(store, token, [f"note: {m}" for m in mentions], first_name=f"Bea {first_name}"[:80])
    with store.rt.engine.connect() as conn:
        row = conn.execute(Checkout.__table__.select().where(Checkout.__table__.c.token == token))
        before = row.one()._mapping
    redact_ana(store)
    with store.rt.engine.connect() as conn:
        row = conn.execute(Checkout.__table__.select().where(Checkout.__table__.c.token == token))
        after = row.one()._mapping
    assert after["line_items"] == ADDRESSES.scrub_json(before["line_items"])
    expected_name = ADDRESSES.scrub(before["first_name"])
    assert after["first_name"] == (None if expected_name == address_rules.MASK else expected_name)
