"""What a recovery message says (product.md §1): the shop's name, a link that restores the
checkout (with the discount when there is one) and a short summary of the cart."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from shop_app.domain.content import money, recovery_link
from shop_app.domain.models import Checkout, LineItem

SHOP = "demo-shop.myshopify.com"
URL = "https://demo-shop.myshopify.com/123/checkouts/0f1e2d/recover?key=k1"
NOW = datetime(2026, 3, 10, 14, 25, tzinfo=UTC)


def checkout(**overrides: object) -> Checkout:
    values: dict = {
        "token": "0f1e2d",
        "updated_at": NOW,
        "email": "ana@example.com",
        "first_name": "Ana",
        "abandoned_checkout_url": URL,
        "currency": "EUR",
        "total_price": Decimal("59.9"),
        "line_items": (
            LineItem("Linen shirt", 2, Decimal("24.95"), "M / Blue"),
            LineItem("Socks", 1, Decimal("10.00")),
        ),
    }
    values.update(overrides)
    return Checkout(**values)


# -- money ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "amount, currency, text",
    [
        (Decimal("59.9"), "EUR", "59.90 EUR"),
        (Decimal("0"), "USD", "0.00 USD"),
        (Decimal("1234.5"), "GBP", "1,234.50 GBP"),
        (Decimal("1000000"), "JPY", "1,000,000.00 JPY"),
        (Decimal("19.999"), "USD", "20.00 USD"),
        (Decimal("-5"), "EUR", "-5.00 EUR"),
    ],
)
def test_money(amount: Decimal, currency: str, text: str) -> None:
    assert money(amount, currency) == text


# -- recovery link -------------------------------------------------------------------------------


def test_link_without_code_is_the_checkout_recovery_url() -> None:
    assert recovery_link(checkout(), SHOP, None) == URL
    assert recovery_link(checkout(), SHOP, "") == URL


def test_link_without_recovery_url_goes_to_the_cart() -> None:
    assert recovery_link(checkout(abandoned_checkout_url=None), SHOP, None) == "https://demo-shop.myshopify.com/cart"


def test_link_with_code_applies_the_discount_then_restores_the_checkout() -> None:
    link = recovery_link(checkout(), SHOP, "SAVE10")
    assert link == (
        "https://demo-shop.myshopify.com/discount/SAVE10?redirect=%2F123%2Fcheckouts%2F0f1e2d%2Frecover%3Fkey%3Dk1"
    )
    parts = urlsplit(link)
    assert parse_qs(parts.query) == {"redirect": ["/123/checkouts/0f1e2d/recover?key=k1"]}


def test_link_with_code_and_no_recovery_url_redirects_to_the_cart() -> None:
    link = recovery_link(checkout(abandoned_checkout_url=None), SHOP, "SHIP")
    assert link == "https://demo-shop.myshopify.com/discount/SHIP?redirect=%2Fcart"


def test_code_is_escaped_in_the_path() -> None:
    link = recovery_link(checkout(), SHOP, "A/B?C")
    parts = urlsplit(link)
    assert parts.path == "/discount/A%2FB%3FC"
    assert unquote(parts.path.rsplit("/", 1)[1]) == "A/B?C"
    assert parse_qs(parts.query)["redirect"] == ["/123/checkouts/0f1e2d/recover?key=k1"]
