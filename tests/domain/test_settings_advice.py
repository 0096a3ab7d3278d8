"""ShopSettings advice beyond validation: the warnings the recovery page shows (product.md §3:
"the settings page warns"), and when a WhatsApp message of a cart abandoned now would go out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from shop_app.domain.models import Channel
from shop_app.domain.settings import ShopSettings

MADRID = ZoneInfo("Europe/Madrid")
ALL_CONNECTED = {channel: True for channel in Channel}


def parse(doc: dict) -> ShopSettings:
    return ShopSettings.from_document(doc, shop_timezone="Europe/Madrid")


def unique_first_code(expiry_hours: int, *, prime_hours: int = 40, first_minutes: int = 60, **steps: dict) -> dict:
    return {
        "recovery": {
            "first": {
                "delay_minutes": first_minutes,
                "incentive": {"type": "percentage", "value": 10, "code_mode": "unique", "expiry_hours": expiry_hours},
            },
            "prime": {"delay_hours": prime_hours, "incentive": {"type": "free_shipping", "code_mode": "unique"}},
            **steps,
        }
    }


# -- the first code lapses before Prime (40 h with a short expiry) ------------------------------


def test_a_short_first_code_with_a_40_hour_prime_is_warned_about() -> None:
    # First at 1 h, WhatsApp (same offer, its own code) at 2 h, each code valid 24 h: the last
    # one stops at 26 h, Prime comes at 40 h.
    assert parse(unique_first_code(24)).warnings() == [
        "recovery.first.incentive.expiry_hours: the first code stops working 26 h after abandonment, "
        "before Prime goes out at 40 h; make it valid for at least 38 h so the offer still works when "
        "Prime reminds the customer"
    ]


def test_the_same_expiry_with_a_16_hour_prime_is_fine() -> None:
    assert parse(unique_first_code(24, prime_hours=16)).warnings() == []


def test_the_default_72_hour_expiry_covers_a_40_hour_prime() -> None:
    assert parse(unique_first_code(72)).warnings() == []


def test_an_expiry_reaching_prime_exactly_is_fine_one_hour_less_is_not() -> None:
    assert parse(unique_first_code(38)).warnings() == []
    assert len(parse(unique_first_code(37)).warnings()) == 1


def test_without_the_whatsapp_step_the_first_message_counts() -> None:
    doc = unique_first_code(24, first_minutes=45, whatsapp={"enabled": False})
    (warning,) = parse(doc).warnings()
    assert "stops working 24 h 45 min after abandonment" in warning
    assert "at least 40 h" in warning  # 40 h - 45 min, rounded up to whole hours


def test_no_lapse_warning_for_the_merchants_own_code_or_without_prime() -> None:
    shared = unique_first_code(24)
    shared["recovery"]["first"]["incentive"] = {"type": "percentage", "value": 10, "code": "BACK10"}
    assert parse(shared).warnings() == []
    no_prime = unique_first_code(24)
    no_prime["recovery"]["prime"]["enabled"] = False
    assert parse(no_prime).warnings() == []


def test_no_lapse_warning_when_no_earlier_step_sends() -> None:
    doc = unique_first_code(1, whatsapp={"enabled": False})
    doc["recovery"]["first"]["enabled"] = False
    assert parse(doc).warnings() == []


# -- SMS / WhatsApp on but not connected --------------------------------------------------------


def test_defaults_without_twilio_warn_for_whatsapp_and_both_prime_channels() -> None:
    connected = {Channel.EMAIL: True, Channel.PUSH: True, Channel.SMS: False, Channel.WHATSAPP: False}
    assert parse({}).warnings(connected) == [
        "recovery.whatsapp.enabled: WhatsApp orchestration is on but WhatsApp is not connected; "
        "nothing goes out on it until you connect Twilio under Channels",
        "recovery.prime.channels: Prime sends by SMS but SMS is not connected; "
        "nothing goes out on it until you connect Twilio under Channels",
        "recovery.prime.channels: Prime sends by WhatsApp but WhatsApp is not connected; "
        "nothing goes out on it until you connect Twilio under Channels",
    ]


def test_connected_channels_and_steps_that_are_off_give_no_connection_warning() -> None:
    assert parse({}).warnings(ALL_CONNECTED) == []
    off = {"recovery": {"whatsapp": {"enabled": False}, "prime": {"channels": ["sms"]}}}
    assert parse(off).warnings({Channel.SMS: True, Channel.WHATSAPP: False}) == []
    both_off = parse({"recovery": {"prime": {"enabled": False}, "whatsapp": {"enabled": False}}})
    assert both_off.warnings({Channel.SMS: False, Channel.WHATSAPP: False}) == []


def test_connection_is_not_judged_without_the_facts() -> None:
    assert parse({}).warnings() == []
    assert parse({}).warnings({}) == []


def test_every_kind_of_warning_together_in_a_fixed_order() -> None:
    doc = unique_first_code(24)
    doc["recovery"]["prime"]["incentive"] = None
    warnings = parse(doc).warnings({Channel.SMS: False, Channel.WHATSAPP: True})
    assert [w.split(":", 1)[0] for w in warnings] == [
        "recovery.prime.incentive",
        "recovery.first.incentive.expiry_hours",
        "recovery.prime.channels",
    ]


# -- when WhatsApp would go out -----------------------------------------------------------------


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=MADRID)


def test_whatsapp_inside_the_window_goes_at_its_delay() -> None:
    # Monday 2 March 2026, 10:00 in Madrid; default 09:00-21:00 window, WhatsApp windowed.
    assert parse({}).whatsapp_time(at(2026, 3, 2, 10, 0)) == at(2026, 3, 2, 12, 0).astimezone(UTC)


def test_whatsapp_due_at_night_waits_for_the_next_window() -> None:
    settings = parse({"recovery": {"whatsapp": {"delay_minutes": 360}}})
    assert settings.whatsapp_time(at(2026, 3, 2, 20, 0)) == at(2026, 3, 3, 9, 0).astimezone(UTC)


def test_whatsapp_not_windowed_goes_at_night() -> None:
    settings = parse({"delivery_windows": {"channels": ["sms"]}})
    assert settings.whatsapp_time(at(2026, 3, 2, 23, 30)) == at(2026, 3, 3, 1, 30).astimezone(UTC)


def test_whatsapp_waits_for_the_next_open_day() -> None:
    days = {day: [] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    days["wed"] = [["10:00", "12:00"], ["16:00", "18:00"]]
    settings = parse({"delivery_windows": {"days": days}})
    assert settings.whatsapp_time(at(2026, 3, 2, 10, 0)) == at(2026, 3, 4, 10, 0).astimezone(UTC)
    assert settings.whatsapp_time(at(2026, 3, 4, 11, 0)) == at(2026, 3, 4, 16, 0).astimezone(UTC)


def test_no_whatsapp_time_while_the_step_is_off() -> None:
    assert parse({"recovery": {"whatsapp": {"enabled": False}}}).whatsapp_time(at(2026, 3, 2, 10, 0)) is None


@pytest.mark.parametrize("channel", [Channel.EMAIL, Channel.PUSH])
def test_release_time_leaves_channels_without_windows_alone(channel: Channel) -> None:
    night = at(2026, 3, 2, 23, 0)
    assert parse({}).release_time(channel, night) == night.astimezone(UTC)
    assert parse({}).release_time(Channel.SMS, night) - night.astimezone(UTC) == timedelta(hours=10)
