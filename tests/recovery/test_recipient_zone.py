"""The recipient's zone from their number (recovery/recipient_zone.py): exactly one zone, or none."""

from __future__ import annotations

import pytest

from shop_app.recovery.recipient_zone import zone_of


@pytest.mark.parametrize(
    ("number", "zone"),
    [
        ("+12125550123", "America/New_York"),  # area code 212
        ("whatsapp:+13105550123", "America/Los_Angeles"),  # a WhatsApp address, area code 310
        ("+18085550123", "Pacific/Honolulu"),
        ("+5511987654321", "America/Sao_Paulo"),
    ],
)
def test_a_number_that_names_one_zone_gives_it(number: str, zone: str) -> None:
    assert zone_of(number) == zone


@pytest.mark.parametrize(
    "number",
    [
        "+79161234567",  # a Russian mobile: every Russian zone
        "+34600111222",  # a Spanish mobile: Madrid and the Canaries
        "+61412345678",  # an Australian mobile
        "+15555550100",  # not a valid number (libphonenumber answers Etc/Unknown)
        "+447700900123",  # Ofcom's drama range: not valid either
        "not a number",
        "",
        None,
    ],
)
def test_several_zones_or_no_number_give_none(number: str | None) -> None:
    assert zone_of(number) is None
