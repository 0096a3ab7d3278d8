"""Every recovery message, rendered from the default templates, carries what product.md §1
promises, in the checkout's language."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from shop_app.domain.models import Channel, Checkout, LineItem, Step
from shop_app.domain.settings import Incentive
from shop_app.domain.sms import GSM7, MAX_SMS_SEGMENTS, sms_length
from shop_app.messaging.defaults import DefaultTemplate
from shop_app.messaging.sandbox import sample_fields
from shop_app.messaging.texts import SmsOverCap, TemplateRefused, compose, expiry_text, language_of

PAIRS = [
    (Step.FIRST, Channel.EMAIL),
    (Step.FIRST, Channel.PUSH),
    (Step.WHATSAPP, Channel.WHATSAPP),
    (Step.PRIME, Channel.SMS),
    (Step.PRIME, Channel.WHATSAPP),
]
LINK = "https://demo-shop.myshopify.com/discount/PRIME-ABC?redirect=%2Frecover"
EXPIRES = datetime(2026, 3, 6, 9, 0, tzinfo=UTC)


def checkout(locale: str | None = "en") -> Checkout:
    return Checkout(
        token="c1",
        updated_at=datetime(2026, 3, 2, tzinfo=UTC),
        first_name="Ana",
        locale=locale,
        currency="EUR",
        total_price=Decimal("84.90"),
        line_items=(LineItem("Linen shirt", 1, Decimal("49.90")), LineItem("Canvas tote", 2, Decimal("17.50"))),
    )


PRIME_OFFER = Incentive("percentage", Decimal(15), "unique")


def render(step, channel, locale="en", code="PRIME-ABC", incentive=PRIME_OFFER):
    link = LINK if code else "https://demo-shop.myshopify.com/recover"
    return compose(
        step,
        channel,
        checkout(locale),
        shop_name="Casa Lino",
        shop_timezone="Europe/Madrid",
        link=link,
        incentive=incentive,
        code=code,
        expires_at=EXPIRES if code else None,
        unsubscribe_link="https://app.example/u/tok" if channel is Channel.EMAIL else None,
    )


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
    text = compose(
        Step.FIRST,
        Channel.EMAIL,
        evil,
        shop_name="S",
        shop_timezone="UTC",
        link=LINK,
        incentive=Incentive(),
        code=None,
        expires_at=None,
        unsubscribe_link="https://u",
    )
    assert "<script>" not in text.html and "&lt;script&gt;" in text.html
    assert "<script>x</script>" in text.body


# --- the shop's tone and its own texts ---------------------------------------------------------


#: What content.recovery_link makes of a real abandoned_checkout_url with a discount (~210 characters).
LONG_LINK = sample_fields(channel=Channel.SMS).recovery_link


def compose_with(step=Step.PRIME, channel=Channel.SMS, checkout_=None, **kwargs):
    kwargs.setdefault("incentive", Incentive("percentage", Decimal(15), "unique"))
    kwargs.setdefault("code", "PRIME-ABC")
    kwargs.setdefault("link", LINK)
    return compose(
        step,
        channel,
        checkout_ or checkout(),
        shop_name="Casa Lino",
        shop_timezone="Europe/Madrid",
        expires_at=EXPIRES,
        unsubscribe_link="https://app.example/u/tok",
        **kwargs,
    )


def test_the_tone_picks_the_default_text():
    assert compose_with(tone="informal").body.startswith("Hi Ana, Casa Lino kept your cart")
    assert compose_with(tone="formal").body.startswith("Hello Ana, Casa Lino has kept your cart")
    email = compose_with(Step.FIRST, Channel.EMAIL, tone="formal")
    assert email.subject == "Casa Lino: your cart has been saved" and "Kind regards," in email.body


def test_a_custom_template_is_used_instead_of_the_default():
    custom = DefaultTemplate(body="{{ shop_name }}! {{ cart_summary }} {{ discount_code }} {{ recovery_link }} STOP")
    text = compose_with(custom=custom, tone="formal")
    assert text.body == f"Casa Lino! 1 x Linen shirt, 2 x Canvas tote PRIME-ABC {LINK} STOP"
    assert text.notes == () and text.sms == sms_length(text.body)


def test_a_custom_email_without_html_gets_an_escaped_html_part_with_working_links():
    custom = DefaultTemplate(subject="{{ shop_name }}:\n{{ first_name }} ", body="<b>{{ cart_summary }}</b>\n\n"
                             "{{ recovery_link }}.\nBye: {{ unsubscribe_link }}")  # fmt: skip
    text = compose_with(Step.FIRST, Channel.EMAIL, custom=custom)
    assert text.subject == "Casa Lino: Ana"  # one line, whatever the data
    assert "&lt;b&gt;1 x Linen shirt" in text.html and "<b>" not in text.html
    link = LINK.replace("&", "&amp;")
    assert f'<a href="{link}">{link}</a>.' in text.html
    assert '<a href="https://app.example/u/tok">https://app.example/u/tok</a>' in text.html


def test_a_custom_template_that_fails_with_real_data_falls_back_to_the_default_with_a_note():
    custom = DefaultTemplate(body="{{ shop_name }} {{ cart_items[2].title }} {{ recovery_link }} STOP")
    text = compose_with(custom=custom, tone="formal")  # the cart has two items
    assert text.body == compose_with(tone="formal").body
    assert len(text.notes) == 1 and text.notes[0].startswith("the shop's own sms text could not be used (")


def long_checkout(first_name="Lucía", items=4, shop_title="Camiseta de algodón orgánico manga larga"):
    return Checkout(
        token="c2", updated_at=EXPIRES, first_name=first_name, locale="es-ES", currency="EUR",
        total_price=Decimal("1234.50"),
        line_items=tuple(LineItem(f"{shop_title} {n}", 2, Decimal("49.90")) for n in range(items)),
    )  # fmt: skip


def test_send_time_sms_over_the_cap_is_shortened_and_says_how():
    customer = long_checkout()
    short_link = compose_with(checkout_=customer, link=LINK)  # spelling "Lucia" is enough: 3 GSM-7 segments
    assert short_link.body.startswith("Hola Lucia, Casa Lino te guarda el carrito (2 x Camiseta de algodon organico")
    assert short_link.notes == ("names and titles were spelled without the accents SMS lacks",)
    text = compose_with(checkout_=customer, link=LONG_LINK)
    assert text.sms.segments <= MAX_SMS_SEGMENTS and text.sms.encoding == GSM7
    assert text.body.startswith("Hola Lucia, Casa Lino te guarda el carrito (8 productos, 1,234.50 EUR).")
    assert LONG_LINK in text.body and "PRIME-ABC" in text.body
    assert text.notes == ("names and titles were spelled without the accents SMS lacks",
                          'the items were shortened to "8 productos"')  # fmt: skip


def test_send_time_sms_that_cannot_fit_raises_sms_over_cap_with_the_count():
    custom = DefaultTemplate(body="{{ shop_name }} ¡Última llamada! {{ cart_summary }} {{ recovery_link }} STOP")
    with pytest.raises(SmsOverCap) as over:  # the ú is the template's: UCS-2 whatever the data
        compose(Step.PRIME, Channel.SMS, long_checkout(), shop_name="Тёплый дом", shop_timezone="UTC", link=LONG_LINK,
                incentive=Incentive(), code=None, expires_at=None, unsubscribe_link=None, custom=custom)  # fmt: skip
    assert over.value.segments > MAX_SMS_SEGMENTS
    assert isinstance(over.value, TemplateRefused)  # one except clause in the send job
    assert over.value.reason.startswith(f"SMS is {over.value.segments} segments (UCS-2: ")
    assert "Т" in over.value.check.non_gsm and "— the cap is 3, even with the items shortened" in over.value.reason
    assert "the shop's own text could not be used either (SMS is" in over.value.reason
