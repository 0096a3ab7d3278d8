"""/flows and /flows/recovery in a browser: the list opens the recovery configuration, whose
delays are changed from the keyboard, saved through the save bar and shown after a reload; a
delay out of range is refused on its field with nothing saved; and one shop's configuration is
never shown to or changed by another."""

from __future__ import annotations

import pytest

from tests.admin_ui.browser.conftest import expect
from tests.admin_ui.conftest import SHOP_A, SHOP_B

pytestmark = pytest.mark.slow  # starts Chromium

PATH = "/flows/recovery"


def recovery(client, headers) -> dict:
    answer = client.get("/api/settings", headers=headers)
    assert answer.status_code == 200
    return answer.get_json()["settings"]["recovery"]


def first_delay(page):
    return page.locator("#step-first").get_by_label("Send after")


def test_the_flows_list_and_the_recovery_configuration_render(store, admin):
    tab = admin(store.domain)
    tab.open("/flows")
    page = tab.page
    expect(page.get_by_role("heading", name="Revenue Recovery", exact=True)).to_be_visible()
    assert tab.unlabelled_controls() == []
    tab.screenshot("flows")

    tab.open(PATH)
    expect(first_delay(page)).to_have_value("60")
    expect(page.locator("#step-prime").get_by_label("Send after")).to_have_value("16")
    assert tab.unlabelled_controls() == []
    tab.screenshot("flows-recovery")
    assert tab.errors == []


def test_a_keyboard_user_changes_the_delays_and_a_reload_shows_them(store, admin, client):
    tab = admin(store.domain)
    tab.open(PATH)
    page = tab.page
    tab.tab_to(first_delay(page))
    tab.type_over("90")
    tab.tab_to(page.locator("#step-prime").get_by_label("Send after"))
    page.keyboard.press("ArrowDown")  # 16 h → 40 h
    tab.tab_to(page.locator("#step-prime").get_by_role("switch", name="Send Prime"))
    assert tab.save_by_keyboard() == {"message": "Configuration saved", "isError": False}
    saved = recovery(client, tab.auth)
    assert (saved["first"]["delay_minutes"], saved["prime"]["delay_hours"]) == (90, 40)

    page.reload()
    expect(first_delay(page)).to_have_value("90")
    expect(page.locator("#step-prime").get_by_label("Send after")).to_have_value("40")


def test_a_delay_out_of_range_is_refused_on_its_field_and_nothing_is_saved(store, admin, client):
    tab = admin(store.domain)
    tab.open(PATH)
    page = tab.page
    before = recovery(client, tab.auth)
    tab.tab_to(first_delay(page))
    tab.type_over("2")
    tab.tab_to(page.locator("#step-prime").get_by_label("Send after"))
    page.keyboard.press("ArrowDown")  # a valid change beside the invalid one: neither is saved
    toast = tab.save_by_keyboard()
    assert toast["isError"] and "Nothing was saved" in toast["message"]
    error = page.locator('[name="recovery.first.delay_minutes"]').get_attribute("error")
    assert error
    expect(first_delay(page)).to_have_accessible_error_message(error)
    assert recovery(client, tab.auth) == before
    assert tab.take_refusals() == ["422 /api/settings"]
    tab.screenshot("flows-recovery-refused")


def test_one_shop_never_sees_or_changes_another_shops_configuration(shops, admin, client, bearer):
    document = client.get("/api/settings", headers=bearer(SHOP_A)).get_json()["settings"]
    document["recovery"]["first"]["delay_minutes"] = 47
    assert client.put("/api/settings", json=document, headers=bearer(SHOP_A)).status_code == 200

    tab = admin(SHOP_B)
    tab.open(PATH)
    page = tab.page
    expect(first_delay(page)).to_have_value("60")
    tab.tab_to(first_delay(page))
    tab.type_over("75")
    assert tab.save_by_keyboard() == {"message": "Configuration saved", "isError": False}
    assert recovery(client, bearer(SHOP_B))["first"]["delay_minutes"] == 75
    assert recovery(client, bearer(SHOP_A))["first"]["delay_minutes"] == 47
