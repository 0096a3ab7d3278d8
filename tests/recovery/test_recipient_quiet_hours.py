"""Recipient quiet hours (issue 12), through the webhook routes, the dispatcher and the send worker:
a windowed message to a number that names one time zone waits for both the shop's window (Madrid,
09:00-21:00 unless a test narrows it) and the recipient's local 09:00-21:00; when they never meet,
the shop's window wins (product.md §7, rule 2) and the reason says so. A number whose region spans
several zones leaves the shop's window alone."""

from __future__ import annotations

from shop_app.domain.settings import DEFAULT_DAYS_DOCUMENT

NEW_YORK = "+12125550123"  # area code 212: America/New_York only
RUSSIA = "+79161234567"  # a Russian mobile: sixteen zones, from Europe/Kaliningrad's neighbours to Anadyr
SPAIN = "+34600111222"  # Spain's mobiles span Europe/Madrid and Atlantic/Canary

#: Monday 2 March 2026, 10:00 in Madrid (09:00 UTC, 04:00 in New York; the US moves to summer
#: time on 8 March, Europe on 29 March). The WhatsApp reminder falls due 2 h later: 12:00 Madrid.
ABANDONED = "2026-03-02T10:00:00+01:00"
WHATSAPP_DUE = "2026-03-02T11:00:00+00:00"  # 12:00 Madrid, 06:00 New York
NINE_IN_NEW_YORK = "2026-03-02T14:00:00+00:00"  # 15:00 Madrid


def abandon(store, phone: str) -> None:
    store.deliver("checkouts/create", store.checkout("c1", ABANDONED, phone=phone))


def sent_channels(store) -> list[str]:
    return [m["channel"] for m in store.outbox()]


def test_a_new_york_number_gets_whatsapp_at_nine_its_time_inside_the_madrid_window(store):
    abandon(store, NEW_YORK)
    assert store.message(step="whatsapp")["due_at"] == WHATSAPP_DUE  # planned by the shop's window alone

    store.tick(WHATSAPP_DUE)
    whatsapp = store.message(step="whatsapp")
    assert whatsapp["status"] == "scheduled"
    assert whatsapp["due_at"] == NINE_IN_NEW_YORK
    assert whatsapp["reason"] == (
        "outside the recipient's local hours (09:00-21:00); postponed to Mon 2026-03-02 15:00 Europe/Madrid"
    )
    assert sent_channels(store) == ["email"]  # email is not windowed

    store.tick("2026-03-02T13:59:00+00:00")
    assert store.message(step="whatsapp")["status"] == "scheduled"
    store.tick(NINE_IN_NEW_YORK)
    whatsapp = store.message(step="whatsapp")
    assert whatsapp["status"] == "sent" and whatsapp["sent_at"] == NINE_IN_NEW_YORK
    assert whatsapp["reason"] is None
    assert sent_channels(store) == ["email", "whatsapp"]
    assert store.outbox()[1]["to"] == NEW_YORK


def test_prime_at_night_in_madrid_and_evening_in_new_york_waits_for_both(store):
    """Prime falls due at 02:00 Madrid (20:00 New York): Madrid opens at 09:00 (03:00 in New York),
    so it goes at 09:00 New York, 15:00 Madrid."""
    abandon(store, NEW_YORK)
    store.tick(WHATSAPP_DUE)
    store.tick(NINE_IN_NEW_YORK)
    store.tick("2026-03-03T01:00:00+00:00")
    prime = store.messages(step="prime")
    assert {m["channel"] for m in prime} == {"sms", "whatsapp"}
    for row in prime:
        assert row["status"] == "scheduled" and row["due_at"] == "2026-03-03T14:00:00+00:00"
        assert row["reason"] == (
            "outside delivery window and the recipient's local hours (09:00-21:00); "
            "postponed to Tue 2026-03-03 15:00 Europe/Madrid"
        )
    store.tick("2026-03-03T08:00:00+00:00")  # Madrid opens; New York sleeps
    assert {m["status"] for m in store.messages(step="prime")} == {"scheduled"}
    store.tick("2026-03-03T14:00:00+00:00")
    assert {m["status"] for m in store.messages(step="prime")} == {"sent"}
    assert sorted(sent_channels(store)) == ["email", "sms", "whatsapp", "whatsapp"]


NO_OVERLAP = (
    "the shop's delivery window does not meet the recipient's local hours (09:00-21:00) within a day of its next "
    "opening"
)


def test_when_no_shop_window_meets_the_recipients_hours_the_shops_window_wins(store):
    """09:00-13:00 in Madrid is 03:00-07:00 in New York (04:00-08:00 after 8 March): never both.
    Due at 12:00 Madrid (06:00 New York), inside the shop's window: it goes, and the reason says why."""
    morning = {day: [["09:00", "13:00"]] for day in DEFAULT_DAYS_DOCUMENT}
    store.set_settings({"delivery_windows": {"days": morning}})
    abandon(store, NEW_YORK)
    store.tick(WHATSAPP_DUE)
    whatsapp = store.message(step="whatsapp")
    assert whatsapp["status"] == "sent" and whatsapp["sent_at"] == WHATSAPP_DUE
    assert whatsapp["reason"] == f"sent inside the delivery window, outside the recipient's local hours: {NO_OVERLAP}"


def test_a_message_found_after_the_window_closed_waits_for_the_shops_next_opening_not_the_recipient(store):
    """The worker reaches the reminder at 13:30 Madrid (07:30 New York), after the window closed:
    it waits for 09:00 Madrid, not for 09:00 New York, which is 15:00 in Madrid."""
    morning = {day: [["09:00", "13:00"]] for day in DEFAULT_DAYS_DOCUMENT}
    store.set_settings({"delivery_windows": {"days": morning}})
    abandon(store, NEW_YORK)
    store.tick("2026-03-02T12:30:00+00:00")
    whatsapp = store.message(step="whatsapp")
    assert whatsapp["status"] == "scheduled" and whatsapp["due_at"] == "2026-03-03T08:00:00+00:00"
    assert whatsapp["reason"] == (
        "outside delivery window; postponed to Tue 2026-03-03 09:00 Europe/Madrid, the window's next opening: "
        + NO_OVERLAP
    )
    store.tick(NINE_IN_NEW_YORK)  # 15:00 in Madrid: nothing goes outside the shop's window
    assert store.message(step="whatsapp")["status"] == "scheduled"
    assert sent_channels(store) == ["email"]

    # At 09:00 Madrid it goes, with the Prime messages due overnight: the window postponed it, so
    # Prime does not supersede it (gates.released_by_window; product.md §2: never dropped).
    store.tick("2026-03-03T08:00:00+00:00")
    whatsapp = store.message(step="whatsapp")
    assert (whatsapp["status"], whatsapp["sent_at"]) == ("sent", "2026-03-03T08:00:00+00:00")
    assert whatsapp["reason"] == f"sent inside the delivery window, outside the recipient's local hours: {NO_OVERLAP}"
    prime = store.messages(step="prime")
    assert {row["channel"] for row in prime} == {"sms", "whatsapp"}
    for row in prime:
        assert row["status"] == "sent" and row["sent_at"] == "2026-03-03T08:00:00+00:00"
        assert row["reason"] == f"sent inside the delivery window, outside the recipient's local hours: {NO_OVERLAP}"


def test_the_same_narrow_window_to_a_spanish_number_waits_for_the_shop_only(store):
    morning = {day: [["09:00", "13:00"]] for day in DEFAULT_DAYS_DOCUMENT}
    store.set_settings({"delivery_windows": {"days": morning}})
    abandon(store, SPAIN)  # Madrid or the Canaries: not one zone, so the shop's window alone
    store.tick(WHATSAPP_DUE)
    whatsapp = store.message(step="whatsapp")
    assert whatsapp["status"] == "sent" and whatsapp["reason"] is None


def test_a_number_with_several_zones_leaves_the_shops_window_alone(store):
    """At 12:00 Madrid it is 23:00 in Anadyr and 21:00 in Vladivostok: were any of the number's
    zones taken for the recipient's, the reminder would wait."""
    abandon(store, RUSSIA)
    store.tick(WHATSAPP_DUE)
    whatsapp = store.message(step="whatsapp")
    assert whatsapp["status"] == "sent" and whatsapp["sent_at"] == WHATSAPP_DUE
    assert whatsapp["reason"] is None
    assert store.outbox()[-1]["to"] == RUSSIA
