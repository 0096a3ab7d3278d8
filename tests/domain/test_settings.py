"""ShopSettings: defaults (product.md §1–3), validation of merchant input, round trip, warnings.

Every bad input must end in ONE ValidationError listing every refused field (admin page: "invalid
input is refused with a clear message next to the field, and nothing half-saved"), never any other
exception.
"""

from __future__ import annotations

import contextlib
import copy
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shop_app.domain.models import Channel
from shop_app.domain.settings import Incentive, ShopSettings
from shop_app.domain.validation import ValidationError
from shop_app.domain.windows import WEEKDAYS
from tests.examples import examples

TZ = "Europe/Madrid"


def parse(doc: object, tz: str = TZ) -> ShopSettings:
    return ShopSettings.from_document(doc, shop_timezone=tz)


def refused(doc: object, tz: str = TZ) -> ValidationError:
    with pytest.raises(ValidationError) as excinfo:
        parse(doc, tz)
    assert excinfo.value.errors, "a ValidationError must carry at least one FieldError"
    return excinfo.value


def fields(doc: object, tz: str = TZ) -> list[str]:
    return sorted(error.field for error in refused(doc, tz).errors)


def message_of(doc: object, field: str) -> str:
    matches = [e.message for e in refused(doc).errors if e.field == field]
    assert len(matches) == 1, f"expected one error on {field}, got {refused(doc).errors}"
    return matches[0]


def first(**values: object) -> dict:
    return {"recovery": {"first": values}}


def prime(**values: object) -> dict:
    return {"recovery": {"prime": values}}


def first_incentive(**values: object) -> dict:
    return first(incentive=values)


def prime_incentive(**values: object) -> dict:
    return prime(incentive=values)


# -- defaults ----------------------------------------------------------------------------------


def test_empty_document_gives_the_product_defaults() -> None:
    s = parse({})
    # §1 first stimulus: email + push, 1 hour after abandonment, no incentive.
    assert s.first.enabled is True
    assert s.first.delay_minutes == 60
    assert s.first.channels == (Channel.EMAIL, Channel.PUSH)
    assert s.first.incentive == Incentive()
    assert s.first.incentive.offered is False
    # §2 WhatsApp: on, 120 minutes.
    assert s.whatsapp.enabled is True
    assert s.whatsapp.delay_minutes == 120
    # §3 Prime: on, 16 hours, SMS + WhatsApp, no incentive until the merchant sets one.
    assert s.prime.enabled is True
    assert s.prime.delay_hours == 16
    assert s.prime.channels == (Channel.SMS, Channel.WHATSAPP)
    assert s.prime.incentive.offered is False
    # Delivery windows: 09:00-21:00 every day in the shop's zone, for WhatsApp and SMS.
    assert s.windows.timezone == TZ
    assert s.windows.days == tuple(((9 * 60, 21 * 60),) for _ in WEEKDAYS)
    assert set(s.windowed_channels) == {Channel.WHATSAPP, Channel.SMS}
    # Consent defaults.
    assert s.email_consent == "unless_unsubscribed"
    assert s.whatsapp_consent == "phone_marketing"
    # §4: messages speak informally unless the merchant picks the formal tone.
    assert s.tone == "informal"


def test_defaults_constructor_equals_empty_document() -> None:
    assert ShopSettings.defaults("America/New_York") == parse({}, "America/New_York")
    assert ShopSettings.defaults("America/New_York").windows.timezone == "America/New_York"


def test_default_document_shape() -> None:
    doc = parse({}).to_document()
    assert doc["recovery"]["first"] == {
        "enabled": True,
        "delay_minutes": 60,
        "channels": ["email", "push"],
        "incentive": {
            "type": "none",
            "value": None,
            "code_mode": "shared",
            "code": None,
            "expiry_hours": 72,
            "combines_with_shipping": False,
        },
    }
    assert doc["recovery"]["whatsapp"] == {"enabled": True, "delay_minutes": 120}
    assert doc["recovery"]["prime"]["delay_hours"] == 16
    assert doc["recovery"]["prime"]["channels"] == ["sms", "whatsapp"]
    assert doc["delivery_windows"]["timezone"] == TZ
    assert sorted(doc["delivery_windows"]["channels"]) == ["sms", "whatsapp"]
    assert doc["delivery_windows"]["days"] == {day: [["09:00", "21:00"]] for day in WEEKDAYS}
    assert doc["consent"] == {"email": "unless_unsubscribed", "whatsapp": "phone_marketing"}
    assert doc["tone"] == "informal"


@pytest.mark.parametrize("tone", ["informal", "formal"])
def test_tone_choices_round_trip(tone: str) -> None:
    s = parse({"tone": tone})
    assert s.tone == tone and parse(s.to_document()) == s


@pytest.mark.parametrize("tone", ["casual", "Formal", "", None, 1, True, ["formal"], {"tone": "formal"}])
def test_bad_tone_is_one_field_error(tone: object) -> None:
    assert message_of({"tone": tone}, "tone") == "must be one of informal, formal"


def test_bad_tone_is_reported_with_the_other_errors() -> None:
    assert fields({"tone": "loud", "recovery": {"first": {"delay_minutes": 1}}}) == [
        "recovery.first.delay_minutes",
        "tone",
    ]


def test_partial_document_keeps_defaults_for_the_rest() -> None:
    s = parse({"recovery": {"whatsapp": {"delay_minutes": 360}}})
    assert s.whatsapp.delay_minutes == 360
    assert s.first.delay_minutes == 60
    assert s.prime.delay_hours == 16


# -- accepted choices ---------------------------------------------------------------------------


@pytest.mark.parametrize("minutes", [120, 360])
def test_whatsapp_delay_choices(minutes: int) -> None:
    assert parse({"recovery": {"whatsapp": {"delay_minutes": minutes}}}).whatsapp.delay_minutes == minutes


@pytest.mark.parametrize("hours", [16, 40])
def test_prime_delay_choices(hours: int) -> None:
    assert parse(prime(delay_hours=hours)).prime.delay_hours == hours


@pytest.mark.parametrize("minutes", [5, 45, 7 * 24 * 60])
def test_first_delay_bounds_accepted(minutes: int) -> None:
    assert parse(first(delay_minutes=minutes)).first.delay_minutes == minutes


@pytest.mark.parametrize("minutes", [4, 0, -60, 7 * 24 * 60 + 1])
def test_first_delay_out_of_bounds(minutes: int) -> None:
    assert fields(first(delay_minutes=minutes)) == ["recovery.first.delay_minutes"]


def test_channel_subsets_and_order_are_kept() -> None:
    s = parse({"recovery": {"first": {"channels": ["push"]}, "prime": {"channels": ["whatsapp", "sms"]}}})
    assert s.first.channels == (Channel.PUSH,)
    assert s.prime.channels == (Channel.WHATSAPP, Channel.SMS)


def test_windowed_channels_may_be_empty() -> None:
    assert parse({"delivery_windows": {"channels": []}}).windowed_channels == ()


def test_disabled_steps() -> None:
    s = parse({"recovery": {"first": {"enabled": False}, "whatsapp": {"enabled": False}, "prime": {"enabled": False}}})
    assert (s.first.enabled, s.whatsapp.enabled, s.prime.enabled) == (False, False, False)


def test_shared_code_incentives() -> None:
    s = parse(
        {
            "recovery": {
                "first": {"incentive": {"type": "percentage", "value": 10, "code": "BACK10"}},
                "prime": {
                    "incentive": {"type": "fixed_amount", "value": "7.50", "code_mode": "shared", "code": "A-b_9"}
                },
            }
        }
    )
    assert s.first.incentive == Incentive("percentage", Decimal("10"), "shared", "BACK10")
    assert s.prime.incentive == Incentive("fixed_amount", Decimal("7.50"), "shared", "A-b_9")
    assert s.first.incentive.describe("EUR") == "10% off"
    assert s.prime.incentive.describe("EUR") == "7.50 EUR off"


def test_free_shipping_needs_no_value() -> None:
    inc = parse(prime_incentive(type="free_shipping", code="SHIPFREE")).prime.incentive
    assert inc == Incentive("free_shipping", None, "shared", "SHIPFREE")
    assert inc.describe("USD") == "free shipping"


@pytest.mark.parametrize("value", [100, "100", 0.5, "12.5"])
def test_percentage_edges_accepted(value: object) -> None:
    assert parse(first_incentive(type="percentage", value=value, code="X")).first.incentive.value == Decimal(str(value))


def test_windows_and_consent_from_document() -> None:
    days = {day: [] for day in WEEKDAYS} | {"mon": [["10:00", "12:00"], ["14:00", "18:00"]]}
    s = parse(
        {
            "delivery_windows": {"timezone": "Asia/Tokyo", "channels": ["whatsapp"], "days": days},
            "consent": {"email": "subscribers_only", "whatsapp": "explicit_optin"},
        }
    )
    assert s.windows.timezone == "Asia/Tokyo"
    assert s.windows.days[0] == ((600, 720), (840, 1080))
    assert s.windows.days[1:] == ((),) * 6
    assert s.windowed_channels == (Channel.WHATSAPP,)
    assert (s.email_consent, s.whatsapp_consent) == ("subscribers_only", "explicit_optin")


def test_document_timezone_without_days_uses_default_hours_in_that_zone() -> None:
    s = parse({"delivery_windows": {"timezone": "Asia/Tokyo"}})
    assert s.windows.timezone == "Asia/Tokyo"
    assert s.windows.days == tuple(((540, 1260),) for _ in WEEKDAYS)


# -- refused input: one field each ------------------------------------------------------------


@pytest.mark.parametrize(
    "doc, field",
    [
        ({"recovery": {"whatsapp": {"delay_minutes": 90}}}, "recovery.whatsapp.delay_minutes"),
        ({"recovery": {"whatsapp": {"delay_minutes": "120"}}}, "recovery.whatsapp.delay_minutes"),
        ({"recovery": {"whatsapp": {"delay_minutes": True}}}, "recovery.whatsapp.delay_minutes"),
        (prime(delay_hours=20), "recovery.prime.delay_hours"),
        (prime(delay_hours="16"), "recovery.prime.delay_hours"),
        (first(delay_minutes="60"), "recovery.first.delay_minutes"),
        (first(delay_minutes=60.0), "recovery.first.delay_minutes"),
        (first(delay_minutes=True), "recovery.first.delay_minutes"),
        (first(enabled="yes"), "recovery.first.enabled"),
        (first(enabled=1), "recovery.first.enabled"),
        (prime(enabled=None), "recovery.prime.enabled"),
        (first(channels=["email", "sms"]), "recovery.first.channels"),
        (first(channels=["whatsapp"]), "recovery.first.channels"),
        (prime(channels=["email"]), "recovery.prime.channels"),
        (prime(channels=["push", "sms"]), "recovery.prime.channels"),
        (first(channels=["email", "email"]), "recovery.first.channels"),
        (prime(channels=["sms", "sms"]), "recovery.prime.channels"),
        (first(channels="email"), "recovery.first.channels"),
        (first(channels=[]), "recovery.first.channels"),
        (prime(channels=[]), "recovery.prime.channels"),
        (first(channels=[["email"]]), "recovery.first.channels"),
        ({"delivery_windows": {"channels": ["fax"]}}, "delivery_windows.channels"),
        ({"delivery_windows": {"channels": ["sms", "sms"]}}, "delivery_windows.channels"),
        ({"delivery_windows": {"timezone": "Mars/Olympus"}}, "delivery_windows.timezone"),
        ({"delivery_windows": {"timezone": 5}}, "delivery_windows.timezone"),
        ({"delivery_windows": {"days": "always"}}, "delivery_windows.days"),
        ({"consent": {"email": "always"}}, "consent.email"),
        ({"consent": {"whatsapp": True}}, "consent.whatsapp"),
        ({"consent": "yes"}, "consent"),
        ({"recovery": None}, "recovery"),
        ({"recovery": {"first": []}}, "recovery.first"),
        ({"delivery_windows": 3}, "delivery_windows"),
        (first_incentive(type="bogo"), "recovery.first.incentive.type"),
        (first(incentive="10%"), "recovery.first.incentive"),
    ],
)
def test_single_bad_field(doc: dict, field: str) -> None:
    assert fields(doc) == [field]


@pytest.mark.parametrize(
    "doc, field",
    [
        ({"extra": 1}, "settings.extra"),
        ({"recovery": {"second": {}}}, "recovery.second"),
        (first(delay=60), "recovery.first.delay"),
        ({"recovery": {"whatsapp": {"channels": ["whatsapp"]}}}, "recovery.whatsapp.channels"),
        (prime(delay_minutes=960), "recovery.prime.delay_minutes"),
        ({"delivery_windows": {"tz": "UTC"}}, "delivery_windows.tz"),
        ({"consent": {"sms": "always"}}, "consent.sms"),
        (first_incentive(type="percentage", value=10, code="X", expires=72), "recovery.first.incentive.expires"),
    ],
)
def test_unknown_keys_are_refused(doc: dict, field: str) -> None:
    error = refused(doc)
    assert [(e.field, e.message) for e in error.errors] == [(field, "unknown setting")]


@pytest.mark.parametrize("value", [0, 101, -5, "abc", True, False, None, [10], {"v": 10}, "NaN", "Infinity", 1e309])
def test_bad_percentage(value: object) -> None:
    assert fields(first_incentive(type="percentage", value=value, code="SAVE")) == ["recovery.first.incentive.value"]


@pytest.mark.parametrize("value", [0, -1, "abc", True])
def test_bad_fixed_amount(value: object) -> None:
    assert fields(prime_incentive(type="fixed_amount", value=value, code="SAVE")) == ["recovery.prime.incentive.value"]


def test_fixed_amount_above_100_is_fine() -> None:
    assert parse(prime_incentive(type="fixed_amount", value=250, code="BIG")).prime.incentive.value == Decimal(250)


def test_percentage_messages() -> None:
    assert message_of(first_incentive(type="percentage", value=101, code="X"), "recovery.first.incentive.value") == (
        "must be between 0 and 100"
    )
    assert message_of(first_incentive(type="percentage", value="abc", code="X"), "recovery.first.incentive.value") == (
        "must be a number"
    )


@pytest.mark.parametrize(
    "code", [None, "", "SAVE 10", " SAVE10", "SAVE10 ", "ÄPFEL", "a" * 65, 10, ["SAVE"], "SAVE;DROP"]
)
def test_shared_mode_needs_a_plain_code(code: object) -> None:
    incentive = {"type": "percentage", "value": 10, "code_mode": "shared"}
    if code is not None:
        incentive["code"] = code
    assert fields(first(incentive=incentive)) == ["recovery.first.incentive.code"]


def test_shared_mode_is_the_default_and_still_needs_a_code() -> None:
    assert fields(prime_incentive(type="free_shipping")) == ["recovery.prime.incentive.code"]


def test_longest_allowed_code() -> None:
    assert parse(first_incentive(type="free_shipping", code="a" * 64)).first.incentive.code == "a" * 64


def test_unique_mode_needs_no_code_and_has_expiry_defaults() -> None:
    incentive = parse(prime_incentive(type="percentage", value=20, code_mode="unique", code="IGNORED")).prime.incentive
    assert (incentive.code_mode, incentive.code) == ("unique", None)
    assert (incentive.expiry_hours, incentive.combines_with_shipping) == (72, False)


def test_unique_mode_expiry_and_combination_are_checked() -> None:
    doc = prime_incentive(type="percentage", value=20, code_mode="unique", expiry_hours=0, combines_with_shipping="y")
    assert sorted(fields(doc)) == [
        "recovery.prime.incentive.combines_with_shipping",
        "recovery.prime.incentive.expiry_hours",
    ]


def test_bad_code_mode() -> None:
    doc = first_incentive(type="percentage", value=10, code_mode="random", code="OK")
    assert fields(doc) == ["recovery.first.incentive.code_mode"]


def test_no_incentive_ignores_the_other_incentive_fields() -> None:
    assert parse(first_incentive(type="none", value="abc", code="bad code")).first.incentive == Incentive()


# -- refused input: everything at once --------------------------------------------------------


def test_every_problem_is_collected_into_one_error() -> None:
    doc = {
        "recovery": {
            "first": {
                "enabled": "yes",
                "delay_minutes": "60",
                "channels": ["email", "sms"],
                "incentive": {"type": "percentage", "value": 0, "code": "SAVE 10"},
            },
            "whatsapp": {"delay_minutes": 90},
            "prime": {
                "delay_hours": 20,
                "channels": ["sms", "sms"],
                "incentive": {"type": "percentage", "value": "abc", "code_mode": "unique"},
            },
            "bogus": 1,
        },
        "delivery_windows": {"timezone": "Nowhere/City", "channels": ["fax"]},
        "consent": {"email": "always", "whatsapp": "maybe"},
        "extra": True,
    }
    assert fields(doc) == sorted(
        [
            "settings.extra",
            "recovery.bogus",
            "recovery.first.enabled",
            "recovery.first.delay_minutes",
            "recovery.first.channels",
            "recovery.first.incentive.value",
            "recovery.first.incentive.code",
            "recovery.whatsapp.delay_minutes",
            "recovery.prime.delay_hours",
            "recovery.prime.channels",
            "recovery.prime.incentive.value",
            "delivery_windows.timezone",
            "delivery_windows.channels",
            "consent.email",
            "consent.whatsapp",
        ]
    )


def test_window_day_errors_are_collected_with_the_rest() -> None:
    days = {day: [["09:00", "21:00"]] for day in WEEKDAYS} | {"tue": [["21:00", "09:00"]], "xyz": []}
    doc = {"recovery": {"prime": {"delay_hours": 20}}, "delivery_windows": {"days": days}}
    assert fields(doc) == ["delivery_windows.days.tue[0]", "delivery_windows.days.xyz", "recovery.prime.delay_hours"]


def test_the_error_message_names_every_field() -> None:
    error = refused({"recovery": {"whatsapp": {"delay_minutes": 90}, "prime": {"delay_hours": 20}}})
    assert "recovery.whatsapp.delay_minutes" in str(error)
    assert "recovery.prime.delay_hours" in str(error)
    assert isinstance(error, ValueError)


@pytest.mark.parametrize(
    "doc, expected",
    [
        (None, ["settings"]),
        ([], ["settings"]),
        ("x", ["settings"]),
        (42, ["settings"]),
        (True, ["settings"]),
        ({"recovery": "x"}, ["recovery"]),
        (
            {"recovery": {"first": None, "whatsapp": 1, "prime": "p"}},
            ["recovery.first", "recovery.prime", "recovery.whatsapp"],
        ),
        ({"recovery": {"first": {"incentive": []}}}, ["recovery.first.incentive"]),
        ({"delivery_windows": {"days": {"mon": "9-5"}}}, None),
        ({"delivery_windows": {"days": {d: [[None, {}]] for d in WEEKDAYS}}}, None),
        ({"delivery_windows": {"days": []}}, ["delivery_windows.days"]),
        ({"consent": []}, ["consent"]),
        ({1: 2, None: 3}, ["settings.1", "settings.None"]),
        ({"recovery": {"first": {"channels": [None, 1, {"a": []}]}}}, ["recovery.first.channels"]),
        (
            {"recovery": {"first": {"incentive": {"type": ["percentage"], "value": {}, "code": {}}}}},
            ["recovery.first.incentive.type"],
        ),
        (
            {"recovery": {"first": {"incentive": {"type": "percentage", "value": {"x": [1]}, "code": []}}}},
            ["recovery.first.incentive.code", "recovery.first.incentive.value"],
        ),
        ({"recovery": {"whatsapp": {"delay_minutes": [120]}}}, ["recovery.whatsapp.delay_minutes"]),
        ({"recovery": {"whatsapp": {"delay_minutes": {"m": 120}}}}, ["recovery.whatsapp.delay_minutes"]),
    ],
)
def test_garbage_only_raises_validation_error(doc: object, expected: list[str] | None) -> None:
    error = refused(doc)
    if expected is not None:
        assert sorted(e.field for e in error.errors) == sorted(expected)
    else:
        assert all(e.field.startswith("delivery_windows.days") for e in error.errors)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**6), 10**6) | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)

PATHS = [
    (),
    ("tone",),
    ("recovery",),
    ("recovery", "first"),
    ("recovery", "first", "enabled"),
    ("recovery", "first", "delay_minutes"),
    ("recovery", "first", "channels"),
    ("recovery", "first", "incentive"),
    ("recovery", "first", "incentive", "type"),
    ("recovery", "first", "incentive", "value"),
    ("recovery", "first", "incentive", "code"),
    ("recovery", "whatsapp", "delay_minutes"),
    ("recovery", "prime", "delay_hours"),
    ("recovery", "prime", "channels"),
    ("recovery", "prime", "incentive", "code_mode"),
    ("delivery_windows",),
    ("delivery_windows", "timezone"),
    ("delivery_windows", "channels"),
    ("delivery_windows", "days"),
    ("delivery_windows", "days", "mon"),
    ("consent",),
    ("consent", "email"),
]

VALID = {
    "recovery": {
        "first": {"incentive": {"type": "percentage", "value": 10, "code": "TEN"}},
        "prime": {"incentive": {"type": "percentage", "value": 20, "code": "TWENTY"}},
    },
    "delivery_windows": {"timezone": "UTC", "days": {d: [["09:00", "21:00"]] for d in WEEKDAYS}},
    "consent": {"email": "subscribers_only"},
}


def _put(doc: dict, path: tuple[str, ...], value: object) -> object:
    if not path:
        return value
    node = doc
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = value
    return doc


@settings(max_examples=examples(3), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(PATHS), JSON), min_size=1, max_size=3))
def test_any_json_either_parses_or_raises_validation_error(edits: list[tuple[tuple[str, ...], object]]) -> None:
    doc: object = copy.deepcopy(VALID)
    for path, value in edits:
        if not isinstance(doc, dict):
            break
        with contextlib.suppress(AttributeError, TypeError):  # a parent became a non-dict: garbage in its own right
            doc = _put(doc, path, value)
    try:
        result = parse(doc)
    except ValidationError as exc:
        assert exc.errors
        assert all(
            isinstance(e.field, str) and e.field and isinstance(e.message, str) and e.message for e in exc.errors
        )
        return
    # Whatever is accepted must be a faithful, re-readable document.
    assert parse(result.to_document()) == result


# -- round trip -------------------------------------------------------------------------------


def test_round_trip_of_defaults() -> None:
    s = parse({})
    assert parse(s.to_document()) == s
    assert parse(s.to_document()).to_document() == s.to_document()


def test_round_trip_of_a_full_document() -> None:
    days = {day: [] for day in WEEKDAYS} | {
        "mon": [["08:30", "12:00"], ["13:00", "24:00"]],
        "sat": [["00:00", "02:00"]],
    }
    s = parse(
        {
            "recovery": {
                "first": {
                    "enabled": True,
                    "delay_minutes": 45,
                    "channels": ["push"],
                    "incentive": {"type": "percentage", "value": 12.5, "code": "FIRST-12"},
                },
                "whatsapp": {"enabled": False, "delay_minutes": 360},
                "prime": {
                    "enabled": True,
                    "delay_hours": 40,
                    "channels": ["whatsapp"],
                    "incentive": {"type": "fixed_amount", "value": "19.99", "code": "PRIME_20"},
                },
            },
            "delivery_windows": {"timezone": "America/Sao_Paulo", "channels": ["sms", "email"], "days": days},
            "consent": {"email": "subscribers_only", "whatsapp": "explicit_optin"},
        },
        tz="UTC",
    )
    doc = s.to_document()
    assert doc["recovery"]["first"]["incentive"]["value"] == 12.5
    assert doc["delivery_windows"]["days"]["mon"] == [["08:30", "12:00"], ["13:00", "24:00"]]
    again = parse(doc, tz="UTC")
    assert again == s
    assert again.prime.incentive.value == Decimal("19.99")
    assert again.windows.timezone == "America/Sao_Paulo"
    # The document carries its own zone: reading it for a shop in another zone changes nothing.
    assert parse(doc, tz="Asia/Tokyo") == s


def test_to_document_does_not_share_state() -> None:
    s = parse({})
    doc = s.to_document()
    doc["recovery"]["first"]["channels"].append("sms")
    doc["delivery_windows"]["days"]["mon"].clear()
    assert s.first.channels == (Channel.EMAIL, Channel.PUSH)
    assert s.to_document()["delivery_windows"]["days"]["mon"] == [["09:00", "21:00"]]


def test_from_document_does_not_modify_its_input() -> None:
    doc = copy.deepcopy(VALID)
    before = copy.deepcopy(doc)
    parse(doc)
    assert doc == before


# -- type strictness (the same rules for every delay) ------------------------------------------


@pytest.mark.parametrize(
    "doc, field",
    [
        ({"recovery": {"whatsapp": {"delay_minutes": 120.0}}}, "recovery.whatsapp.delay_minutes"),
        ({"recovery": {"prime": {"delay_hours": 16.0}}}, "recovery.prime.delay_hours"),
    ],
)
def test_float_delays_are_refused_like_the_first_delay(doc: dict, field: str) -> None:
    # first.delay_minutes=60.0 is refused ("must be a whole number"); the choice delays must not
    # let a float through either, or a float ends up in a field typed int and in the saved document.
    assert fields(doc) == [field]


# -- shop time zone only matters when the document has none ------------------------------------


def test_document_zone_makes_a_bad_shop_zone_irrelevant() -> None:
    s = parse({"delivery_windows": {"timezone": "Europe/Madrid"}}, tz="Not/AZone")
    assert s.windows.timezone == "Europe/Madrid"
    assert s.windows.days == tuple(((540, 1260),) for _ in WEEKDAYS)


def test_bad_shop_zone_is_reported_with_the_other_errors() -> None:
    assert fields({"recovery": {"prime": {"delay_hours": 20}}}, tz="Not/AZone") == [
        "delivery_windows.timezone",
        "recovery.prime.delay_hours",
    ]


# -- warnings (§3: Prime should be stronger than the first stimulus) ---------------------------


def incentives(first_inc: dict | None, prime_inc: dict | None, *, prime_enabled: bool = True) -> ShopSettings:
    recovery: dict = {"prime": {"enabled": prime_enabled}}
    if first_inc is not None:
        recovery["first"] = {"incentive": first_inc}
    if prime_inc is not None:
        recovery["prime"]["incentive"] = prime_inc
    return parse({"recovery": recovery})


def pct(value: object, code: str = "C") -> dict:
    return {"type": "percentage", "value": value, "code": code}


def fixed(value: object, code: str = "C") -> dict:
    return {"type": "fixed_amount", "value": value, "code": code}


FREE = {"type": "free_shipping", "code": "SHIP"}


def test_no_warning_for_defaults() -> None:
    assert parse({}).warnings() == []


def test_no_warning_when_prime_is_stronger() -> None:
    assert incentives(pct(10), pct(15)).warnings() == []
    assert incentives(fixed(5), fixed("5.01")).warnings() == []
    assert incentives(pct(10), FREE).warnings() == []


def test_no_warning_without_a_first_incentive() -> None:
    assert incentives(None, pct(5)).warnings() == []
    assert incentives(None, None).warnings() == []


def test_no_warning_when_prime_is_off() -> None:
    assert incentives(pct(20), pct(10), prime_enabled=False).warnings() == []


@pytest.mark.parametrize("prime_value", [10, 5, "9.99"])
def test_warning_when_prime_percentage_is_not_higher(prime_value: object) -> None:
    warnings = incentives(pct(10), pct(prime_value)).warnings()
    assert len(warnings) == 1
    assert warnings[0].startswith("recovery.prime.incentive:")
    assert "stronger" in warnings[0]


def test_warning_when_prime_fixed_amount_is_not_higher() -> None:
    assert len(incentives(fixed(10), fixed(10)).warnings()) == 1


def test_warning_when_prime_offers_nothing() -> None:
    warnings = incentives(pct(10), None).warnings()
    assert len(warnings) == 1
    assert warnings[0].startswith("recovery.prime.incentive:")
    assert "10% off" in warnings[0]


def test_warning_when_prime_repeats_free_shipping() -> None:
    # Free shipping twice is not a stronger second stimulus.
    warnings = incentives(FREE, FREE).warnings()
    assert len(warnings) == 1
    assert warnings[0].startswith("recovery.prime.incentive:")


def test_warnings_never_block_parsing() -> None:
    s = incentives(pct(20), pct(10))
    assert s.prime.incentive.value == Decimal(10)
    assert parse(s.to_document()) == s


def test_round_trip_keeps_every_digit_of_an_incentive_value() -> None:
    # Amounts are money or percentages: two decimal places, which survive the JSON round trip.
    s = parse(first_incentive(type="fixed_amount", value="999999.99", code="EXACT"))
    assert s.first.incentive.value == Decimal("999999.99")
    assert parse(s.to_document()).first.incentive.value == Decimal("999999.99")


def test_amounts_with_more_than_two_decimals_are_refused() -> None:
    with pytest.raises(ValidationError) as refused:
        parse(first_incentive(type="fixed_amount", value="1234567.123456789012", code="EXACT"))
    assert [e.field for e in refused.value.errors] == ["recovery.first.incentive.value"]
