"""/settings/channels in a browser: the Twilio connection is saved from the keyboard and shown
again after a reload (never its token), a malformed one is refused on its field with nothing
stored, "send a test to me" works from the keyboard, and one shop never sees another's account."""

from __future__ import annotations

import pytest

from tests.admin_ui.browser.conftest import expect
from tests.admin_ui.conftest import SHOP_A, SHOP_B

pytestmark = pytest.mark.slow  # starts Chromium

SID_A = "AC" + "a1" * 16
SID_B = "AC" + "b2" * 16
TOKEN = "f" * 32


def twilio_of(client, tab) -> dict | None:
    answer = client.get("/api/channels", headers=tab.auth)
    assert answer.status_code == 200
    return answer.get_json()["twilio"]


def test_channels_renders_every_channel_with_labelled_fields(store, admin):
    tab = admin(store.domain)
    tab.open("/settings/channels")
    page = tab.page
    expect(page.get_by_role("heading", name="Channels", level=1)).to_be_visible()
    for section in ("Email", "SMS and WhatsApp (Twilio)", "WhatsApp templates", "Browser push"):
        expect(page.get_by_role("heading", name=section, exact=True)).to_be_visible()
    expect(page.get_by_label("Account SID")).to_have_value("")
    assert tab.unlabelled_controls() == []
    tab.screenshot("channels")
    assert tab.errors == []


def test_a_keyboard_user_connects_twilio_and_a_reload_shows_it_without_the_token(store, admin, client):
    tab = admin(store.domain)
    tab.open("/settings/channels")
    page = tab.page
    tab.tab_to(page.get_by_label("Account SID"))
    tab.type_over(SID_A)
    tab.tab_to(page.get_by_label("Auth token"))
    tab.type_over(TOKEN)
    tab.tab_to(page.get_by_label("SMS number"))
    tab.type_over("+14155550100")
    assert tab.save_by_keyboard() == {"message": "Twilio connected", "isError": False}
    assert twilio_of(client, tab)["account_sid"] == SID_A

    page.reload()
    expect(page.get_by_label("Account SID")).to_have_value(SID_A)
    expect(page.get_by_label("SMS number")).to_have_value("+14155550100")
    expect(page.get_by_label("Auth token")).to_have_value("")
    assert TOKEN not in page.content()
    expect(page.get_by_role("button", name="Disconnect")).to_be_visible()
    tab.screenshot("channels-connected")


def test_a_malformed_account_is_refused_on_its_field_and_nothing_is_stored(store, admin, client):
    tab = admin(store.domain)
    tab.open("/settings/channels")
    page = tab.page
    tab.tab_to(page.get_by_label("Account SID"))
    tab.type_over("AC123")
    tab.tab_to(page.get_by_label("Auth token"))
    tab.type_over(TOKEN)
    tab.tab_to(page.get_by_label("SMS number"))
    tab.type_over("+14155550100")
    toast = tab.save_by_keyboard()
    assert toast["isError"] and "Nothing was saved" in toast["message"]
    expect(page.get_by_label("Account SID")).to_have_accessible_error_message(
        "Account SID must be AC followed by 32 hexadecimal digits"
    )
    assert twilio_of(client, tab) is None
    assert tab.take_refusals() == ["422 /api/channels/twilio"]
    tab.screenshot("channels-refused")


def test_send_a_test_to_me_from_the_keyboard(store, admin):
    tab = admin(store.domain)
    tab.open("/settings/channels")
    page = tab.page
    email_test = page.locator("#test-email")
    tab.tab_to(email_test.get_by_label("Your email address"))
    tab.type_over("not an address")
    page.keyboard.press("Enter")  # Enter in a field submits its form
    expect(email_test.get_by_role("alert")).to_be_visible()
    assert tab.take_refusals() == ["422 /api/channels/test"]
    tab.tab_to(email_test.get_by_label("Your email address"), limit=1)  # the focus stayed in the field
    tab.type_over("owner@example.com")
    tab.tab_to(email_test.get_by_role("button", name="Send a test to me"))
    before = len(tab.toasts())
    page.keyboard.press("Enter")
    assert tab.wait_for_toast(before) == {"message": "Test sent", "isError": False}
    expect(email_test.get_by_text("Sent to owner@example.com")).to_be_visible()
    expect(email_test.get_by_role("alert")).to_have_count(0)


def test_shop_b_never_sees_or_changes_shop_a_account(shops, admin, client, bearer):
    body = {"account_sid": SID_A, "auth_token": TOKEN, "from_number": "+14155550100"}
    assert client.put("/api/channels/twilio", json=body, headers=bearer(SHOP_A)).status_code == 200

    tab = admin(SHOP_B)
    tab.open("/settings/channels")
    page = tab.page
    expect(page.get_by_label("Account SID")).to_have_value("")
    assert SID_A not in page.content()
    tab.tab_to(page.get_by_label("Account SID"))
    tab.type_over(SID_B)
    tab.tab_to(page.get_by_label("Auth token"))
    tab.type_over(TOKEN)
    tab.tab_to(page.get_by_label("SMS number"))
    tab.type_over("+14155550199")
    assert tab.save_by_keyboard() == {"message": "Twilio connected", "isError": False}

    assert twilio_of(client, tab)["account_sid"] == SID_B
    a = client.get("/api/channels", headers=bearer(SHOP_A)).get_json()["twilio"]
    assert (a["account_sid"], a["from_number"]) == (SID_A, "+14155550100")
