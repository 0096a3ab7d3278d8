"""/templates and its editor in a browser: the list opens the editor, a text typed from the
keyboard is previewed live, saved through the save bar and shown again after a reload, a text
a send could not use is refused on its field with nothing stored, and one shop's texts are
never shown to or changed by another."""

from __future__ import annotations

import pytest

from tests.admin_ui.browser.conftest import expect
from tests.admin_ui.conftest import SHOP_A, SHOP_B

pytestmark = pytest.mark.slow  # starts Chromium

EDITOR = "/templates/prime/sms/en"
API = "/api/templates/prime/sms/en"
SMS = (
    "{{ shop_name }} kept {{ cart_summary }} ({{ cart_total }}).{% if discount_code %} Code {{ discount_code }}."
    "{% endif %} {{ recovery_link }} Reply STOP to opt out"
)


def prime_sms(client, headers) -> dict:
    listed = client.get("/api/templates", headers=headers).get_json()["templates"]
    [entry] = [t for t in listed if (t["step"], t["channel"], t["language"]) == ("prime", "sms", "en")]
    return entry


def test_the_list_opens_each_editor_and_both_render_with_labelled_fields(store, admin):
    tab = admin(store.domain)
    tab.open("/templates")
    page = tab.page
    expect(page.get_by_role("heading", name="Message texts")).to_be_visible()
    assert tab.unlabelled_controls() == []
    tab.screenshot("templates")

    page.get_by_role("link", name="Edit Revenue Recovery Prime SMS in English").click()
    expect(page.get_by_label("Message")).to_be_visible()
    assert page.url.split("?")[0].endswith(EDITOR)
    assert tab.unlabelled_controls() == []
    tab.screenshot("template-editor-sms")

    tab.open("/templates/first/email/en")
    expect(page.get_by_label("Subject")).not_to_have_value("")
    assert tab.unlabelled_controls() == []
    tab.screenshot("template-editor-email")
    assert tab.errors == []


def test_a_text_typed_from_the_keyboard_is_previewed_saved_and_shown_after_a_reload(store, admin, client):
    tab = admin(store.domain)
    tab.open(EDITOR)
    page = tab.page
    tab.tab_to(page.get_by_label("Message"))
    tab.type_over(SMS)
    expect(page.locator('[data-preview="body"]')).to_contain_text("Demo Shop kept")  # the live preview
    assert tab.save_by_keyboard() == {"message": "Template saved", "isError": False}
    entry = prime_sms(client, tab.auth)
    assert entry["custom"] and entry["body"] == SMS

    page.reload()
    expect(page.get_by_label("Message")).to_have_value(SMS)
    expect(page.locator('[data-state="custom"]')).to_be_visible()


def test_a_text_without_the_recovery_link_is_refused_on_its_field_and_not_stored(store, admin, client):
    tab = admin(store.domain)
    tab.open(EDITOR)
    page = tab.page
    tab.tab_to(page.get_by_label("Message"))
    tab.type_over("{{ shop_name }} misses you. Reply STOP to opt out")
    toast = tab.save_by_keyboard()
    assert toast["isError"] and "Nothing was saved" in toast["message"]
    expect(page.get_by_label("Message")).to_have_attribute("aria-invalid", "true")
    error = page.locator("s-text-area[name=body]").get_attribute("error")
    assert error and "recovery_link" in error
    expect(page.get_by_label("Message")).to_have_accessible_error_message(error)
    assert prime_sms(client, tab.auth)["custom"] is False
    assert "422 " + API in tab.take_refusals()
    tab.screenshot("template-editor-refused")


def test_a_preview_answered_after_a_refused_save_leaves_the_fields_error(store, admin):
    """The preview asked while the merchant typed may answer after the save was refused (a busy
    server): its answer must not wipe the error the refusal put on the field. Editing the field
    again clears it."""
    tab = admin(store.domain)
    tab.open(EDITOR)
    page = tab.page
    held = []
    page.route("**/api/templates/preview", lambda route: held.append(route))  # answered once released
    message = page.get_by_label("Message")
    tab.tab_to(message)
    tab.type_over("{{ shop_name }} misses you. Reply STOP to opt out")
    for _ in range(300):  # the debounced preview is asked 350 ms after the last keystroke
        if held:
            break
        page.wait_for_timeout(50)
    assert held, "the editor asked for no preview"
    toast = tab.save_by_keyboard()
    assert toast["isError"] and "Nothing was saved" in toast["message"]
    expect(message).to_have_attribute("aria-invalid", "true")

    for route in held:
        route.continue_()
    expect(page.locator('[data-preview="body"]')).to_contain_text("misses you")  # the late answer is shown
    expect(message).to_have_attribute("aria-invalid", "true")

    message.press("ControlOrMeta+End")  # back in the field (the save bar had the focus)
    page.keyboard.type(" {{ recovery_link }}")
    expect(message).not_to_have_attribute("aria-invalid", "true")
    assert "422 " + API in tab.take_refusals()


def test_one_shop_never_sees_or_changes_another_shops_text(shops, admin, client, bearer):
    assert client.put(API, json={"body": SMS}, headers=bearer(SHOP_A)).status_code == 200

    tab = admin(SHOP_B)
    tab.open(EDITOR)
    page = tab.page
    expect(page.get_by_label("Message")).not_to_have_value(SMS)
    expect(page.locator('[data-state="default"]')).to_be_visible()
    own = SMS.replace("kept", "still has")
    tab.tab_to(page.get_by_label("Message"))
    tab.type_over(own)
    assert tab.save_by_keyboard() == {"message": "Template saved", "isError": False}

    assert prime_sms(client, bearer(SHOP_B))["body"] == own
    assert prime_sms(client, bearer(SHOP_A))["body"] == SMS
