"""The template endpoints through the real routes: list, save, reset, preview, always for the
shop of the session token; refused input is 4xx with a reason, never a 500, and saves nothing."""

from __future__ import annotations

import json
import re
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from shop_app.messaging.defaults import LANGUAGES, default_template
from shop_app.messaging.merchant_templates import EDITABLE
from shop_app.shopify.shops import get_shop
from shop_app.storage.database import transaction
from shop_app.storage.tables import MessageTemplate
from tests.admin_ui.conftest import SHOP_A, SHOP_B
from tests.support import ShopifyStore

SMS_URL = "/api/templates/prime/sms/en"
EMAIL_URL = "/api/templates/first/email/es"
SMS = (
    "Hi {{ first_name }}, {{ shop_name }} saved {{ cart_summary }} ({{ cart_total }})."
    "{% if discount_code %} Code {{ discount_code }}.{% endif %} {{ recovery_link }} Reply STOP to opt out"
)
EMAIL = {
    "subject": "{{ shop_name }}: tu carrito",
    "body": "Hola {{ first_name }}:\n\n{{ cart_summary }} - {{ cart_total }}\n{% if discount_code %}Código: "
            "{{ discount_code }}\n{% endif %}{{ recovery_link }}\n\n{{ shop_name }}\nBaja: {{ unsubscribe_link }}",
    "html": None,
}  # fmt: skip
INJECTIONS = [
    "{{ ''.__class__.__mro__ }}",
    "{{ cycler.__init__.__globals__ }}",
    "{% for x in ().__class__.__base__.__subclasses__() %}{{ x }}{% endfor %}",
    "{{ self._TemplateReference__context }}",
    "{{ config.items() }}",
    "{{ request.application.__self__._get_data_for_json.__globals__ }}",
    "{{ lipsum.__globals__.os.popen('id').read() }}",
    "{{ first_name|attr('__class__') }}",
    "{{ 'x' * 100000000 }}",
    "{% set x = 'a' %}{{ x }}",
    "{% include '/etc/passwd' %}",
    "{{ coupon }}",
]


def stored(rt) -> list[tuple]:
    with transaction(rt.sessions) as session:
        rows = session.scalars(select(MessageTemplate).order_by(MessageTemplate.id)).all()
        return [(r.shop_id, r.step, r.channel, r.language, r.subject, r.body, r.html) for r in rows]


def put(client, headers, url, document):
    """`document` as JSON; bytes are sent as they are."""
    body = document if isinstance(document, bytes) else json.dumps(document)
    return client.put(url, data=body, headers={**headers, "Content-Type": "application/json"})


def preview(client, headers, document):
    body = document if isinstance(document, bytes) else json.dumps(document)
    return client.post("/api/templates/preview", data=body, headers={**headers, "Content-Type": "application/json"})


def error_fields(response) -> dict[str, str]:
    return {e["field"]: e["message"] for e in response.get_json()["errors"]}


# --- GET /api/templates ------------------------------------------------------------------------


def test_the_list_has_every_editable_text_with_the_defaults_in_the_shops_tone(client, store, bearer):
    body = client.get("/api/templates", headers=bearer()).get_json()
    assert body["tone"] == "informal" and body["sms_cap"] == 3 and "cart_summary" in body["fields"]
    keys = [(t["step"], t["channel"], t["language"]) for t in body["templates"]]
    assert keys == [(s.value, c.value, lang) for s, c in EDITABLE for lang in LANGUAGES]
    for entry in body["templates"]:
        default = default_template(entry["step"], entry["channel"], entry["language"], "informal")
        assert entry["custom"] is False and entry["updated_at"] is None
        assert (entry["subject"], entry["body"], entry["html"]) == (default.subject, default.body, default.html)
        if entry["channel"] == "sms":
            sms = entry["sms"]
            assert sms["encoding"] == "gsm-7" and 1 <= sms["segments"] <= 3 and sms["over"] is False
            assert sms["long_cart"]["segments"] <= 3 and sms["long_cart"]["over"] is False
        else:
            assert entry["sms"] is None


def test_the_tone_setting_changes_the_listed_defaults(client, store, bearer):
    settings_ = client.get("/api/settings", headers=bearer()).get_json()["settings"]
    assert settings_["tone"] == "informal"
    response = client.put("/api/settings", json={**settings_, "tone": "formal"}, headers=bearer())
    assert response.status_code == 200 and response.get_json()["settings"]["tone"] == "formal"
    listed = client.get("/api/templates", headers=bearer()).get_json()
    assert listed["tone"] == "formal"
    sms = next(t for t in listed["templates"] if (t["channel"], t["language"]) == ("sms", "es"))
    assert sms["body"] == default_template("prime", "sms", "es", "formal").body


@pytest.mark.parametrize("tone", ["casual", "", "FORMAL", None, 1, ["formal"]])
def test_a_bad_tone_is_a_field_error(client, store, bearer, tone):
    response = client.put("/api/settings", json={"tone": tone}, headers=bearer())
    assert response.status_code == 422
    assert error_fields(response) == {"tone": "must be one of informal, formal"}


# --- PUT /api/templates/<step>/<channel>/<language> --------------------------------------------


def test_put_saves_the_text_and_the_list_shows_it(client, rt, store, bearer):
    response = put(client, bearer(), SMS_URL, {"body": SMS, "subject": None, "html": None})
    assert response.status_code == 200, response.get_json()
    entry = response.get_json()["template"]
    assert entry["custom"] is True and entry["body"] == SMS and entry["updated_at"]
    assert entry["sms"]["segments"] <= 3 and entry["sms"]["encoding"] == "gsm-7"
    listed = client.get("/api/templates", headers=bearer()).get_json()["templates"]
    assert [t for t in listed if t["custom"]] == [entry]
    assert [row[1:] for row in stored(rt)] == [("prime", "sms", "en", None, SMS, None)]

    response = put(client, bearer(), EMAIL_URL, EMAIL)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["template"]["subject"] == EMAIL["subject"]


@pytest.mark.parametrize("injection", INJECTIONS)
@pytest.mark.parametrize("part", ["subject", "body", "html"])
def test_sandbox_escapes_are_refused_at_save_and_nothing_is_stored(client, rt, store, bearer, part, injection):
    document = dict(EMAIL)
    document[part] = (document[part] or "<p>{{ unsubscribe_link }}</p>") + injection
    response = put(client, bearer(), EMAIL_URL, document)
    assert response.status_code == 422, response.get_json()
    assert list(error_fields(response)) == [part]
    assert not error_fields(response)[part].startswith("must")  # refused by the sandbox, not a content rule
    assert stored(rt) == []


@pytest.mark.parametrize("injection", INJECTIONS)
def test_sandbox_escapes_in_an_sms_are_refused(client, rt, store, bearer, injection):
    response = put(client, bearer(), SMS_URL, {"body": injection + SMS})
    assert response.status_code == 422
    assert not error_fields(response)["body"].startswith("must")
    assert stored(rt) == []


def test_an_sms_over_the_cap_is_refused_with_the_count_and_the_encoding(client, rt, store, bearer):
    response = put(client, bearer(), SMS_URL, {"body": SMS + " Última oportunidad: ¡sólo hoy!"})
    assert response.status_code == 422
    message = error_fields(response)["body"]
    assert message.startswith("SMS is ") and "(UCS-2: Ú, ó;" in message and "— the cap is 3" in message
    response = put(client, bearer(), SMS_URL, {"body": SMS + " Last chance" * 20})
    assert response.status_code == 422
    assert "(GSM-7;" in error_fields(response)["body"]
    assert stored(rt) == []


def test_a_refused_save_keeps_the_text_saved_before(client, rt, store, bearer):
    assert put(client, bearer(), SMS_URL, {"body": SMS}).status_code == 200
    before = stored(rt)
    assert put(client, bearer(), SMS_URL, {"body": SMS.replace("{{ recovery_link }}", "")}).status_code == 422
    assert stored(rt) == before


@pytest.mark.parametrize(
    "url, message",
    [
        ("/api/templates/second/sms/en", "unknown step 'second'"),
        ("/api/templates/prime/fax/en", "unknown channel 'fax'"),
        ("/api/templates/prime/sms/fr", "unknown language 'fr'"),
        ("/api/templates/prime/whatsapp/en", "WhatsApp messages use the templates approved by Meta"),
        ("/api/templates/first/sms/en", "the first step sends no sms message"),
        ("/api/templates/prime/sms/en%00", "unknown language 'en\\x00'"),
    ],
)
def test_unknown_keys_are_404_with_a_reason(client, rt, store, bearer, url, message):
    for method in (client.put, client.delete):
        response = method(url, json={"body": SMS}, headers=bearer())
        assert response.status_code == 404
        assert response.get_json()["error"].startswith(message)
    assert client.get(url, headers=bearer()).status_code == 405
    assert stored(rt) == []


BAD_DOCUMENTS = [
    ([], {"template": "must be a JSON object with subject, body and html"}),
    ("sms", {"template": "must be a JSON object with subject, body and html"}),
    ({}, {"body": "is required"}),
    ({"body": None}, {"body": "is required"}),
    ({"body": "   \n"}, {"body": "is required"}),
    ({"body": 42}, {"body": "must be text (a string) or null"}),
    ({"body": {"$gt": ""}}, {"body": "must be text (a string) or null"}),
    ({"body": [SMS]}, {"body": "must be text (a string) or null"}),
    ({"body": SMS, "subject": "Hi"}, {"subject": "sms messages have no subject; send null"}),
    ({"body": SMS, "html": "<p>Hi</p>"}, {"html": "sms messages have no HTML body; send null"}),
    ({"body": SMS, "shop_id": 2}, {"shop_id": "unknown field; a template has subject, body and html"}),
    ({"body": SMS + "\u0000"}, {"body": "contains characters that cannot be stored (NUL or a lone surrogate)"}),
    ({"body": "x" * 100_000}, {"body": "is too long (100000 characters; the limit is 2000)"}),
]


@pytest.mark.parametrize("document, errors", BAD_DOCUMENTS, ids=range(len(BAD_DOCUMENTS)))
def test_bad_documents_are_422_with_field_errors(client, rt, store, bearer, document, errors):
    response = put(client, bearer(), SMS_URL, document)
    assert response.status_code == 422
    assert error_fields(response) == errors
    assert stored(rt) == []


def test_a_lone_surrogate_is_refused_not_a_server_error(client, rt, store, bearer):
    response = put(client, bearer(), SMS_URL, ('{"body": "Hi \\ud800 ' + SMS.replace('"', '\\"') + '"}').encode())
    assert response.status_code == 422 and "cannot be stored" in error_fields(response)["body"]
    assert stored(rt) == []


@pytest.mark.parametrize("body", [b"", b"{", b"\xff\xfe{}", b"NaN", b'{"body": Infinity}', b"[" * 100_000])
def test_malformed_json_is_400(client, rt, store, bearer, body):
    response = put(client, bearer(), SMS_URL, body)
    assert response.status_code == 400 and "not valid JSON" in response.get_json()["error"]
    assert stored(rt) == []


def test_a_body_over_the_request_limit_is_413_json(client, rt, store, bearer):
    response = put(client, bearer(), SMS_URL, {"body": "x" * 3_000_000})
    assert response.status_code == 413 and response.get_json() == {"error": "request body is too large"}


def test_an_email_needs_a_subject(client, rt, store, bearer):
    response = put(client, bearer(), EMAIL_URL, {**EMAIL, "subject": None})
    assert response.status_code == 422 and error_fields(response) == {"subject": "is required"}


TEXTS = st.one_of(st.none(), st.integers(), st.booleans(), st.text(max_size=40),
                  st.sampled_from([SMS, "{{ shop_name }}", "{%", "}}", "{{ recovery_link }} STOP"]),
                  st.lists(st.text(max_size=3), max_size=2))  # fmt: skip


@settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    document=st.dictionaries(st.sampled_from(["subject", "body", "html", "x"]), TEXTS, max_size=4)
    | st.recursive(st.none() | st.integers() | st.text(max_size=5), lambda inner: st.lists(inner, max_size=3))
)
def test_any_json_document_is_200_or_422(client, store, bearer, document):
    for url in (SMS_URL, EMAIL_URL, "/api/templates/first/push/en"):
        response = put(client, bearer(), url, document)
        assert response.status_code in (200, 422), (url, document, response.get_data(as_text=True))


@settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.binary(max_size=64))
def test_any_bytes_are_answered_without_a_server_error(client, store, bearer, body):
    assert put(client, bearer(), SMS_URL, body).status_code in (400, 422)
    assert preview(client, bearer(), body).status_code in (200, 400, 422)


# --- DELETE ------------------------------------------------------------------------------------


def test_delete_goes_back_to_the_default(client, rt, store, bearer):
    assert put(client, bearer(), SMS_URL, {"body": SMS}).status_code == 200
    response = client.delete(SMS_URL, headers=bearer())
    assert response.status_code == 200
    body = response.get_json()
    assert body["removed"] is True and body["template"]["custom"] is False
    assert body["template"]["body"] == default_template("prime", "sms", "en", "informal").body
    assert stored(rt) == []
    again = client.delete(SMS_URL, headers=bearer()).get_json()
    assert again["removed"] is False and again["template"] == body["template"]


# --- one shop, never another -------------------------------------------------------------------


def test_shops_never_see_or_change_each_others_texts(client, rt, store, bearer):
    ShopifyStore.install(rt, client, SHOP_B)
    assert put(client, bearer(SHOP_B), SMS_URL, {"body": SMS}).status_code == 200
    theirs = stored(rt)

    mine = client.get("/api/templates", headers=bearer(SHOP_A)).get_json()["templates"]
    assert not any(t["custom"] for t in mine)
    assert client.delete(SMS_URL, headers=bearer(SHOP_A)).get_json()["removed"] is False
    assert stored(rt) == theirs

    assert put(client, bearer(SHOP_A), SMS_URL, {"body": SMS.replace("Hi", "Hey")}).status_code == 200
    with transaction(rt.sessions) as session:
        a, b = get_shop(session, SHOP_A).id, get_shop(session, SHOP_B).id
    assert sorted((row[0], row[5][:3]) for row in stored(rt)) == sorted([(b, "Hi "), (a, "Hey")])
    theirs_now = client.get("/api/templates", headers=bearer(SHOP_B)).get_json()["templates"]
    assert [t["body"] for t in theirs_now if t["custom"]] == [SMS]


@pytest.mark.parametrize("method, url", [("get", "/api/templates"), ("put", SMS_URL), ("delete", SMS_URL),
                                         ("post", "/api/templates/preview")])  # fmt: skip
def test_every_template_endpoint_needs_a_session_token(client, rt, store, method, url):
    response = getattr(client, method)(url, json={"body": SMS, "channel": "sms"})
    assert response.status_code == 401
    assert stored(rt) == []


def test_a_shop_parameter_naming_another_shop_is_refused(client, rt, store, bearer):
    response = client.put(f"{SMS_URL}?shop={SHOP_B}", json={"body": SMS}, headers=bearer())
    assert response.status_code in (401, 403)
    assert stored(rt) == []


# --- POST /api/templates/preview ---------------------------------------------------------------


def test_preview_renders_sample_data_with_the_shops_name_and_the_sms_length(client, rt, store, bearer):
    response = preview(client, bearer(), {"channel": "sms", "language": "es", "body": SMS})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    shown = body["preview"]
    assert shown["body"].startswith("Hi Marta, Demo Shop saved 1 x Camisa de lino, 2 x Sombrero de paja (89.00 EUR).")
    assert "Code SAVE15-K7QM." in shown["body"] and shown["body"].endswith("Reply STOP to opt out")
    assert shown["subject"] is None and shown["html"] is None
    assert shown["sms"]["encoding"] == "gsm-7" and 1 <= shown["sms"]["segments"] <= 3
    assert body["problems"] == []
    assert stored(rt) == []  # a preview saves nothing

    plain = preview(client, bearer(), {"channel": "sms", "language": "es", "body": SMS, "with_discount": False})
    assert "SAVE15" not in plain.get_json()["preview"]["body"]


def test_preview_of_a_step_default_follows_the_tone(client, store, bearer):
    formal = preview(client, bearer(), {"channel": "email", "step": "first", "language": "en", "tone": "formal"})
    shown = formal.get_json()["preview"]
    assert shown["subject"] == "Demo Shop: your cart has been saved"
    assert shown["body"].startswith("Hello Emma,") and "Kind regards," in shown["body"]
    assert "<p>Hello Emma,</p>" in shown["html"] and formal.get_json()["problems"] == []
    informal = preview(client, bearer(), {"channel": "email", "step": "first", "language": "en"})
    assert informal.get_json()["preview"]["body"].startswith("Hi Emma,")  # the shop's tone


def test_preview_of_an_email_text_shows_the_html_part_it_will_get(client, store, bearer):
    response = preview(client, bearer(), {"channel": "email", "language": "es", **EMAIL})
    shown = response.get_json()["preview"]
    assert shown["subject"] == "Demo Shop: tu carrito"
    assert "<p>Hola Marta:</p>" in shown["html"] and '<a href="https://app.reclaim.example/u/' in shown["html"]
    assert response.get_json()["problems"] == []


def test_preview_shows_an_sms_over_the_cap_and_why_a_save_would_refuse_it(client, store, bearer):
    response = preview(client, bearer(), {"channel": "sms", "body": SMS + " ¡Última oportunidad!"})
    assert response.status_code == 200
    body = response.get_json()
    assert body["preview"]["sms"]["over"] is True and body["preview"]["sms"]["non_gsm"] == ["Ú"]  # ¡ is GSM-7
    assert body["preview"]["sms"]["encoding"] == "ucs-2"
    assert [p["field"] for p in body["problems"]] == ["body"]
    assert body["problems"][0]["message"].startswith(f"SMS is {body['preview']['sms']['segments']} segments")


@pytest.mark.parametrize("injection", INJECTIONS)
def test_preview_refuses_sandbox_escapes_with_the_reason(client, store, bearer, injection):
    response = preview(client, bearer(), {"channel": "email", "subject": "Hi", "body": injection})
    assert response.status_code == 422
    assert list(error_fields(response)) == ["body"]


@pytest.mark.parametrize(
    "document, field",
    [
        ({"body": SMS}, "channel"),
        ({"channel": "whatsapp", "body": SMS}, "channel"),
        ({"channel": ["sms"], "body": SMS}, "channel"),
        ({"channel": "sms", "body": SMS, "language": "fr"}, "language"),
        ({"channel": "sms", "body": SMS, "tone": "rude"}, "tone"),
        ({"channel": "sms", "body": SMS, "with_discount": "yes"}, "with_discount"),
        ({"channel": "sms", "body": SMS, "step": "first"}, "step"),
        ({"channel": "sms", "body": SMS, "step": {"a": 1}}, "step"),
        ({"channel": "sms", "body": 5}, "body"),
        ({"channel": "sms"}, "body"),
        ({"channel": "sms", "body": SMS, "extra": 1}, "extra"),
        ({"channel": "sms", "body": "{{ x"}, "body"),
        ({"channel": "sms", "body": "x" * 30_000}, "body"),
    ],
)
def test_bad_preview_requests_are_422(client, store, bearer, document, field):
    response = preview(client, bearer(), document)
    assert response.status_code == 422
    assert field in error_fields(response)


@settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(document=st.dictionaries(st.sampled_from(["channel", "language", "tone", "step", "subject", "body", "html",
                                                 "with_discount"]),
                                st.one_of(TEXTS, st.sampled_from(["sms", "email", "push", "first", "prime", "es",
                                                                  "formal"])), max_size=6))  # fmt: skip
def test_any_preview_request_is_200_or_422(client, store, bearer, document):
    response = preview(client, bearer(), document)
    assert response.status_code in (200, 422), (document, response.get_data(as_text=True))


# --- templates that would exhaust the worker (issue 9, item 3) ---------------------------------

NESTED_JOIN = "{{ cart_items|join(cart_items|join(cart_items|join(', '))) }}"
#: Each fails with some cart a checkout can bring (most render with the typical sample cart), with this reason.
FAILING = [
    (NESTED_JOIN, r"^the template builds more than 250000 characters|^the rendered text is longer than 200000"),
    ("{{ first_name|truncate(-5) }}", r"^truncate needs a length of at least 3 .*not -5$"),
    ("{{ 100 // (more_items - 480) }}", r"^the template fails to render: integer division or modulo by zero$"),
    ("{% if more_items %}{{ cart_items[20].title }}{% endif %}", r"^unknown field: list object has no element 20$"),
    ("{{ (1e308 * 10)|round(0, 'floor') }}", r"^the template fails to render: cannot convert float infinity"),
    ("{{ cart_items[first_name] }}", r"^unknown field: 'list object' has no attribute"),
]


@pytest.mark.parametrize("source, reason", FAILING)
def test_a_template_that_fails_with_some_cart_is_refused_at_save_quickly(client, rt, store, bearer, source, reason):
    document = {**EMAIL, "body": EMAIL["body"] + "\n" + source}
    started = time.perf_counter()
    response = put(client, bearer(), EMAIL_URL, document)
    assert time.perf_counter() - started < 1
    assert response.status_code == 422, response.get_json()
    assert re.search(reason, error_fields(response)["body"])
    assert stored(rt) == []


@pytest.mark.parametrize("source, reason", FAILING)
@pytest.mark.parametrize("part", ["subject", "body", "html"])
def test_preview_of_a_failing_template_is_never_a_server_error(client, store, bearer, source, reason, part):
    document = {"channel": "email", "language": "en", **EMAIL, part: (EMAIL[part] or "") + source}
    response = preview(client, bearer(), document)
    assert response.status_code in (200, 422), response.get_data(as_text=True)
    body = response.get_json()
    found = error_fields(response) if response.status_code == 422 else {p["field"]: p["message"] for p in
                                                                        body["problems"]}  # fmt: skip
    assert re.search(reason, found[part])


def test_the_fields_list_offers_more_items_for_and_n_more(client, store, bearer):
    assert "more_items" in client.get("/api/templates", headers=bearer()).get_json()["fields"]
