"""The development stand-ins for App Bridge and Polaris, on a page of their own.

The admin's browser tests (and the offline demo) stand on these two files, so they are checked
here on a page that uses them the way the admin pages do, apart from any page's own work:
labelled native controls that give the form its values, the save bar, keyboard-only saving,
field errors, toasts, the session token and the bounce page.
"""

from __future__ import annotations

import pytest

from tests.admin_ui.browser.conftest import BANNER, expect

pytestmark = pytest.mark.slow  # starts Chromium

ORIGIN = "https://stand-in.test"
PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="shopify-api-key" content="key">
<script src="https://cdn.shopify.com/shopifycloud/app-bridge.js"></script>
<script src="https://cdn.shopify.com/shopifycloud/polaris-1.js"></script>
<title>Stand-ins</title></head>
<body>
<s-app-nav><a href="/form" rel="home">Form</a><a href="/other">Other</a></s-app-nav>
<s-page heading="Stand-ins">
<form data-save-bar id="settings">
  <s-section heading="Fields">
    <s-button slot="primary-action" id="help">Help</s-button>
    <s-text-field name="sender" label="Sender name" value="Demo Shop" details="Shown to customers"></s-text-field>
    <s-number-field name="delay" label="Delay" value="60" min="1" suffix="minutes"></s-number-field>
    <s-select name="mode" label="Code mode">
      <s-option value="unique">Unique</s-option><s-option value="shared" selected>Shared</s-option>
    </s-select>
    <s-checkbox name="sms" label="Send SMS" checked></s-checkbox>
    <s-switch name="whatsapp" label="WhatsApp" value="yes"></s-switch>
    <s-text-area name="body" label="Message" value="Hello"></s-text-area>
    <s-button type="submit" variant="primary">Save configuration</s-button>
  </s-section>
</form>
<s-text-field name="unlabelled"></s-text-field>
</s-page>
<script type="module">
  const form = document.getElementById("settings");
  window.submitted = [];
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    window.submitted.push(Object.fromEntries(new FormData(form)));
    shopify.toast.show("Saved");
  });
</script>
</body></html>"""
DEFAULTS = {"sender": "Demo Shop", "delay": "60", "mode": "shared", "sms": "on", "body": "Hello"}


@pytest.fixture
def tab(admin):
    """A tab (not signed in) whose every page on ORIGIN is PAGE, with the stand-ins from the CDN's URLs."""
    tab = admin(None)
    tab.context.route(f"{ORIGIN}/**", lambda route: route.fulfill(body=PAGE, content_type="text/html"))
    tab.page.goto(f"{ORIGIN}/form?id_token=token-1")
    return tab


def form_data(tab) -> dict:
    return tab.page.evaluate("Object.fromEntries(new FormData(document.getElementById('settings')))")


def test_fields_are_labelled_native_controls_that_give_the_form_its_values(tab):
    page = tab.page
    expect(page.get_by_label("Sender name")).to_have_value("Demo Shop")
    expect(page.get_by_label("Sender name")).to_have_accessible_description("Shown to customers")
    expect(page.get_by_label("Delay")).to_have_value("60")
    expect(page.get_by_label("Code mode")).to_have_value("shared")
    expect(page.get_by_role("checkbox", name="Send SMS")).to_be_checked()
    expect(page.get_by_role("switch", name="WhatsApp")).not_to_be_checked()
    assert form_data(tab) == DEFAULTS
    # The label check finds the one field the page left without a label.
    assert tab.unlabelled_controls() == ["- textbox"]
    expect(page.get_by_role("note")).to_have_text(BANNER)
    expect(page.get_by_role("navigation").get_by_role("link", name="Form")).to_have_attribute("aria-current", "page")
    expect(page.get_by_role("button", name="Help")).to_be_visible()  # a named slot (the section's primary action)
    tab.screenshot("stand-ins")


def test_properties_reflect_their_attributes_as_the_manifest_names_them(tab):
    page = tab.page
    save = page.locator("s-button[type=submit]")
    save.evaluate("el => { el.disabled = true; el.accessibilityLabel = 'Save the fields'; }")
    expect(save).to_have_attribute("disabled", "")
    expect(page.get_by_role("button", name="Save the fields")).to_be_disabled()
    save.evaluate("el => { el.disabled = false; }")
    expect(page.get_by_role("button", name="Save the fields")).to_be_enabled()
    # defaultValue / defaultChecked are the attributes; value / checked the current state.
    sender = page.locator("s-text-field[name=sender]")
    assert sender.evaluate("el => { el.value = 'Typed'; return [el.defaultValue, el.value]; }") == [
        "Demo Shop",
        "Typed",
    ]
    sms = page.locator("s-checkbox[name=sms]")
    assert sms.evaluate("el => { el.defaultChecked = false; return [el.hasAttribute('checked'), el.checked]; }") == [
        False,
        False,
    ]
    assert page.locator("s-number-field").evaluate("el => el.min") == 1  # a number in the manifest


def test_a_keyboard_user_edits_and_saves_through_the_save_bar(tab):
    page = tab.page
    save_bar = page.get_by_role("region", name="Unsaved changes")
    expect(save_bar).to_be_hidden()
    tab.tab_to(page.get_by_label("Delay"))
    tab.type_over("90")
    expect(save_bar).to_be_visible()
    tab.tab_to(page.get_by_role("switch", name="WhatsApp"))
    page.keyboard.press("Space")
    assert tab.save_by_keyboard() == {"message": "Saved", "isError": False}
    assert page.evaluate("window.submitted") == [{**DEFAULTS, "delay": "90", "whatsapp": "yes"}]
    expect(save_bar).to_be_hidden()
    expect(page.get_by_role("status").filter(has_text="Saved")).to_be_visible()

    # The page's own submit button works from the keyboard too (Space), and so does a select.
    tab.tab_to(page.get_by_label("Code mode"))
    page.keyboard.press("ArrowUp")
    tab.tab_to(page.get_by_role("checkbox", name="Send SMS"))
    page.keyboard.press("Space")
    tab.tab_to(page.get_by_role("button", name="Save configuration"))
    page.keyboard.press("Space")
    page.wait_for_function("window.submitted.length === 2")
    unchecked_sms = {k: v for k, v in DEFAULTS.items() if k != "sms"}  # an unchecked box sends nothing
    assert page.evaluate("window.submitted[1]") == {**unchecked_sms, "delay": "90", "whatsapp": "yes", "mode": "unique"}


def test_enter_in_a_text_field_submits_and_discard_restores_the_page_values(tab):
    page = tab.page
    page.get_by_label("Sender name").fill("Other Shop")
    page.get_by_label("Message").fill("Changed")
    page.get_by_role("checkbox", name="Send SMS").uncheck()
    page.get_by_role("region", name="Unsaved changes").get_by_role("button", name="Discard").click()
    expect(page.get_by_label("Sender name")).to_have_value("Demo Shop")
    expect(page.get_by_label("Message")).to_have_value("Hello")
    expect(page.get_by_role("checkbox", name="Send SMS")).to_be_checked()
    assert form_data(tab) == DEFAULTS
    expect(page.get_by_role("region", name="Unsaved changes")).to_be_hidden()

    page.get_by_label("Sender name").press("Enter")
    page.wait_for_function("window.submitted.length === 1")
    assert page.evaluate("window.submitted[0]") == DEFAULTS


def test_an_error_attribute_is_shown_with_its_field_until_removed(tab):
    page = tab.page
    delay = page.get_by_label("Delay")
    page.locator("s-number-field").evaluate("el => el.setAttribute('error', 'Enter 1 to 1440 minutes')")
    expect(delay).to_have_accessible_error_message("Enter 1 to 1440 minutes")
    expect(delay).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_role("alert")).to_have_text("Enter 1 to 1440 minutes")
    tab.tab_to(delay)
    tab.type_over("15")  # the error stays while the person types (the page clears it on save)
    page.locator("s-number-field").evaluate("el => el.removeAttribute('error')")
    expect(delay).not_to_have_attribute("aria-invalid", "true")
    expect(page.get_by_role("alert")).to_have_count(0)
    expect(delay).to_have_value("15")


def test_the_session_token_is_kept_and_the_bounce_page_reopens_a_page_with_it(tab):
    page = tab.page
    assert page.evaluate("shopify.idToken()") == "token-1"
    page.goto(f"{ORIGIN}/auth/session-token?shopify-reload={ORIGIN}/other%3Fshop%3Da.myshopify.com")
    page.wait_for_url(f"{ORIGIN}/other?shop=a.myshopify.com&id_token=token-1")
    assert page.evaluate("shopify.idToken()") == "token-1"

    # The token is never handed to another origin.
    page.goto(f"{ORIGIN}/auth/session-token?shopify-reload=https://elsewhere.test/")
    expect(page.get_by_role("alert")).to_contain_text("https://elsewhere.test is not this app's origin")
    assert page.url.startswith(f"{ORIGIN}/auth/session-token")
