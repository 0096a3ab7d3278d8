from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jinja2.exceptions import SecurityError, UndefinedError

from shop_app.domain.models import RECOVERY_STEPS, Channel, Step
from shop_app.domain.sms import GSM7, MAX_SMS_SEGMENTS, UCS2
from shop_app.messaging import sandbox as templating
from shop_app.messaging.defaults import DEFAULT_TEMPLATES, LANGUAGES, TONES, default_template
from shop_app.messaging.sandbox import (
    FIELD_NAMES,
    SmsOverCap,
    TemplateRefused,
    preview,
    render,
    sample_fields,
    validate_template,
)
from tests.examples import examples

#: Revenue Recovery's defaults; the Referral Generation flow's: tests/messaging/test_referral_defaults.py.
COMBINATIONS = [(s, c, lang, tone) for s in RECOVERY_STEPS for c in Channel for lang in LANGUAGES for tone in TONES]

INJECTIONS = [
    "{{ ''.__class__.__mro__ }}",
    "{{ cycler.__init__.__globals__ }}",
    "{% for c in [].__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}",
    "{{ self }}",
    "{{ config }}",
    "{{ lipsum }}",
    "{{ range(10**9) }}",
    "{{ range(10**9)|length }}",
    "{{ 'x' * 1000000000 }}",
    "{{ '%0999999999d' % 1 }}",
    "{{ 9 ** 9 ** 9 }}",
    "{{ '{:999999999}'.format(1) }}",
    "{{ first_name.upper() }}",
    "{{ cart_items[0]['__class__'] }}",
    "{{ first_name|attr('__class__') }}",
    "{{ 'x'|center(999999999) }}",
    "{{ first_name|safe }}",
    "{% set a = 'xxxxxxxx' %}{% set a = a ~ a %}{{ a }}",
    "{% with a = first_name ~ first_name %}{{ a }}{% endwith %}",
    "{% include 'x.html' %}",
    "{% extends 'base.html' %}",
    "{% import 'm.html' as m %}",
    "{% macro m() %}x{% endmacro %}{{ m() }}",
    "{% for a in cart_items %}{% for b in cart_items %}{{ b }}{% endfor %}{% endfor %}",
    "{% for a in cart_items %}{{ loop.cycle('a', 'b') }}{% endfor %}",
]


def _parts(template):
    return {name: getattr(template, name) for name in ("subject", "body", "html", "url") if getattr(template, name)}


@pytest.mark.parametrize("key", COMBINATIONS, ids=lambda k: "-".join(str(getattr(p, "value", p)) for p in k))
def test_every_default_renders_and_validates(key):
    step, channel, language, tone = key
    template = DEFAULT_TEMPLATES[key]
    assert (
        set(_parts(template))
        == {
            Channel.EMAIL: {"subject", "body", "html"},
            Channel.PUSH: {"subject", "body", "url"},
            Channel.SMS: {"body"},
            Channel.WHATSAPP: {"body"},
        }[channel]
    )
    for with_discount in (True, False):
        fields = sample_fields(language, with_discount=with_discount)
        rendered = {name: render(src, fields, html=name == "html") for name, src in _parts(template).items()}
        text = "\n".join(rendered.values())
        assert fields.shop_name in text
        assert fields.recovery_link in text
        assert fields.cart_items[0].title in text and fields.cart_total in text
        assert ("SAVE15-K7QM" in text) is with_discount
        assert "None" not in text and "{{" not in text and "{%" not in text
        if channel is Channel.EMAIL:
            assert fields.unsubscribe_link in rendered["body"] and fields.unsubscribe_link in rendered["html"]
            assert "\n" not in rendered["subject"]
        if channel is Channel.SMS:
            length = templating.sms_length(rendered["body"].strip())
            assert length.encoding == GSM7 and length.segments <= MAX_SMS_SEGMENTS, (rendered["body"], length)
    if channel is Channel.SMS:
        report = templating.sms_report(template.body, language)
        assert not report.over, report.to_json()
        assert report.long_cart.length.encoding == GSM7
    for name, source in _parts(template).items():
        validate_template(source, channel, html=name == "html", language=language)


def test_default_lookup_falls_back_to_english_informal():
    assert (
        default_template("prime", "sms", "de", "casual")
        is DEFAULT_TEMPLATES[(Step.PRIME, Channel.SMS, "en", "informal")]
    )
    assert (
        default_template(Step.FIRST, Channel.EMAIL, "es", "formal")
        is DEFAULT_TEMPLATES[(Step.FIRST, Channel.EMAIL, "es", "formal")]
    )
    assert (
        default_template("first", "email", "es", "other")
        is DEFAULT_TEMPLATES[(Step.FIRST, Channel.EMAIL, "es", "informal")]
    )


def test_tones_and_languages_really_differ():
    sources = {DEFAULT_TEMPLATES[(Step.FIRST, Channel.EMAIL, lang, tone)].body for lang in LANGUAGES for tone in TONES}
    assert len(sources) == 4


@pytest.mark.parametrize("source", INJECTIONS)
@pytest.mark.parametrize("channel", [Channel.EMAIL, Channel.SMS])
def test_injections_are_refused_at_save(source, channel):
    with pytest.raises(TemplateRefused) as refused:
        validate_template(source, channel)
    assert refused.value.reason


@pytest.mark.parametrize("source", INJECTIONS)
@pytest.mark.parametrize("html", [False, True])
def test_injections_cannot_be_rendered(source, html):
    with pytest.raises(TemplateRefused):
        render(source, sample_fields(), html=html)


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ cart_items[0]['__class__'] }}",
        "{{ cart_items[0].__dict__ }}",
        "{{ first_name.__doc__ }}",
        "{{ first_name.upper() }}",
        "{{ 'x' * 1000000000 }}",
        "{{ '%0999999999d' % 1 }}",
        "{{ 9 ** 9 ** 9 }}",
    ],
)
def test_the_sandbox_itself_refuses_without_the_static_checks(source):
    """Defence in depth: the environment refuses even when the AST checks are bypassed."""
    env = templating._environment(autoescape=False)
    with pytest.raises((SecurityError, UndefinedError)):
        env.from_string(source).render(sample_fields().context())


def test_the_sandbox_has_no_globals_and_only_allowed_filters():
    env = templating._environment(autoescape=True)
    assert env.globals == {}
    assert set(env.filters) == set(templating.ALLOWED_FILTERS)
    assert "safe" not in env.filters and "attr" not in env.filters and "format" not in env.filters


def test_unknown_field_is_refused_and_named():
    with pytest.raises(TemplateRefused, match="coupon"):
        validate_template("Hi {{ first_name }}, use {{ coupon }}", Channel.EMAIL)
    with pytest.raises(TemplateRefused, match="coupon"):
        validate_template("{% if coupon is defined %}x{% endif %}", Channel.EMAIL)
    with pytest.raises(TemplateRefused) as refused:
        validate_template("{{ cart_items[0].titel }}", Channel.EMAIL)
    assert "no attribute 'titel'" in refused.value.reason  # for the merchant; str() names only the kind


def test_syntax_error_is_refused_with_the_line():
    with pytest.raises(TemplateRefused, match="line 2"):
        validate_template("Hi\n{{ first_name ", Channel.SMS)


def test_unknown_filter_is_refused():
    with pytest.raises(TemplateRefused, match="unknown filter 'center'"):
        validate_template("{{ shop_name|center(80) }}", Channel.EMAIL)


def test_every_documented_field_can_be_used():
    source = " ".join("{{ " + name + " }}" for name in sorted(FIELD_NAMES - {"cart_items"}))
    source += "{% for item in cart_items %} {{ item.title }} {{ item.quantity }} {{ item.price }}{% endfor %}"
    validate_template(source, Channel.EMAIL)
    assert "Straw hat 2 20.00 EUR" in render(source, sample_fields())


def test_sms_over_the_cap_is_refused_with_the_count_and_encoding():
    gsm = "{{ shop_name }} " + "a" * 460
    with pytest.raises(SmsOverCap, match=r"^SMS is 4 segments \(GSM-7; 471 characters\) — the cap is 3") as over:
        validate_template(gsm, Channel.SMS)
    assert over.value.segments == 4
    ucs = "{{ shop_name }} " + "ó" * 200
    with pytest.raises(SmsOverCap, match=r"^SMS is 4 segments \(UCS-2: ó; 211 characters\) — the cap is 3"):
        validate_template(ucs, Channel.SMS)
    validate_template(ucs, Channel.EMAIL)  # the cap is for SMS only
    validate_template("a" * (153 * MAX_SMS_SEGMENTS), Channel.SMS)


def test_one_accent_in_the_template_makes_a_linked_sms_ucs2_and_over_the_cap():
    """A real recovery link is ~210 characters: fine in GSM-7, over three UCS-2 parts (201)."""
    source = "{{ shop_name }}: {{ cart_summary }} {{ recovery_link }} STOP"
    validate_template(source, Channel.SMS)
    with pytest.raises(SmsOverCap, match=r"\(UCS-2: í, ú; \d+ characters\) — the cap is 3, with the sample data"):
        validate_template(source.replace("STOP", "STOP aquí sí, último"), Channel.SMS)


def test_sms_that_fits_only_the_typical_cart_is_refused_with_the_long_cart_count():
    # One line per product with the price: fine for two products, too long for four even when shortened.
    source = (
        "{{ shop_name }} {% for item in cart_items %}{{ item.quantity }} x {{ item.title }} at {{ item.price }}"
        " - {{ item.title }} is waiting for you; "
        "{% endfor %}{{ recovery_link }}"
    )
    fits = templating.sms_report(source)
    assert not fits.sample.over and fits.long_cart.over
    with pytest.raises(SmsOverCap, match="with a long cart .* even with the items shortened"):
        validate_template(source, Channel.SMS)


def test_sms_cap_checks_the_discount_branch_too():
    source = "{{ shop_name }}{% if discount_code %}" + "a" * 500 + "{% endif %}"
    with pytest.raises(TemplateRefused, match="segments"):
        validate_template(source, Channel.SMS)


def test_preview_returns_text_and_sms_length():
    shown = preview(DEFAULT_TEMPLATES[(Step.PRIME, Channel.SMS, "es", "informal")].body, "sms", "es", "informal")
    assert "Casa Verde" in shown.text and "SAVE15-K7QM" in shown.text
    assert shown.sms == templating.sms_length(shown.text) and shown.sms.segments >= 1
    assert preview("Hi {{ first_name }}", Channel.EMAIL, "en", "formal").sms is None


def test_html_bodies_escape_a_malicious_first_name():
    fields = replace(sample_fields(), first_name="<script>alert(1)</script>", shop_name='Tom & "Jerry"')
    html = render(DEFAULT_TEMPLATES[(Step.FIRST, Channel.EMAIL, "en", "informal")].html, fields, html=True)
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "Tom &amp; &#34;Jerry&#34;" in html


def test_text_channels_are_not_escaped():
    fields = replace(sample_fields(), first_name="Zoë <3", shop_name="Tom & Jerry")
    for channel in (Channel.SMS, Channel.WHATSAPP):
        text = render(DEFAULT_TEMPLATES[(Step.FIRST, channel, "en", "informal")].body, fields)
        assert "Zoë <3" in text and "Tom & Jerry" in text and "&amp;" not in text
    subject = render(DEFAULT_TEMPLATES[(Step.FIRST, Channel.EMAIL, "en", "informal")].subject, fields)
    assert subject.startswith("Tom & Jerry:")


def test_output_size_is_bounded(monkeypatch):
    monkeypatch.setattr(templating, "MAX_OUTPUT_CHARS", 100)
    with pytest.raises(TemplateRefused, match="longer than 100"):
        render("{% for item in cart_items %}" + "x" * 60 + "{% endfor %}", sample_fields())


def test_source_size_is_bounded():
    with pytest.raises(TemplateRefused, match="too long"):
        validate_template("a" * (templating.MAX_SOURCE_CHARS + 1), Channel.EMAIL)


def test_missing_optional_fields_render_empty():
    fields = replace(sample_fields(), first_name="", discount_code=None)
    assert render("[{{ discount_code }}]", fields) == "[]"
    text = render(DEFAULT_TEMPLATES[(Step.FIRST, Channel.SMS, "en", "informal")].body, fields)
    assert text.startswith("Hi there,")


def test_cart_summary_shows_three_items_then_a_count():
    items = tuple(templating.CartItem(f"Item {n}", 1, "1.00 EUR") for n in range(5))
    fields = replace(sample_fields(), cart_items=items)
    assert fields.cart_summary == "1 x Item 0, 1 x Item 1, 1 x Item 2, +2"


def test_a_template_that_only_works_for_two_items_is_refused():
    with pytest.raises(TemplateRefused, match="fails to render|unknown field"):
        validate_template("{{ cart_items[1].title }}", Channel.EMAIL)
    with pytest.raises(TemplateRefused, match="fails to render"):
        validate_template("{{ 10 / (cart_items|length - 1) }}", Channel.EMAIL)


# --- send-time shortening of an SMS ------------------------------------------------------------

SMS = DEFAULT_TEMPLATES[(Step.PRIME, Channel.SMS, "es", "informal")].body


def long_cart(language="es", **changes):
    return replace(sample_fields(language, cart="long", channel=Channel.SMS), **changes)


def test_an_sms_that_fits_is_sent_as_written():
    fields = sample_fields("es", channel=Channel.SMS)
    fit = templating.fit_sms(SMS, fields, "es")
    assert fit.text == render(SMS, fields).strip() and fit.changes == ()
    assert fit.length.segments <= MAX_SMS_SEGMENTS


def test_an_accented_name_that_pushes_the_sms_over_is_spelled_in_gsm7():
    fields = long_cart(first_name="Lucía")
    assert templating.sms_length(render(SMS, fields)).encoding == UCS2  # 5+ UCS-2 parts as written
    fit = templating.fit_sms(SMS, fields, "es")
    assert fit.text.startswith("Hola Lucia,") and fit.length.encoding == GSM7
    assert fit.length.segments <= MAX_SMS_SEGMENTS
    assert any("accents" in change for change in fit.changes)


def test_a_name_with_no_gsm7_spelling_is_left_out_not_mangled():
    fit = templating.fit_sms(SMS, long_cart(first_name="Дмитрий"), "es")
    assert fit.text.startswith("Hola,") and fit.length.encoding == GSM7


def test_a_long_cart_is_summarised_as_a_count_and_keeps_shop_link_and_total():
    items = tuple(templating.CartItem(f"Hand-thrown stoneware serving bowl no. {n}", 2, "89.00 EUR") for n in range(9))
    fields = long_cart(cart_items=items, cart_total="1,602.00 EUR")
    assert templating.sms_length(render(SMS, fields)).segments > MAX_SMS_SEGMENTS
    fit = templating.fit_sms(SMS, fields, "es")
    assert "(18 productos, 1,602.00 EUR)" in fit.text
    assert fields.shop_name in fit.text and fields.recovery_link in fit.text
    assert fit.changes == ('the items were shortened to "18 productos"',)


def test_loops_over_items_are_bounded_when_shortened():
    source = "{{ shop_name }}: {% for item in cart_items %}{{ item.title }}; {% endfor %}{{ recovery_link }} STOP"
    items = tuple(templating.CartItem("A very long product title that goes on and on", 1, "1.00 EUR") for _ in range(8))
    fit = templating.fit_sms(source, long_cart("en", cart_items=items), "en")
    assert fit.text.count("A very long product t...;") == templating.MAX_SUMMARY_ITEMS


def test_an_sms_still_over_the_cap_raises_with_the_count_and_encoding():
    fields = long_cart(shop_name="Тёплый дом")  # the shop's own name keeps the text UCS-2
    with pytest.raises(SmsOverCap, match=r"^SMS is [4-9] segments \(UCS-2: Т.*— the cap is 3, even with the items "
                                         r'shortened to "12 productos"$') as over:  # fmt: skip
        templating.fit_sms(SMS, fields, "es")
    assert over.value.segments > MAX_SMS_SEGMENTS


def test_gsm_folding_only_touches_data():
    fields = long_cart(first_name="Zoë", shop_name="Café “Olé”", discount_value="envío gratis")
    folded = templating.gsm_folded(fields)
    assert (folded.first_name, folded.shop_name, folded.discount_value) == ("Zoe", 'Café "Olé"', "envio gratis")
    assert folded.recovery_link == fields.recovery_link


LATIN = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZáéíóúñüçàèìòùâêîôûäëïöÁÉÍÓÚÑÜÇ -'’“”–…&"


@settings(max_examples=examples(2), deadline=None)
@given(
    first_name=st.text(alphabet=LATIN, max_size=14),
    titles=st.lists(st.text(alphabet=LATIN, min_size=1, max_size=120), min_size=1, max_size=40),
    quantity=st.integers(min_value=1, max_value=99),
    key=st.sampled_from([(lang, tone) for lang in LANGUAGES for tone in TONES]),
    with_discount=st.booleans(),
)
def test_default_sms_always_fits_for_data_within_the_long_sample(first_name, titles, quantity, key, with_discount):
    """The documented guarantee: names up to the long sample's length in Latin script, any number
    of products with titles of any length, go out within the cap after send-time shortening."""
    language, tone = key
    base = sample_fields(language, with_discount=with_discount, cart="long", channel=Channel.SMS)
    items = tuple(templating.CartItem(title, quantity, "1,249.00 EUR") for title in titles)
    fields = replace(base, first_name=first_name, cart_items=items, cart_total="99,999.00 EUR")
    fit = templating.fit_sms(DEFAULT_TEMPLATES[(Step.PRIME, Channel.SMS, language, tone)].body, fields, language)
    assert fit.length.segments <= MAX_SMS_SEGMENTS
    assert fields.recovery_link in fit.text and fields.shop_name in fit.text
