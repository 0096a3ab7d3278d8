"""The unique-code value object: what it accepts, what it refuses, and the code generator."""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shop_app.domain.discounts import (
    CODE_ALPHABET,
    DiscountSpec,
    default_expiry,
    random_bytes_needed,
    unguessable_code,
)

NOW = datetime(2026, 3, 2, 18, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=72)


def spec(**changes) -> DiscountSpec:
    fields = dict(
        kind="percentage",
        value=Decimal("10"),
        code="BACK-ABCDEFGHJK",
        title="Reclaim 10%",
        starts_at=NOW,
        ends_at=LATER,
        customer_gid=None,
        combines_with_shipping=False,
    )
    fields.update(changes)
    return DiscountSpec(**fields)


# --- DiscountSpec ------------------------------------------------------------------------------


@pytest.mark.parametrize("value, fraction", [("10", "0.10"), ("12.5", "0.125"), ("100", "1"), ("0.5", "0.005")])
def test_percentage_becomes_a_fraction(value: str, fraction: str) -> None:
    assert spec(value=Decimal(value)).percentage_fraction == Decimal(fraction)


def test_int_value_is_kept_as_decimal() -> None:
    made = spec(value=15)
    assert made.value == Decimal(15) and isinstance(made.value, Decimal)


def test_fixed_amount_and_free_shipping_are_accepted() -> None:
    assert spec(kind="fixed_amount", value=Decimal("5.00")).value == Decimal("5.00")
    assert spec(kind="free_shipping", value=None).value is None


def test_only_percentages_have_a_fraction() -> None:
    with pytest.raises(ValueError):
        _ = spec(kind="fixed_amount", value=Decimal("5")).percentage_fraction


def test_customer_restriction_needs_a_customer_gid() -> None:
    assert spec(customer_gid="gid://shopify/Customer/42").customer_gid == "gid://shopify/Customer/42"
    for bad in ("42", "gid://shopify/Order/42", "gid://shopify/Customer/", "gid://shopify/Customer/4x"):
        with pytest.raises(ValueError):
            spec(customer_gid=bad)


@pytest.mark.parametrize(
    "changes",
    [
        {"kind": "bogo"},
        {"kind": "free_shipping", "value": Decimal("1")},
        {"kind": "percentage", "value": None},
        {"kind": "percentage", "value": Decimal("100.01")},
        {"kind": "percentage", "value": Decimal("0")},
        {"kind": "fixed_amount", "value": Decimal("-5")},
        {"kind": "fixed_amount", "value": 5.0},
        {"kind": "fixed_amount", "value": Decimal("NaN")},
        {"value": True},
        {"code": ""},
        {"code": "HAS SPACE"},
        {"code": "X" * 256},
        {"title": "   "},
        {"starts_at": datetime(2026, 3, 2, 18, 0)},
        {"ends_at": datetime(2026, 3, 5, 18, 0)},
        {"ends_at": NOW},
        {"ends_at": NOW - timedelta(seconds=1)},
        {"combines_with_shipping": "yes"},
    ],
)
def test_invalid_specs_are_refused(changes: dict) -> None:
    with pytest.raises(ValueError):
        spec(**changes)


def test_spec_is_frozen() -> None:
    with pytest.raises(AttributeError):
        spec().code = "OTHER"  # type: ignore[misc]


# --- codes -------------------------------------------------------------------------------------


def test_code_has_prefix_and_body_from_the_safe_alphabet() -> None:
    code = unguessable_code("back", os.urandom(random_bytes_needed()))
    prefix, body = code.split("-")
    assert prefix == "BACK"
    assert len(body) == 12
    assert set(body) <= set(CODE_ALPHABET)


def test_alphabet_has_no_look_alikes() -> None:
    assert not set("01OIL") & set(CODE_ALPHABET)
    assert len(set(CODE_ALPHABET)) == len(CODE_ALPHABET) == 31


def test_code_is_a_function_of_the_bytes() -> None:
    data = bytes(range(1, 17))
    assert unguessable_code("R", data) == unguessable_code("R", data)
    assert unguessable_code("R", data) != unguessable_code("R", bytes(range(2, 18)))
    assert unguessable_code("", bytes(16)) == CODE_ALPHABET[0] * 12


def test_codes_from_real_randomness_do_not_repeat() -> None:
    codes = {unguessable_code("", os.urandom(random_bytes_needed())) for _ in range(2000)}
    assert len(codes) == 2000


def test_every_symbol_is_used() -> None:
    seen = set("".join(unguessable_code("", os.urandom(16)) for _ in range(300)))
    assert seen == set(CODE_ALPHABET)


@given(st.binary(min_size=16, max_size=64), st.integers(min_value=10, max_value=16))
def test_any_sufficient_randomness_gives_a_well_formed_code(data: bytes, length: int) -> None:
    if len(data) < random_bytes_needed(length):
        with pytest.raises(ValueError):
            unguessable_code("RC", data, length)
        return
    assert re.fullmatch(rf"RC-[{CODE_ALPHABET}]{{{length}}}", unguessable_code("RC", data, length))


def test_too_little_randomness_or_too_short_a_code_is_refused() -> None:
    with pytest.raises(ValueError):
        unguessable_code("R", os.urandom(random_bytes_needed() - 1))
    with pytest.raises(ValueError):
        unguessable_code("R", os.urandom(64), length=9)


@pytest.mark.parametrize("prefix", ["BAD-PREFIX", "with space", "X" * 21, "ÄPFEL"])
def test_prefix_must_be_plain(prefix: str) -> None:
    with pytest.raises(ValueError):
        unguessable_code(prefix, os.urandom(32))


def test_at_least_ten_symbols_of_entropy_by_default() -> None:
    body = unguessable_code("", os.urandom(random_bytes_needed())).replace("-", "")
    assert len(body) >= 10


# --- expiry ------------------------------------------------------------------------------------


def test_default_expiry_is_72_hours() -> None:
    assert default_expiry(NOW) == NOW + timedelta(hours=72)
    assert default_expiry(NOW, hours=24) == NOW + timedelta(hours=24)


def test_expiry_needs_an_aware_now_and_a_positive_duration() -> None:
    with pytest.raises(ValueError):
        default_expiry(datetime(2026, 3, 2, 18, 0))
    with pytest.raises(ValueError):
        default_expiry(NOW, hours=0)
