"""What a recovery message says (product.md §1): the shop's name, a link that restores the
checkout (with the discount when there is one) and a short summary of the cart."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from shop_app.domain.content import Content, cart_summary, compose, money, recovery_link
from shop_app.domain.models import Channel, Checkout, LineItem, Step

SHOP = "demo-shop.myshopify.com"
URL = "https://demo-shop.myshopify.com/123/checkouts/0f1e2d/recover?key=k1"
NOW = datetime(2026, 3, 10, 14, 25, tzinfo=timezone.utc)


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


# -- money and cart summary ------------------------------------------------------------------------


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


def test_cart_summary() -> None:
    assert cart_summary(checkout()) == "2 × Linen shirt (M / Blue), 1 × Socks — total 59.90 EUR"


def test_cart_summary_shows_three_items_and_counts_the_rest() -> None:
    items = tuple(LineItem(f"Item {n}", 1, Decimal("1")) for n in range(1, 6))
    summary = cart_summary(checkout(line_items=items, total_price=Decimal("5")))
    assert summary == "1 × Item 1, 1 × Item 2, 1 × Item 3, and 2 more — total 5.00 EUR"


def test_cart_summary_with_exactly_three_items_has_no_remainder() -> None:
    items = tuple(LineItem(f"Item {n}", 1, Decimal("1")) for n in range(1, 4))
    assert "more" not in cart_summary(checkout(line_items=items))


def test_cart_summary_of_an_empty_cart() -> None:
    assert cart_summary(checkout(line_items=(), total_price=Decimal("0"))) == "your cart — total 0.00 EUR"


def test_cart_summary_uses_the_checkout_currency() -> None:
    assert cart_summary(checkout(currency="MXN")).endswith("total 59.90 MXN")


# -- recovery link -------------------------------------------------------------------------------


def test_link_without_code_is_the_checkout_recovery_url() -> None:
    assert recovery_link(checkout(), SHOP, None) == URL
    assert recovery_link(checkout(), SHOP, "") == URL


def test_link_without_recovery_url_goes_to_the_cart() -> None:
    assert recovery_link(checkout(abandoned_checkout_url=None), SHOP, None) == "https://demo-shop.myshopify.com/cart"


def test_link_with_code_applies_the_discount_then_restores_the_checkout() -> None:
    link = recovery_link(checkout(), SHOP, "SAVE10")
    assert link == (
        "https://demo-shop.myshopify.com/discount/SAVE10"
        "?redirect=%2F123%2Fcheckouts%2F0f1e2d%2Frecover%3Fkey%3Dk1"
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


# -- compose ---------------------------------------------------------------------------------------

#: Every (step, channel) pair the settings can produce (settings.py: first = email/push,
#: whatsapp step = whatsapp, prime = sms/whatsapp).
PAIRS = [
    (Step.FIRST, Channel.EMAIL),
    (Step.FIRST, Channel.PUSH),
    (Step.WHATSAPP, Channel.WHATSAPP),
    (Step.PRIME, Channel.SMS),
    (Step.PRIME, Channel.WHATSAPP),
]


def make(step: Step, channel: Channel, c: Checkout | None = None, **kw: object) -> Content:
    values: dict = {"shop_name": "Tienda Sol", "link": "https://l.example/x", "offer": None, "code": None}
    values.update(kw)
    return compose(step, channel, c or checkout(), **values)


@pytest.mark.parametrize("step, channel", PAIRS)
def test_every_message_carries_sender_link_and_cart(step: Step, channel: Channel) -> None:
    content = make(step, channel)
    text = f"{content.subject or ''}\n{content.body}"
    assert "Tienda Sol" in text
    assert "https://l.example/x" in content.body
    assert "2 × Linen shirt (M / Blue), 1 × Socks — total 59.90 EUR" in content.body


@pytest.mark.parametrize("step, channel", PAIRS)
def test_incentive_is_mentioned_with_its_code(step: Step, channel: Channel) -> None:
    content = make(step, channel, offer="15% off", code="PRIME15")
    assert "Use code PRIME15 for 15% off." in content.body


@pytest.mark.parametrize("offer, code", [(None, "PRIME15"), ("15% off", None), (None, None)])
def test_no_incentive_sentence_without_both_offer_and_code(offer: str | None, code: str | None) -> None:
    content = make(Step.PRIME, Channel.SMS, offer=offer, code=code)
    assert "Use code" not in content.body


def test_email_has_a_subject_per_step() -> None:
    assert make(Step.FIRST, Channel.EMAIL).subject == "Tienda Sol: you left something in your cart"
    assert make(Step.PRIME, Channel.EMAIL).subject == "Tienda Sol: a better offer for your cart"


@pytest.mark.parametrize("step, channel", [(Step.WHATSAPP, Channel.WHATSAPP), (Step.PRIME, Channel.SMS), (Step.PRIME, Channel.WHATSAPP)])
def test_text_channels_have_no_subject(step: Step, channel: Channel) -> None:
    assert make(step, channel).subject is None


def test_first_email_body() -> None:
    content = make(Step.FIRST, Channel.EMAIL, offer="10% off", code="BACK10")
    assert content == Content(
        "Tienda Sol: you left something in your cart",
        "Hi Ana, your cart at Tienda Sol is still waiting: 2 × Linen shirt (M / Blue), 1 × Socks — total 59.90 EUR."
        " Use code BACK10 for 10% off. Complete your order: https://l.example/x",
    )


def test_push_is_short_and_titled() -> None:
    content = make(Step.FIRST, Channel.PUSH)
    assert content.subject == "Tienda Sol: you left something in your cart"
    assert content.body == "2 × Linen shirt (M / Blue), 1 × Socks — total 59.90 EUR. https://l.example/x"


def test_greeting_without_a_first_name() -> None:
    assert make(Step.WHATSAPP, Channel.WHATSAPP, checkout(first_name=None)).body.startswith("Hi there, this is Tienda Sol.")
    assert make(Step.WHATSAPP, Channel.WHATSAPP).body.startswith("Hi Ana, this is Tienda Sol.")
