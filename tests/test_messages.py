"""Every recovery message, rendered from the default templates, carries what product.md §1
promises, in the checkout's language."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from shop_app.domain.models import Channel, Checkout, LineItem, Step
from shop_app.domain.settings import Incentive
from shop_app.messages import compose, expiry_text, language_of

PAIRS = [(Step.FIRST, Channel.EMAIL), (Step.FIRST, Channel.PUSH), (Step.WHATSAPP, Channel.WHATSAPP),
         (Step.PRIME, Channel.SMS), (Step.PRIME, Channel.WHATSAPP)]
LINK = "https://demo-shop.myshopify.com/discount/PRIME-ABC?redirect=%2Frecover"
EXPIRES = datetime(2026, 3, 6, 9, 0, tzinfo=timezone.utc)


def checkout(locale: str | None = "en") -> Checkout:
    return Checkout(
        token="c1", updated_at=datetime(2026, 3, 2, tzinfo=timezone.utc), first_name="Ana", locale=locale,
        currency="EUR", total_price=Decimal("84.90"),
        line_items=(LineItem("Linen shirt", 1, Decimal("49.90")), LineItem("Canvas tote", 2, Decimal("17.50"))),
    )


def render(step, channel, locale="en", code="PRIME-ABC", incentive=Incentive("percentage", Decimal(15), "unique")):
    link = LINK if code else "https://demo-shop.myshopify.com/recover"
    return compose(step, channel, checkout(locale), shop_name="Casa Lino", shop_timezone="Europe/Madrid", link=link,
                   incentive=incentive, code=code, expires_at=EXPIRES if code else None,
                   unsubscribe_link="https://app.example/u/tok" if channel is Channel.EMAIL else None)


@pytest.mark.parametrize("locale", ["en", "es"])
@pytest.mark.parametrize("step, channel", PAIRS)
def test_every_message_names_the_shop_links_back_and_summarises_the_cart(step, channel, locale):
    text = render(step, channel, locale)
    assert "Casa Lino" in text.body + (text.subject or "")
    assert LINK in text.body or channel is Channel.PUSH  # a push opens the link on click, it does not show it
    assert "Linen shirt" in text.body and "84.90 EUR" in text.body


@pytest.mark.parametrize("step, channel", PAIRS)
def test_the_code_value_and_expiry_appear_only_when_offered(step, channel):
    offered = render(step, channel)
    assert "PRIME-ABC" in offered.body and "15% off" in offered.body
    if channel is not Channel.PUSH:  # a push notification is too short for the expiry
        assert "Mar 06, 10:00" in offered.body
    plain = render(step, channel, code=None)
    assert "PRIME-ABC" not in plain.body and "off" not in plain.body.replace("offer", "")


def test_email_has_subject_html_and_the_unsubscribe_link_in_both_parts():
    text = render(Step.FIRST, Channel.EMAIL)
    assert text.subject == "Casa Lino: you left something in your cart"
    assert "https://app.example/u/tok" in text.body and "https://app.example/u/tok" in text.html


def test_spanish_checkout_gets_spanish_text_and_offer():
    text = render(Step.PRIME, Channel.SMS, "es-ES")
    assert text.body.startswith("Hola Ana") and "15 % de descuento" in text.body and "06/03 10:00" in text.body


def test_language_falls_back_to_english():
    assert language_of(checkout("fr")) == "en" and language_of(checkout(None)) == "en"


def test_offer_and_expiry_texts():
    assert Incentive("fixed_amount", Decimal(5)).describe("EUR", "en") == "5.00 EUR off"
    assert Incentive("fixed_amount", Decimal(5)).describe("EUR", "es") == "5.00 EUR de descuento"
    assert Incentive("percentage", Decimal(15)).describe("EUR", "es") == "15 % de descuento"
    assert Incentive("free_shipping").describe("EUR", "es") == "envío gratis"
    assert expiry_text(None, "UTC", "en") is None


def test_a_malicious_first_name_is_escaped_in_html_only():
    evil = Checkout(token="c", updated_at=EXPIRES, first_name="<script>x</script>", locale="en", currency="EUR")
    text = compose(Step.FIRST, Channel.EMAIL, evil, shop_name="S", shop_timezone="UTC", link=LINK,
                   incentive=Incentive(), code=None, expires_at=None, unsubscribe_link="https://u")
    assert "<script>" not in text.html and "&lt;script&gt;" in text.html
    assert "<script>x</script>" in text.body
