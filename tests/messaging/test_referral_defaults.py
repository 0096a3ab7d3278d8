"""The Referral Generation flow's default texts (issue 11): every step × channel × language × tone renders
with every sample, shows what its step must show, and an SMS stays GSM-7 within the segment cap."""

import pytest

from shop_app.domain.models import REFERRAL_STEPS, Channel, Step
from shop_app.domain.sms import GSM7, MAX_SMS_SEGMENTS
from shop_app.messaging import sandbox
from shop_app.messaging.defaults import DEFAULT_TEMPLATES, default_template
from shop_app.messaging.merchant_templates import EDITABLE, TemplateKey, UnknownTemplate, check_template, template_key
from shop_app.messaging.referral_defaults import (
    CHANNELS,
    LANGUAGES,
    LINK_FIELDS,
    REFERRAL_TEMPLATES,
    REQUIRED_FIELDS,
    STEP_LINKS,
    STEPS,
    TONES,
)
from shop_app.messaging.samples import CART_SIZES, sample_fields
from shop_app.messaging.template_fields import FIELD_NAMES

KEYS = [(s, c, lang, tone) for s in STEPS for c in CHANNELS for lang in LANGUAGES for tone in TONES]
PARTS = {"email": {"subject", "body", "html"}, "push": {"subject", "body", "url"}, "sms": {"body"},
         "whatsapp": {"body"}}  # fmt: skip


def test_every_combination_has_a_default():
    assert set(REFERRAL_TEMPLATES) == set(KEYS)
    assert len(KEYS) == 4 * 4 * 2 * 2


@pytest.mark.parametrize("key", KEYS, ids="-".join)
def test_every_default_renders_with_every_sample_and_shows_what_its_step_needs(key):
    step, channel, language, tone = key
    parts = REFERRAL_TEMPLATES[key]
    assert set(parts) == PARTS[channel]
    for cart in CART_SIZES:
        for with_discount in (True, False):
            fields = sample_fields(language, with_discount=with_discount, cart=cart, channel=channel)
            rendered = {name: sandbox.render(src, fields, html=name == "html") for name, src in parts.items()}
            text = "\n".join(rendered.values())
            assert fields.shop_name in text
            assert "None" not in text and "{{" not in text and "{%" not in text
            for name in REQUIRED_FIELDS[step]:
                shown = rendered["url"] + rendered["body"] if channel == "push" else rendered["body"]
                assert getattr(fields, name) in shown, (name, shown)
            assert (bool(fields.discount_code) and fields.discount_code in text) is bool(fields.discount_code)
            if channel == "push":
                assert rendered["url"] == getattr(fields, STEP_LINKS[step])
            if channel == "email":
                assert fields.unsubscribe_link in rendered["body"] and fields.unsubscribe_link in rendered["html"]
                assert "\n" not in rendered["subject"].strip()
            if channel in ("sms", "whatsapp"):
                assert ("STOP" in rendered["body"]) and getattr(fields, STEP_LINKS[step]) in rendered["body"]
    for name, source in parts.items():
        sandbox.validate_template(source, channel, html=name == "html", language=language)


@pytest.mark.parametrize("key", [k for k in KEYS if k[1] == "sms"], ids="-".join)
def test_sms_defaults_stay_gsm7_within_the_cap_with_the_long_sample(key):
    _, _, language, _ = key
    source = REFERRAL_TEMPLATES[key]["body"]
    report = sandbox.sms_report(source, language)
    assert not report.over, report.to_json()
    assert report.sample.length.encoding == GSM7 and report.long_cart.length.encoding == GSM7
    for with_discount in (True, False):
        fields = sample_fields(language, with_discount=with_discount, cart="long", channel="sms")
        text = sandbox.render(source, fields).strip()
        length = sandbox.sms_length(text)
        assert length.encoding == GSM7 and length.segments <= MAX_SMS_SEGMENTS, (text, length)
        assert fields.shop_name in text  # never shortened away: a referral SMS has no cart to shorten


def test_reward_and_invite_say_what_the_advocate_and_the_friend_get():
    fields = sample_fields("en")
    invite = sandbox.render(REFERRAL_TEMPLATES[("invite", "email", "en", "informal")]["body"], fields)
    assert fields.friend_offer in invite and "https://casa-verde.myshopify.com/discount/EMMA-7Q2K" in invite
    reward = sandbox.render(REFERRAL_TEMPLATES[("reward", "sms", "es", "formal")]["body"], sample_fields("es"))
    assert all(v in reward for v in ("GRACIAS-4K9PQ2", "10 % de descuento", "10/08/2026"))


def test_tones_and_languages_really_differ():
    for step in STEPS:
        bodies = {REFERRAL_TEMPLATES[(step, "email", lang, tone)]["body"] for lang in LANGUAGES for tone in TONES}
        assert len(bodies) == 4


def test_the_referral_fields_are_template_fields():
    names = {"referral_code", "referral_link", "friend_offer", "reward_code", "reward_value", "reward_expiry",
             "review_link", "shop_url"}  # fmt: skip
    assert names <= FIELD_NAMES
    assert names >= LINK_FIELDS
    assert {name for fields in REQUIRED_FIELDS.values() for name in fields} <= names


def test_sample_links_use_the_shop_domain():
    fields = sample_fields("es", shop_domain="tienda.example")
    assert fields.referral_link == f"https://tienda.example/discount/{fields.referral_code}"
    assert fields.review_link and fields.review_link.startswith("https://tienda.example/")
    assert fields.shop_url == "https://tienda.example"


def test_a_recovery_message_sees_no_referral_values():
    context = sandbox.TemplateFields(first_name="", shop_name="S", cart_items=(), cart_total="0",
                                     recovery_link="https://x").context()  # fmt: skip
    assert all(context[name] == "" for name in ("referral_code", "reward_code", "review_link", "shop_url"))


# --- through the domain's steps: DEFAULT_TEMPLATES, check_template, the editable list ----------

CHECKED = [k for k in KEYS if k[1] != "whatsapp"]  # WhatsApp sends Meta-approved templates, not edited texts


@pytest.mark.parametrize("key", CHECKED, ids="-".join)
def test_every_referral_default_passes_the_checks_a_merchants_own_text_must_pass(key):
    step, channel, language, tone = key
    template = default_template(step, channel, language, tone)
    assert template is DEFAULT_TEMPLATES[(Step(step), Channel(channel), language, tone)]
    assert TemplateKey(Step(step), Channel(channel), language) == template_key(step, channel, language)
    problems = check_template(template_key(step, channel, language), subject=template.subject,
                              body=template.body, html=template.html)  # fmt: skip
    assert problems == []
    key = template_key(step, channel, language)
    shop = check_template(key, subject=template.subject, body=template.body, html=template.html,
                          shop_name="Tienda de Ejemplo Muy Larga", shop_domain="x.example")  # fmt: skip
    assert shop == []


def test_referral_steps_are_editable_by_email_push_and_sms():
    for step in REFERRAL_STEPS:
        assert [c for s, c in EDITABLE if s is step] == [Channel.EMAIL, Channel.PUSH, Channel.SMS]
    with pytest.raises(UnknownTemplate):
        template_key("invite", "whatsapp", "en")


@pytest.mark.parametrize(
    ("step", "channel", "missing", "message"),
    [
        ("review", "email", "{{ review_link }}", "review_link"),
        ("invite", "sms", "{{ referral_link }}", "referral_link"),  # the link carries the code, so that is enough
        ("invite", "email", "{{ referral_link }}", "referral_link"),
        ("reward", "push", "{{ reward_code }}", "reward_code"),
        ("social", "sms", "STOP", "STOP"),
    ],
)
def test_a_referral_text_without_what_its_step_gives_is_refused(step, channel, missing, message):
    template = default_template(step, channel, "en", "informal")
    body = template.body.replace(missing, "")
    html = template.html.replace(missing, "") if template.html else None
    problems = check_template(template_key(step, channel, "en"), subject=template.subject, body=body, html=html)
    assert problems and any(message in p.message for p in problems), problems


def test_a_referral_push_need_not_print_its_link_and_a_referral_text_needs_no_cart():
    template = default_template("invite", "push", "es", "formal")
    assert "referral_link" not in template.body and "cart" not in template.body
    assert check_template(template_key("invite", "push", "es"), subject=template.subject, body=template.body,
                          html=None) == []  # fmt: skip


def test_the_recovery_checks_still_want_the_cart_and_the_recovery_link():
    review = default_template("review", "sms", "en", "informal").body
    problems = check_template(template_key("prime", "sms", "en"), subject=None, body=review, html=None)
    assert {"body"} == {p.field for p in problems}
    assert any("cart" in p.message for p in problems) and any("recovery_link" in p.message for p in problems)
