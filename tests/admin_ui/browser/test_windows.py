"""/settings/windows in a browser: a window is edited and one added from the keyboard, saved
through the save bar and shown after a reload; a window crossing midnight is refused on its own
field with nothing saved; and one shop's windows are never shown to or changed by another."""

from __future__ import annotations

import pytest

from tests.admin_ui.browser.conftest import expect
from tests.admin_ui.conftest import SHOP_A, SHOP_B

pytestmark = pytest.mark.slow  # starts Chromium

PATH = "/settings/windows"


def windows(client, headers) -> dict:
    answer = client.get("/api/settings", headers=headers)
    assert answer.status_code == 200
    return answer.get_json()["settings"]["delivery_windows"]


def put_monday(client, headers, intervals: list[list[str]]) -> None:
    document = client.get("/api/settings", headers=headers).get_json()["settings"]
    document["delivery_windows"]["days"]["mon"] = intervals
    assert client.put("/api/settings", json=document, headers=headers).status_code == 200


def test_windows_renders_every_day_with_labelled_fields(store, admin):
    tab = admin(store.domain)
    tab.open(PATH)
    page = tab.page
    expect(page.get_by_role("heading", name="Opening hours")).to_be_visible()
    expect(page.get_by_label("Time zone")).to_have_value("Europe/Madrid")
    expect(page.get_by_role("checkbox", name="WhatsApp")).to_be_checked()
    assert tab.unlabelled_controls() == []
    tab.screenshot("windows")
    assert tab.errors == []


def test_a_keyboard_user_edits_and_adds_windows_and_a_reload_shows_them(store, admin, client):
    tab = admin(store.domain)
    tab.open(PATH)
    page = tab.page
    tab.tab_to(page.get_by_label("Monday, window 1"))
    tab.type_over("08:00-12:00")
    tab.tab_to(page.get_by_role("button", name="Add a window on Monday"))
    page.keyboard.press("Enter")  # the new field takes the focus
    expect(page.get_by_label("Monday, window 2")).to_be_focused()
    page.keyboard.type("15:00-19:30")
    assert tab.save_by_keyboard() == {"message": "Configuration saved", "isError": False}
    assert windows(client, tab.auth)["days"]["mon"] == [["08:00", "12:00"], ["15:00", "19:30"]]

    page.reload()
    expect(page.get_by_label("Monday, window 1")).to_have_value("08:00–12:00")
    expect(page.get_by_label("Monday, window 2")).to_have_value("15:00–19:30")


def test_a_window_crossing_midnight_is_refused_on_its_field_and_nothing_is_saved(store, admin, client):
    tab = admin(store.domain)
    tab.open(PATH)
    page = tab.page
    before = windows(client, tab.auth)
    tab.tab_to(page.get_by_label("Monday, window 1"))
    tab.type_over("22:00-02:00")
    tab.tab_to(page.get_by_label("Time zone"))
    page.keyboard.press("ArrowDown")  # another zone too: nothing of the document may be saved
    toast = tab.save_by_keyboard()
    assert toast["isError"] and "Nothing was saved" in toast["message"]
    expect(page.get_by_label("Monday, window 1")).to_have_accessible_error_message(
        "22:00-02:00 crosses midnight, and a window must end by 24:00: "
        "split it into 22:00-24:00 and 00:00-02:00 on the next day"
    )
    assert windows(client, tab.auth) == before
    assert tab.take_refusals() == ["422 /api/settings"]
    tab.screenshot("windows-refused")


def test_one_shop_never_sees_or_changes_another_shops_windows(shops, admin, client, bearer):
    put_monday(client, bearer(SHOP_A), [["07:15", "08:45"]])
    tab = admin(SHOP_B)
    tab.open(PATH)
    page = tab.page
    expect(page.get_by_label("Monday, window 1")).not_to_have_value("07:15–08:45")
    # The page also shows the time now and when WhatsApp would go out: a bare "07:15" may be either.
    assert not any(window in page.content() for window in ("07:15–08:45", "07:15-08:45"))
    tab.tab_to(page.get_by_label("Monday, window 1"))
    tab.type_over("10:00-11:00")
    assert tab.save_by_keyboard() == {"message": "Configuration saved", "isError": False}
    assert windows(client, bearer(SHOP_B))["days"]["mon"] == [["10:00", "11:00"]]
    assert windows(client, bearer(SHOP_A))["days"]["mon"] == [["07:15", "08:45"]]
