"""/settings/windows through the real routes: the saved intervals per weekday, the time zone and
the windowed channels; a save through PUT /api/settings with each interval named by its path, a
window crossing midnight refused on its own field with nothing saved; and "if a cart were
abandoned now, WhatsApp would go out at …" from the domain's window code."""

from __future__ import annotations

import copy
import re
from datetime import UTC, datetime

import pytest

from admin_ui.pages import windows
from tests.admin_ui.conftest import SHOP_A, SHOP_B
from tests.admin_ui.pages.test_flows import (
    BROWSER,
    controls,
    form_document,
    page,
    rendered_document,
    shown_value,
    stored,
    text_of,
)

PATH = "/settings/windows"
CLOSED = {"mon": [], "tue": [], "wed": [], "thu": [], "fri": [], "sat": [], "sun": []}
#: Saturday 7 March 2026, 23:30 in Madrid (22:30 UTC).
SATURDAY_NIGHT = datetime(2026, 3, 7, 22, 30, tzinfo=UTC)
SPLIT = {
    **CLOSED,
    "mon": [["14:00", "18:00"], ["09:00", "12:00"]],
    "tue": [["09:00", "24:00"]],
    "sat": [["10:00", "14:00"]],
}


def at(monkeypatch, now: datetime) -> None:
    monkeypatch.setattr(windows, "_now", lambda: now)


def intervals(html: str) -> dict[str, list[str]]:
    """Each day's interval fields, in page order: "mon[0]" → "09:00–12:00"."""
    found: dict[str, list[str]] = {day: [] for day in CLOSED}
    for name, control in controls(html).items():
        if name.startswith("delivery_windows.days."):
            day, index = name.removeprefix("delivery_windows.days.").rstrip("]").split("[")
            assert int(index) == len(found[day]), f"{name} is out of order"
            found[day].append(control["value"])
    return found


def with_days(html: str, days: dict, **changes) -> dict:
    """What windows.js PUTs: the form's controls over the rendered document, and `days` as the
    interval fields hold them (parseInterval splits "HH:MM–HH:MM")."""
    document = form_document(html, changes)
    document["delivery_windows"]["days"] = days
    return document


# --- what the page shows -------------------------------------------------------------------------


def test_the_page_shows_each_days_intervals_the_zone_and_the_windowed_channels(client, store, sign_in):
    store.set_settings({"delivery_windows": {"timezone": "America/New_York", "channels": ["sms", "email"],
                                             "days": SPLIT}})  # fmt: skip
    html = page(client, sign_in, PATH)
    assert intervals(html) == {
        **{day: [] for day in CLOSED},
        "mon": ["09:00–12:00", "14:00–18:00"],  # kept sorted
        "tue": ["09:00–24:00"],
        "sat": ["10:00–14:00"],
    }
    shown = controls(html)
    assert shown_value(shown["delivery_windows.timezone"]) == "America/New_York"
    assert shown_value(shown["delivery_windows.channels"]) == ["email", "sms"]
    assert shown["delivery_windows.days.mon[1]"]["label"] == "Monday, window 2"
    assert text_of(html, "day-sun") == "Sunday Closed Add window"
    assert re.search(r'id="day-sun".*?<s-text color="subdued" data-closed>Closed', html, re.S)
    assert re.search(r'id="day-mon".*?<s-text color="subdued" data-closed hidden>Closed', html, re.S)


def test_the_time_zone_list_holds_iana_zones_and_the_saved_one(client, store, sign_in):
    options = controls(page(client, sign_in, PATH))
    assert shown_value(options["delivery_windows.timezone"]) == "Europe/Madrid"
    zones = windows.zone_names()
    assert "America/Argentina/Buenos_Aires" in zones and "Pacific/Apia" in zones and zones[0] == "UTC"
    assert not {"localtime", "Factory", "posixrules", "US/Eastern"} & set(zones)
    assert windows.zone_choices("US/Eastern")[0] == "US/Eastern"  # a legacy alias stays selectable


# --- saving --------------------------------------------------------------------------------------


def test_several_windows_a_day_are_saved_sorted_and_shown_again(client, rt, store, sign_in, bearer):
    html = page(client, sign_in, PATH)
    days = {**SPLIT, "sun": [["18:00", "24:00"], ["00:00", "02:00"]]}
    document = with_days(html, days, **{"delivery_windows.timezone": "Asia/Tokyo",
                                         "delivery_windows.channels": ["whatsapp"]})  # fmt: skip
    response = client.put("/api/settings", json=document, headers=bearer())
    assert response.status_code == 200, response.get_json()
    saved = stored(rt)["delivery_windows"]
    assert saved["timezone"] == "Asia/Tokyo" and saved["channels"] == ["whatsapp"]
    assert saved["days"]["mon"] == [["09:00", "12:00"], ["14:00", "18:00"]]
    assert saved["days"]["sun"] == [["00:00", "02:00"], ["18:00", "24:00"]]
    after = page(client, sign_in, PATH)
    assert intervals(after)["sun"] == ["00:00–02:00", "18:00–24:00"]
    assert rendered_document(after) == stored(rt)
    assert stored(rt)["recovery"] == rendered_document(html)["recovery"]  # the rest is untouched


def test_a_window_crossing_midnight_is_refused_on_its_own_field_and_nothing_is_saved(
    client, rt, store, sign_in, bearer
):
    store.set_settings({"delivery_windows": {"days": SPLIT}})
    before = stored(rt)
    html = page(client, sign_in, PATH)
    days = copy.deepcopy(SPLIT)
    days["mon"] = [["09:00", "12:00"], ["22:00", "02:00"]]  # the merchant edited Monday's second window
    document = with_days(html, days, **{"delivery_windows.timezone": "Asia/Tokyo"})
    response = client.put("/api/settings", json=document, headers=bearer())
    assert response.status_code == 422
    assert response.get_json()["errors"] == [
        {
            "field": "delivery_windows.days.mon[1]",
            "message": "22:00-02:00 crosses midnight, and a window must end by 24:00: "
            "split it into 22:00-24:00 and 00:00-02:00 on the next day",
        }
    ]
    assert "delivery_windows.days.mon[1]" in controls(html)  # the message lands on that field
    assert stored(rt) == before  # not even the time zone


@pytest.mark.parametrize(
    ("days", "changes", "field", "message"),
    [
        ({**CLOSED, "wed": [["9:00", "17:00"]]}, {}, "delivery_windows.days.wed[0]", "HH:MM"),
        ({**CLOSED, "wed": [["09:00", "17:00"], ["16:00", "18:00"]]}, {}, "delivery_windows.days.wed[1]",
         "overlaps 09:00-17:00"),
        ({**CLOSED, "wed": [["09:00", ""]]}, {}, "delivery_windows.days.wed[0]", "end ''"),
        (CLOSED, {}, "delivery_windows.days", "at least one day needs a delivery window"),
        (SPLIT, {"delivery_windows.timezone": "Mars/Olympus_Mons"}, "delivery_windows.timezone",
         "unknown time zone"),
        (SPLIT, {"delivery_windows.timezone": "localtime"}, "delivery_windows.timezone", "IANA"),
    ],
)  # fmt: skip
def test_refused_windows_name_their_field_and_nothing_is_saved(
    client, rt, store, sign_in, bearer, days, changes, field, message
):
    before = stored(rt)
    html = page(client, sign_in, PATH)
    response = client.put("/api/settings", json=with_days(html, days, **changes), headers=bearer())
    assert response.status_code == 422
    errors = {e["field"]: e["message"] for e in response.get_json()["errors"]}
    assert list(errors) == [field] and message in errors[field], errors
    assert stored(rt) == before


# --- when WhatsApp would go out ------------------------------------------------------------------


def test_a_cart_abandoned_on_saturday_night_gets_whatsapp_on_sunday_morning(client, store, sign_in, monkeypatch):
    at(monkeypatch, SATURDAY_NIGHT)
    html = page(client, sign_in, PATH)
    assert text_of(html, "whatsapp-forecast") == (
        "It is now Sat 7 Mar 2026, 23:30 in Europe/Madrid. "
        "If a cart were abandoned now, WhatsApp would go out at Sun 8 Mar 2026, 09:00 (Europe/Madrid). "
        "Its delay ends at Sun 8 Mar 2026, 01:30, outside the delivery windows, so it waits for the next one."
    )


def test_the_answer_follows_the_saved_windows(client, store, sign_in, bearer, monkeypatch):
    at(monkeypatch, SATURDAY_NIGHT)
    html = page(client, sign_in, PATH)
    # Closed on Sunday, Monday from 10:30: what the page says after the save (flows.js fetches it again).
    days = {day: [["10:30", "20:00"]] for day in CLOSED} | {"sun": []}
    assert client.put("/api/settings", json=with_days(html, days), headers=bearer()).status_code == 200
    forecast = text_of(page(client, sign_in, PATH), "whatsapp-forecast")
    assert "WhatsApp would go out at Mon 9 Mar 2026, 10:30 (Europe/Madrid)" in forecast

    not_windowed = with_days(html, days, **{"delivery_windows.channels": ["sms"]})
    assert client.put("/api/settings", json=not_windowed, headers=bearer()).status_code == 200
    forecast = text_of(page(client, sign_in, PATH), "whatsapp-forecast")
    assert "WhatsApp would go out at Sun 8 Mar 2026, 01:30 (Europe/Madrid)" in forecast
    assert "does not wait for the delivery windows" in forecast


def test_inside_a_window_whatsapp_goes_at_its_delay_and_off_means_never(client, store, sign_in, monkeypatch):
    at(monkeypatch, datetime(2026, 3, 9, 9, 0, tzinfo=UTC))  # Monday 10:00 in Madrid
    forecast = text_of(page(client, sign_in, PATH), "whatsapp-forecast")
    assert forecast.endswith("WhatsApp would go out at Mon 9 Mar 2026, 12:00 (Europe/Madrid).")
    store.set_settings({"recovery": {"whatsapp": {"enabled": False}}})
    forecast = text_of(page(client, sign_in, PATH), "whatsapp-forecast")
    assert forecast.endswith("WhatsApp orchestration is off, so no WhatsApp message would go out.")


# --- one shop, its own windows -----------------------------------------------------------------


def test_each_shop_sees_and_saves_only_its_own_windows(client, rt, shops, sign_in, bearer):
    shops.b.set_settings({"delivery_windows": {"timezone": "Asia/Tokyo", "days": SPLIT}})
    a_page, b_page = page(client, sign_in, PATH, SHOP_A), page(client, sign_in, PATH, SHOP_B)
    assert shown_value(controls(a_page)["delivery_windows.timezone"]) == "Europe/Madrid"
    assert shown_value(controls(b_page)["delivery_windows.timezone"]) == "Asia/Tokyo"
    assert intervals(a_page)["sat"] == ["09:00–21:00"] and intervals(b_page)["sat"] == ["10:00–14:00"]

    b_before = stored(rt, SHOP_B)
    saved = client.put("/api/settings", json=with_days(a_page, SPLIT), headers=bearer(SHOP_A))
    assert saved.status_code == 200
    assert stored(rt, SHOP_B) == b_before
    response = client.get(f"{PATH}?shop={SHOP_B}&id_token={sign_in(SHOP_A)}", headers=BROWSER)
    assert response.status_code == 403 and "Asia/Tokyo" not in response.get_data(as_text=True)
