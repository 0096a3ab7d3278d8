"""/templates and the editor: the list shows which text is in effect for every message, the editor
renders the text, its preview on the sample cart and the SMS length on the server, and its saves and
resets go through the template API, for the signed-in shop only."""

from __future__ import annotations

import html
import json
import re

import pytest

from admin_ui.pages.message_templates import FIELD_HELP
from shop_app.messaging.defaults import LANGUAGES, default_template
from shop_app.messaging.merchant_templates import EDITABLE
from shop_app.messaging.sandbox import FIELD_NAMES
from shop_app.shopify.shops import get_shop
from shop_app.storage.database import transaction
from shop_app.storage.tables import MessageTemplate
from tests.admin_ui.conftest import SHOP_A, SHOP_B
from tests.admin_ui.markup_spec import load_spec, markup_problems
from tests.conftest import shared_path
from tests.support import ShopifyStore

SMS = (
    "{{ shop_name }}: {{ cart_summary }} ({{ cart_total }}) waits for you."
    "{% if discount_code %} Code {{ discount_code }}.{% endif %} {{ recovery_link }} Reply STOP to opt out"
)


def page(client, sign_in, path: str, shop: str = SHOP_A):
    return client.get(f"{path}?shop={shop}&id_token={sign_in(shop)}", headers={"Accept": "text/html"})


def text_of(client, sign_in, path: str, shop: str = SHOP_A) -> str:
    response = page(client, sign_in, path, shop)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return response.get_data(as_text=True)


def put(client, headers, url, document):
    return client.put(url, data=json.dumps(document), headers={**headers, "Content-Type": "application/json"})


def row(page_html: str, key: str) -> str:
    """One <s-table-row> of the list, by its step/channel/language."""
    match = re.search(rf'<s-table-row data-template="{re.escape(key)}">(.*?)</s-table-row>', page_html, re.S)
    assert match, f"no row for {key}"
    return match.group(1)


def attribute(page_html: str, tag: str, name: str, attr: str) -> str | None:
    """The (unescaped) value of `attr` on the <tag name="name"> element, None when it has none."""
    match = re.search(rf'<{tag} name="{name}"[^>]*>', page_html)
    assert match, f"no <{tag} name={name}>"
    found = re.search(rf'\s{attr}="([^"]*)"', match.group(0))
    return html.unescape(found.group(1)) if found else None


# --- the list ------------------------------------------------------------------------------------


def test_the_list_shows_every_message_and_whether_it_is_the_default(client, store, sign_in, bearer):
    assert put(client, bearer(), "/api/templates/prime/sms/en", {"body": SMS}).status_code == 200
    listed = text_of(client, sign_in, "/templates")
    keys = re.findall(r'<s-table-row data-template="([^"]+)">', listed)
    assert keys == [f"{s.value}/{c.value}/{lang}" for s, c in EDITABLE for lang in LANGUAGES]
    assert "Customized" in row(listed, "prime/sms/en") and "Default" in row(listed, "prime/sms/es")
    assert all("Default" in row(listed, key) for key in keys if key != "prime/sms/en")
    assert re.search(r"\d segments? · GSM-7", row(listed, "prime/sms/en"))
    assert 'href="/templates/first/email/es"' in row(listed, "first/email/es")

    # Shop B's list: its own texts, all defaults.
    ShopifyStore.install(store.rt, client, SHOP_B)
    other = text_of(client, sign_in, "/templates", SHOP_B)
    assert "Customized</s-badge>" not in other


# --- the editor ----------------------------------------------------------------------------------


def test_the_sms_editor_shows_the_default_its_preview_and_its_length(client, store, sign_in):
    editor = text_of(client, sign_in, "/templates/prime/sms/en")
    default = default_template("prime", "sms", "en", "informal")
    assert attribute(editor, "s-text-area", "body", "value") == default.body
    assert '<s-text-field name="subject"' not in editor and '<s-text-area name="html"' not in editor
    assert 'data-state="custom" hidden' in editor and 'id="template-reset" tone="critical" disabled' in editor
    preview = re.search(r'data-preview="body"[^>]*>(.*?)</s-paragraph>', editor, re.S).group(1)
    assert "Demo Shop" in preview and "{{" not in preview  # the shop's own name in the sample
    segments = re.search(r'data-sms="segments">(\d) of 3<', editor)
    assert segments and 1 <= int(segments.group(1)) <= 3
    assert 'data-sms="encoding">GSM-7<' in editor
    assert "data-preview-problems hidden" in editor  # the default may be saved as it is
    for name in FIELD_NAMES:
        assert f'data-field="{name}"' in editor


def test_every_dynamic_field_is_explained():
    assert set(FIELD_HELP) == set(FIELD_NAMES)


def test_the_email_editor_has_subject_html_and_the_defaults_of_both_tones(client, store, sign_in):
    editor = text_of(client, sign_in, "/templates/first/email/es")
    formal = default_template("first", "email", "es", "formal")
    assert attribute(editor, "s-text-field", "subject", "value") == default_template("first", "email", "es").subject
    assert attribute(editor, "s-text-area", "html", "value") == (default_template("first", "email", "es").html or "")
    srcdoc = html.unescape(re.search(r'srcdoc="([^"]*)"', editor).group(1))
    assert "Demo Shop" in srcdoc and "<a href=" in srcdoc
    defaults = json.loads(re.search(r'id="template-defaults">(.*?)</script>', editor, re.S).group(1))
    assert set(defaults) == {"informal", "formal"} and defaults["formal"]["body"] == formal.body
    assert 'href="/templates/first/email/en">English version' in editor


def test_a_saved_text_is_shown_as_the_shops_own_and_a_reset_brings_the_default_back(client, store, sign_in, bearer):
    url = "/api/templates/prime/sms/en"
    assert put(client, bearer(), url, {"body": SMS}).status_code == 200
    editor = text_of(client, sign_in, "/templates/prime/sms/en")
    assert attribute(editor, "s-text-area", "body", "value") == SMS
    assert 'data-state="default" hidden' in editor and 'id="template-reset" tone="critical">' in editor

    # Shop B's editor for the same message still has the default.
    ShopifyStore.install(store.rt, client, SHOP_B)
    other = text_of(client, sign_in, "/templates/prime/sms/en", SHOP_B)
    assert attribute(other, "s-text-area", "body", "value") == default_template("prime", "sms", "en").body

    assert client.delete(url, headers=bearer()).get_json()["removed"] is True
    editor = text_of(client, sign_in, "/templates/prime/sms/en")
    assert attribute(editor, "s-text-area", "body", "value") == default_template("prime", "sms", "en").body


def test_a_refused_save_names_the_body_and_saves_nothing(client, store, sign_in, bearer, rt):
    refused = put(client, bearer(), "/api/templates/prime/sms/en", {"body": "{{ shop_name }}: come back! Reply STOP"})
    assert refused.status_code == 422
    fields = {e["field"] for e in refused.get_json()["errors"]}
    assert fields == {"body"}  # the editor's body control is named "body": the reason lands next to it
    with transaction(rt.sessions) as session:
        assert session.query(MessageTemplate).count() == 0
    assert "Default</s-badge>" in text_of(client, sign_in, "/templates/prime/sms/en")


def test_a_stored_text_that_no_longer_renders_shows_why_next_to_the_body(client, store, sign_in, rt):
    with transaction(rt.sessions) as session:  # written before a sandbox rule that now refuses it
        shop_id = get_shop(session, SHOP_A).id
        session.add(MessageTemplate(shop_id=shop_id, step="first", channel="push", language="en",
                                    subject="{{ shop_name }}", body="{{ coupon }} {{ cart_summary }}"))  # fmt: skip
    editor = text_of(client, sign_in, "/templates/first/push/en")
    assert "unknown field coupon" in (attribute(editor, "s-text-area", "body", "error") or "")
    assert "data-preview-problems hidden" not in editor and "body: unknown field coupon" in editor


@pytest.mark.parametrize(
    "path",
    ["/templates/first/sms/en", "/templates/whatsapp/whatsapp/en", "/templates/first/email/fr", "/templates/x/y/z"],
)
def test_a_message_that_has_no_editable_text_is_404(client, store, sign_in, path):
    assert page(client, sign_in, path).status_code == 404


@pytest.mark.contract
def test_every_editor_uses_only_what_polaris_defines(client, store, sign_in, bearer):
    """The markup check walks one editor (first/email/en); the others render other branches."""
    spec = load_spec(
        shared_path("fixtures", "polaris", "custom-elements.json"), shared_path("fixtures", "app-bridge", "index.d.ts")
    )
    assert put(client, bearer(), "/api/templates/prime/sms/es", {"body": SMS}).status_code == 200
    paths = [f"/templates/{s.value}/{c.value}/{lang}" for s, c in EDITABLE for lang in LANGUAGES]
    problems = {path: markup_problems(text_of(client, sign_in, path), spec) for path in paths}
    assert problems == {path: [] for path in paths}
