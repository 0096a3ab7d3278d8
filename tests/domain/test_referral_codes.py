"""The referral flow's code values (issue 11)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from shop_app.domain.referral_codes import (
    ReferralCodeSpec,
    owns,
    referral_code,
    referral_prefix,
    referral_title,
    reward_code,
    reward_spec,
)

NOW = datetime(2026, 3, 2, 18, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("name", "prefix"),
    [("Ana", "ANA"), ("José Ángel", "JOSEANGEL"), ("Maximilianoooo", "MAXIMILIAN"), ("李", "FRIEND"), (None, "FRIEND")],
)
def test_the_prefix_is_the_readable_name(name: str | None, prefix: str) -> None:
    assert referral_prefix(name) == prefix


def test_codes() -> None:
    assert referral_code("Ana", bytes(range(6))) == "ANA-234567"
    with pytest.raises(ValueError):
        referral_code("Ana", b"12")
    assert reward_code(bytes(20)).startswith("THANKS-")
    assert owns(referral_title(1, 2), "Reclaim referral code, advocate 1-2")
    assert not owns("Summer sale", referral_title(1, 2)) and not owns(None, referral_title(1, 2))


def test_specs_are_checked() -> None:
    assert ReferralCodeSpec("ANA-234567", "t", Decimal("12.5"), NOW).fraction == Decimal("0.125")
    for percent in (Decimal(0), Decimal(101)):
        with pytest.raises(ValueError):
            ReferralCodeSpec("ANA-234567", "t", percent, NOW)
    with pytest.raises(ValueError):
        ReferralCodeSpec("ANA 234567", "t", Decimal(10), NOW)
    spec = reward_spec("THANKS-234567ABCDEF", "t", "42", NOW)
    assert spec.customer_gid == "gid://shopify/Customer/42" and spec.ends_at == NOW + timedelta(days=60)
    assert reward_spec("THANKS-234567ABCDEF", "t", None, NOW, Decimal(15), 7).customer_gid is None
    with pytest.raises(ValueError):
        reward_spec("THANKS-234567ABCDEF", "t", None, NOW, days=0)
