"""A shop's own message texts: the save-time rules, storage, reset, and which text a send uses."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from shop_app.domain.models import Channel, Step
from shop_app.messaging.defaults import LANGUAGES, TONES, default_template
from shop_app.messaging.merchant_templates import (
    EDITABLE,
    InvalidTemplate,
    UnknownTemplate,
    check_template,
    custom_template,
    reset_template,
    save_template,
    template_for,
    template_key,
    templates_for,
)
from shop_app.shopify.shops import get_shop, save_settings
from shop_app.storage.database import transaction
from shop_app.storage.tables import MessageTemplate
from tests.support import ShopifyStore

SHOP = "demo-shop.myshopify.com"
OTHER = "other-shop.myshopify.com"
SMS = (
    "Hi {{ first_name }}, {{ shop_name }} saved {{ cart_summary }} ({{ cart_total }})."
    "{% if discount_code %} Code {{ discount_code }}.{% endif %} {{ recovery_link }} Reply STOP to opt out"
)
EMAIL = {
    "subject": "{{ shop_name }}: still yours",
    "body": (
        "Hi {{ first_name }},\n\n{{ cart_summary }} - {{ cart_total }}\n{% if discount_code %}Code: "
        "{{ discount_code }}\n{% endif %}{{ recovery_link }}\n\n{{ shop_name }}\nUnsubscribe: {{ unsubscribe_link }}"
    ),
    "html": None,
}


def key(step="prime", channel="sms", language="en"):
    return template_key(step, channel, language)


def problems(channel="sms", step="prime", **parts) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    parts = {"subject": None, "html": None, **parts}
    for error in check_template(key(step, channel), **parts):
        found.setdefault(error.field, []).append(error.message)
    return found


@pytest.fixture
def shop_ids(rt, client, store):
    ShopifyStore.install(rt, client, OTHER)
    with transaction(rt.sessions) as session:
        return get_shop(session, SHOP).id, get_shop(session, OTHER).id


def rows(rt) -> list[tuple]:
    with transaction(rt.sessions) as session:
        found = session.scalars(select(MessageTemplate).order_by(MessageTemplate.id)).all()
        return [(r.shop_id, r.step, r.channel, r.language, r.subject, r.body, r.html) for r in found]


# --- what may be saved -------------------------------------------------------------------------


@pytest.mark.parametrize("tone", TONES)
@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("step, channel", EDITABLE)
def test_every_default_passes_the_rules_a_merchants_text_must_pass(step, channel, language, tone):
    default = default_template(step, channel, language, tone)
    assert check_template(key(step, channel, language), subject=default.subject, body=default.body,
                          html=default.html, shop_name="Zapatería Núñez & Hijos, S.L.") == []  # fmt: skip


def test_a_good_sms_and_email_pass():
    assert problems(body=SMS) == {}
    assert problems("email", "first", **EMAIL) == {}


@pytest.mark.parametrize(
    "body, field_message",
    [
        (SMS.replace("{{ recovery_link }}", ""), "must contain {{ recovery_link }}"),
        (SMS.replace("{{ shop_name }}", "we"), "must name the shop"),
        (SMS.replace("{{ cart_summary }}", "your items"), "must show the cart"),
        (SMS.replace("({{ cart_total }})", ""), "must show the cart"),
        (SMS.replace(" Reply STOP to opt out", ""), "must say how to opt out"),
        (SMS.replace("{% if discount_code %} Code {{ discount_code }}.{% endif %}", ""),
         "must show the discount code when there is one"),
        ("{% if discount_code %}" + SMS + "{% else %}Hi{% endif %}",
         "must contain {{ recovery_link }} (without a discount)"),
    ],
)  # fmt: skip
def test_what_every_message_carries_is_required(body, field_message):
    assert any(message.startswith(field_message) for message in problems(body=body)["body"]), problems(body=body)


def test_email_needs_a_subject_on_one_line_and_the_unsubscribe_link_in_both_parts():
    assert problems("email", "first", **{**EMAIL, "subject": None}) == {"subject": ["is required"]}
    assert problems("email", "first", **{**EMAIL, "subject": "  "}) == {"subject": ["is required"]}
    assert problems("email", "first", **{**EMAIL, "subject": "{{ shop_name }}\nline two"}) == {
        "subject": ["must be one line"]
    }
    no_link = {**EMAIL, "body": EMAIL["body"].replace("{{ unsubscribe_link }}", "")}
    assert problems("email", "first", **no_link) == {"body": ["must contain {{ unsubscribe_link }}"]}
    html = "<p>{{ shop_name }}: {{ cart_summary }} {{ cart_total }} <a href='{{ recovery_link }}'>back</a></p>"
    found = problems("email", "first", **{**EMAIL, "html": html + "{{ discount_code }}"})
    assert found == {"html": ["must contain {{ unsubscribe_link }}"]}


def test_parts_a_channel_lacks_are_refused():
    assert problems(body=SMS, subject="Hi") == {"subject": ["sms messages have no subject; send null"]}
    assert problems(body=SMS, html="<p>x</p>") == {"html": ["sms messages have no HTML body; send null"]}
    assert problems("push", "first", body="{{ cart_summary }} {{ cart_total }} {{ shop_name }}") == {
        "subject": ["is required (the notification title)"]
    }


@pytest.mark.parametrize("value", [5, ["x"], {"a": 1}, True, 1.5])
def test_wrong_types_are_field_errors(value):
    assert problems(body=value) == {"body": ["must be text (a string) or null"]}
    assert problems(body=SMS, subject=value)["subject"] == ["must be text (a string) or null"]


@pytest.mark.parametrize("value", ["Hi\x00", "Hi \ud800"])
def test_characters_a_database_cannot_store_are_refused(value):
    assert "cannot be stored" in problems(body=SMS + value)["body"][0]


def test_sizes_are_bounded():
    assert problems(body="x" * 2001)["body"] == ["is too long (2001 characters; the limit is 2000)"]
    huge_subject = {**EMAIL, "subject": "{{ shop_name }} " + "x" * 300}
    assert problems("email", "first", **huge_subject)["subject"][0].startswith("is too long with a long cart")


def test_sms_over_the_cap_says_the_count_and_the_encoding():
    message = problems(body=SMS + " ¡Última oportunidad, Ángel!")["body"][0]
    assert message.startswith("SMS is ") and "(UCS-2: Ú, Á;" in message and "— the cap is 3" in message


def test_a_template_using_data_only_some_carts_have_is_refused():
    found = problems(body=SMS + " {{ cart_items[1].title }}")["body"][0]
    assert "fails to render" in found or "unknown field" in found


@pytest.mark.parametrize(
    "step, channel, language, message",
    [
        ("second", "sms", "en", "unknown step 'second'"),
        ("prime", "fax", "en", "unknown channel 'fax'"),
        ("prime", "sms", "fr", "unknown language 'fr'"),
        ("prime", "whatsapp", "en", "WhatsApp messages use the templates approved by Meta"),
        ("first", "sms", "en", "the first step sends no sms message (it sends email, push)"),
        ("whatsapp", "email", "en", "the whatsapp step sends no email message (it sends no text you can edit)"),
        (None, ["sms"], {"en": 1}, "unknown step None"),
    ],
)
def test_unknown_keys_are_refused(step, channel, language, message):
    with pytest.raises(UnknownTemplate, match=message.replace("(", r"\(").replace(")", r"\)")):
        template_key(step, channel, language)


# --- storage -----------------------------------------------------------------------------------


def test_save_then_read_then_reset(rt, shop_ids):
    a, _ = shop_ids
    with transaction(rt.sessions) as session:
        row = save_template(session, a, "prime", "sms", "es", subject=None, body=SMS + "\r\n", html=None)
        assert row.id and row.body == SMS + "\n"  # line breaks stored as \n
    with transaction(rt.sessions) as session:
        assert template_for(session, a, Step.PRIME, Channel.SMS, "es", "formal").body == SMS + "\n"
        assert custom_template(session, a, "prime", "sms", "en") is None
        assert template_for(session, a, Step.PRIME, Channel.SMS, "en", "formal") == default_template(
            "prime", "sms", "en", "formal"
        )
    with transaction(rt.sessions) as session:
        assert reset_template(session, a, "prime", "sms", "es") is True
        assert reset_template(session, a, "prime", "sms", "es") is False
    with transaction(rt.sessions) as session:
        assert custom_template(session, a, "prime", "sms", "es") is None
        assert template_for(session, a, "prime", "sms", "es", "informal") == default_template(
            "prime", "sms", "es", "informal"
        )
    assert rows(rt) == []


def test_saving_again_updates_the_one_row(rt, shop_ids):
    a, _ = shop_ids
    for body in (SMS, SMS.replace("Hi", "Hello")):
        with transaction(rt.sessions) as session:
            save_template(session, a, "prime", "sms", "en", subject=None, body=body, html=None)
    assert [row[5] for row in rows(rt)] == [SMS.replace("Hi", "Hello")]


def test_a_refused_save_writes_nothing_and_lists_every_problem(rt, shop_ids):
    a, _ = shop_ids
    with pytest.raises(InvalidTemplate) as refused, transaction(rt.sessions) as session:
        save_template(session, a, "first", "email", "en", subject="{{ ''.__class__ }}", body="{{ coupon }}",
                      html="{% include 'x' %}")  # fmt: skip
    assert {e.field for e in refused.value.errors} == {"subject", "body", "html"}
    assert rows(rt) == []


def test_the_long_cart_check_uses_the_shops_real_name(rt, shop_ids):
    a, _ = shop_ids
    body = SMS + " " + "x" * 60  # fits with "Demo Shop"
    with transaction(rt.sessions) as session:
        save_template(session, a, "prime", "sms", "en", subject=None, body=body, html=None)
    assert check_template(key(), subject=None, body=body, html=None, shop_name="Demo Shop") == []
    longer = check_template(key(), subject=None, body=body, html=None, shop_name="Тёплый дом")
    assert longer and "UCS-2: Т" in longer[0].message


def test_templates_for_lists_every_editable_key_in_the_shops_tone(rt, shop_ids):
    a, b = shop_ids
    with transaction(rt.sessions) as session:
        save_template(session, b, "prime", "sms", "en", subject=None, body=SMS, html=None)
        save_settings(session, get_shop(session, SHOP), {"tone": "formal"})
    with transaction(rt.sessions) as session:
        entries = templates_for(session, a)
    assert [(e.key.step, e.key.channel, e.key.language) for e in entries] == [
        (step, channel, language) for step, channel in EDITABLE for language in LANGUAGES
    ]
    assert not any(e.custom for e in entries)  # shop B's text is not shop A's
    for entry in entries:
        assert entry.template == default_template(entry.key.step, entry.key.channel, entry.key.language, "formal")
        assert (entry.sms is not None) is (entry.key.channel is Channel.SMS)
        if entry.sms:
            assert not entry.sms.over and entry.sms.sample.length.segments <= 3
    with transaction(rt.sessions) as session:
        theirs = [e for e in templates_for(session, b) if e.custom]
    assert [(e.key.language, e.template.body, e.updated_at is not None) for e in theirs] == [("en", SMS, True)]


def test_one_shop_cannot_reach_another_shops_text(rt, shop_ids):
    a, b = shop_ids
    with transaction(rt.sessions) as session:
        save_template(session, b, "prime", "sms", "en", subject=None, body=SMS, html=None)
    with transaction(rt.sessions) as session:
        assert custom_template(session, a, "prime", "sms", "en") is None
        assert reset_template(session, a, "prime", "sms", "en") is False
        save_template(session, a, "prime", "sms", "en", subject=None, body=SMS.replace("Hi", "Hey"), html=None)
    assert sorted((row[0], row[5][:3]) for row in rows(rt)) == sorted([(b, "Hi "), (a, "Hey")])
