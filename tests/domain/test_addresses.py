"""Addresses in any spelling: found, masked, and nothing else touched."""

from __future__ import annotations

import pytest

from shop_app.domain.addresses import MASK, Addresses, phone_spellings, scrub_provider_text, split_country

ANA = Addresses.of(["Ana@Example.com", "+49 30 1234567"])


@pytest.mark.parametrize(
    "said, kept",
    [
        ("+49 30 1234567", ""),
        ("+49301234567", ""),
        ("0049301234567", ""),
        ("49301234567", ""),  # WhatsApp's WaId
        ("030 1234567", ""),
        ("0301234567", ""),
        ("+49 (0)30 123 45 67", ""),
        ("+49-30-1234567", ""),
        ("whatsapp:+49301234567", "whatsapp:"),
        ("order 1001 +49301234567", "order 1001 "),
        ("1) 030 1234567", "1) "),
        ("ANA@example.COM", ""),
    ],
)
def test_every_spelling_is_found_and_masked(said, kept):
    text = f"Twilio says: {said} is not reachable."
    assert ANA.found_in(text)
    assert ANA.scrub(text) == f"Twilio says: {kept}{MASK} is not reachable."


@pytest.mark.parametrize(
    "other",
    [
        "+49 30 12345678",  # a longer number
        "1230049301234567",  # inside a longer run of digits
        "+43 30 1234567",  # another country
        "0043 30 1234567",
        "xana@example.com",
        "ana@example.community",
        "retry at 2026-03-03 08:02 UTC",
    ],
)
def test_other_addresses_and_numbers_are_left_alone(other):
    assert not ANA.found_in(other)
    assert ANA.scrub(other) == other


def test_stored_spellings_and_what_a_database_looks_for():
    assert phone_spellings("+49 30 1234567") == {
        "+49301234567",
        "0049301234567",
        "49301234567",
        "0301234567",
        "301234567",
    }
    assert phone_spellings("0301234567") == {"0301234567"}  # a national number: its country is unknown
    assert ANA.phone_cores() == {"301234567"}  # every spelling contains it, separators dropped


@pytest.mark.parametrize(
    "digits, split",
    [
        ("15551234567", ("1", "5551234567")),
        ("436641234567", ("43", "6641234567")),
        ("353861234567", ("353", "861234567")),
    ],
)
def test_the_country_code_splits_off_by_its_length(digits, split):
    assert split_country(digits) == split


def test_provider_texts_lose_known_and_international_addresses_but_keep_their_words():
    said = (
        "550 5.1.1 <Ana@Example.com>: rejected; also tried +43 664 1234567 and bob@x.org; "
        "retry at 2026-03-03 08:02 UTC (+01:00), error 21610, order #1001, 84.90 EUR"
    )
    assert scrub_provider_text(said, "ana@example.com") == (
        f"550 5.1.1 <{MASK}>: rejected; also tried {MASK} and {MASK}; "
        "retry at 2026-03-03 08:02 UTC (+01:00), error 21610, order #1001, 84.90 EUR"
    )
    # A national spelling is found when the number is known (the message's recipient).
    assert scrub_provider_text("STOP 030 1234567", "+49301234567") == f"STOP {MASK}"


def test_json_values_are_scrubbed_all_the_way_down():
    raw = {"To": "+49301234567", "WaId": "49301234567", "nested": [{"note": "ana@example.com"}], "n": 3}
    assert ANA.scrub_json(raw) == {"To": MASK, "WaId": MASK, "nested": [{"note": MASK}], "n": 3}
