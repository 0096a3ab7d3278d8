"""The admin JSON API through the real routes: settings read/write and the message log, always
for the shop of the session token."""

from __future__ import annotations

import copy
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shop_app.domain.models import Status
from shop_app.recovery.activity import message_rows
from shop_app.shopify.shops import get_shop
from shop_app.storage.database import transaction
from shop_app.storage.tables import ShopSettingsRow
from tests.admin_ui.conftest import SHOP_A, SHOP_B


def stored_settings(rt, domain: str = SHOP_A):
    with transaction(rt.sessions) as session:
        row = session.get(ShopSettingsRow, get_shop(session, domain).id)
        return None if row is None else copy.deepcopy(row.document)


def put(client, headers, body: bytes | str, content_type: str = "application/json"):
    return client.put("/api/settings", data=body, headers={**headers, "Content-Type": content_type})


# --- GET /api/settings -------------------------------------------------------------------------


def test_settings_start_as_the_defaults_in_the_shops_time_zone(client, store, bearer):
    body = client.get("/api/settings", headers=bearer()).get_json()
    assert body["warnings"] == []
    assert body["settings"]["delivery_windows"]["timezone"] == "Europe/Madrid"
    assert body["settings"]["recovery"]["first"]["delay_minutes"] == 60


# --- PUT /api/settings -------------------------------------------------------------------------


def test_put_saves_the_normalized_document_and_returns_warnings(client, rt, store, bearer):
    document = client.get("/api/settings", headers=bearer()).get_json()["settings"]
    document["recovery"]["first"]["delay_minutes"] = 45
    document["recovery"]["first"]["incentive"] = {
        "type": "percentage",
        "value": 10,
        "code_mode": "shared",
        "code": "BACK10",
    }
    response = client.put("/api/settings", json=document, headers=bearer())
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["settings"]["recovery"]["first"]["delay_minutes"] == 45
    assert body["warnings"] and body["warnings"][0].startswith("recovery.prime.incentive:")
    assert stored_settings(rt) == body["settings"]
    assert client.get("/api/settings", headers=bearer()).get_json() == body


def test_put_lists_every_bad_field_and_saves_nothing(client, rt, store, bearer):
    before = stored_settings(rt)
    document = {
        "recovery": {
            "first": {"delay_minutes": 1, "channels": ["fax"]},
            "prime": {"delay_hours": 17},
            "surprise": True,
        },
        "consent": {"email": "always"},
    }
    response = client.put("/api/settings", json=document, headers=bearer())
    assert response.status_code == 422
    errors = response.get_json()["errors"]
    assert all(set(e) == {"field", "message"} and e["message"] for e in errors)
    assert {e["field"] for e in errors} == {
        "recovery.first.delay_minutes",
        "recovery.first.channels",
        "recovery.prime.delay_hours",
        "recovery.surprise",
        "consent.email",
    }
    assert stored_settings(rt) == before


def test_a_valid_put_then_an_invalid_one_keeps_the_valid_one(client, rt, store, bearer):
    good, bad = {"recovery": {"first": {"delay_minutes": 30}}}, {"recovery": {"first": {"delay_minutes": -1}}}
    assert client.put("/api/settings", json=good, headers=bearer()).status_code == 200
    saved = stored_settings(rt)
    assert client.put("/api/settings", json=bad, headers=bearer()).status_code == 422
    assert stored_settings(rt) == saved


MALFORMED = [b"", b"{", b"{'a': 1}", b"\xff\xfe{}", b"NaN", b'{"a": Infinity}', b"[" * 100_000, b"{} {}", b"1" * 5000]


@pytest.mark.parametrize("body", MALFORMED, ids=range(len(MALFORMED)))
def test_malformed_json_is_400(client, rt, store, bearer, body):
    response = put(client, bearer(), body)
    assert response.status_code == 400
    assert "not valid JSON" in response.get_json()["error"]
    assert stored_settings(rt) is None


@pytest.mark.parametrize("body", ["[]", "[{}]", '"settings"', "42", "null", "true"])
def test_a_json_value_that_is_not_an_object_is_422(client, rt, store, bearer, body):
    response = put(client, bearer(), body)
    assert response.status_code == 422
    assert response.get_json() == {"errors": [{"field": "settings", "message": "must be a JSON object"}]}
    assert stored_settings(rt) is None


GARBAGE = [
    {"recovery": []},
    {"recovery": {"first": None, "prime": "x", "whatsapp": 7}},
    {"recovery": {"first": {"channels": [["email"]], "incentive": {"type": {"a": 1}, "value": [1]}}}},
    {"recovery": {"first": {"incentive": {"type": "percentage", "value": 10**400, "code": 5}}}},
    {"recovery": {"first": {"incentive": {"type": "fixed_amount", "value": "12.345", "code": "X" * 65}}}},
    {"recovery": {"prime": {"channels": [{"sms": 1}], "delay_hours": 16.0}}},
    {"delivery_windows": {"timezone": ["Europe/Madrid"], "days": {"mon": "09:00-21:00"}}},
    {"delivery_windows": {"timezone": "Mars/Olympus", "days": {"mon": [["25:00", "26:00"]], "funday": []}}},
    {"delivery_windows": {"days": {d: [[None, None]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}}},
    {"delivery_windows": {"days": {d: [["09:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}}},
    {"delivery_windows": {"channels": "sms", "days": []}},
    {"consent": {"email": True, "whatsapp": 0}},
    {"shop": SHOP_B},
    {"": None, "\u0000": "\ud800".encode("utf-8", "surrogatepass").decode("utf-8", "replace")},
    {"recovery": {"first": {"delay_minutes": 10**100}}},
    {"recovery": {"first": {"delay_minutes": True}}},
]


@pytest.mark.parametrize("document", GARBAGE, ids=range(len(GARBAGE)))
def test_garbage_settings_are_422_never_500(client, rt, store, bearer, document):
    response = client.put("/api/settings", json=document, headers=bearer())
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["errors"]
    assert stored_settings(rt) is None


def test_a_number_too_large_for_a_float_is_422_not_500(client, rt, store, bearer):
    body = '{"recovery": {"first": {"incentive": {"type": "percentage", "value": 1e400, "code": "X"}}}}'
    response = put(client, bearer(), body)
    assert response.status_code == 422
    assert [e["field"] for e in response.get_json()["errors"]] == ["recovery.first.incentive.value"]


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)
KEYS = st.sampled_from(
    [
        "recovery",
        "first",
        "prime",
        "whatsapp",
        "incentive",
        "channels",
        "delay_minutes",
        "delay_hours",
        "type",
        "value",
        "code",
        "code_mode",
        "delivery_windows",
        "days",
        "timezone",
        "mon",
        "sun",
        "consent",
        "email",
        "enabled",
    ]
)
SHAPED = st.recursive(
    JSON_VALUES,
    lambda inner: st.dictionaries(KEYS, inner, max_size=5),
    max_leaves=25,
)


@settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(document=st.dictionaries(KEYS, SHAPED, max_size=4) | JSON_VALUES)
def test_any_json_body_is_200_or_422(client, store, bearer, document):
    response = put(client, bearer(), json.dumps(document))
    assert response.status_code in (200, 422), (document, response.status_code, response.get_data(as_text=True))
    if response.status_code == 422:
        assert response.get_json()["errors"]


@settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.binary(max_size=64))
def test_any_bytes_are_answered_without_a_server_error(client, store, bearer, body):
    assert put(client, bearer(), body).status_code in (200, 400, 422)


# --- GET /api/messages -------------------------------------------------------------------------


def test_messages_are_the_token_shops_only_with_the_report_keys(client, rt, shops, bearer):
    rows = client.get("/api/messages", headers=bearer()).get_json()["messages"]
    with transaction(rt.sessions) as session:
        expected = message_rows(session, SHOP_A)
    assert rows == sorted(expected, key=lambda row: row["id"], reverse=True)  # a page, newest first
    assert {r["id"] for r in rows} == set(shops.a_message_ids)
    assert {r["shop"] for r in rows} == {SHOP_A}


def test_messages_can_be_filtered_by_status(client, shops, bearer):
    everything = client.get("/api/messages", headers=bearer()).get_json()["messages"]
    statuses = {r["status"] for r in everything}
    assert statuses
    some = sorted(statuses)[0]
    filtered = client.get(f"/api/messages?status={some}", headers=bearer()).get_json()["messages"]
    assert filtered == [r for r in everything if r["status"] == some]
    unused = next(s.value for s in Status if s.value not in statuses)
    assert client.get(f"/api/messages?status={unused}", headers=bearer()).get_json()["messages"] == []
    both = client.get(f"/api/messages?status={some}&status={unused}", headers=bearer()).get_json()["messages"]
    assert both == filtered


@pytest.mark.parametrize("value", ["bogus", "", "SENT", "sent;drop table messages"])
def test_an_unknown_status_filter_is_422(client, shops, bearer, value):
    response = client.get("/api/messages", query_string={"status": value}, headers=bearer())
    assert response.status_code == 422
    assert response.get_json()["errors"][0]["field"] == "status"


# --- GET /api/messages/<id> --------------------------------------------------------------------


def test_one_message_by_id(client, shops, bearer):
    listed = client.get("/api/messages", headers=bearer()).get_json()["messages"]
    response = client.get(f"/api/messages/{listed[0]['id']}", headers=bearer())
    assert response.status_code == 200
    assert response.get_json() == {"message": listed[0]}


def test_another_shops_message_looks_exactly_like_a_missing_one(client, shops, bearer):
    theirs = shops.b_message_ids[0]
    missing = max(shops.a_message_ids + shops.b_message_ids) + 1000
    other = client.get(f"/api/messages/{theirs}", headers=bearer())
    absent = client.get(f"/api/messages/{missing}", headers=bearer())
    assert other.status_code == absent.status_code == 404
    assert other.get_json() == {"error": f"no message {theirs}"}
    assert absent.get_json() == {"error": f"no message {missing}"}


@pytest.mark.parametrize("path", ["/api/messages/abc", "/api/messages/-1", "/api/messages/1.5"])
def test_non_numeric_ids_are_404(client, shops, bearer, path):
    assert client.get(path, headers=bearer()).status_code == 404


@pytest.mark.parametrize("message_id", ["0", "9223372036854775808", "99999999999999999999999"])
def test_an_impossible_message_id_is_404_not_a_server_error(client, store, bearer, message_id):
    response = client.get(f"/api/messages/{message_id}", headers=bearer())
    assert response.status_code == 404 and "no message" in response.get_json()["error"]


def test_the_suppression_list_shows_each_opt_out_with_its_reason_and_only_this_shops(client, rt, store, bearer):
    from shop_app.compliance.privacy import address_hash
    from shop_app.compliance.suppressions import suppress
    from shop_app.shopify.shops import get_shop
    from shop_app.storage.database import transaction
    from tests.support import ShopifyStore

    other = ShopifyStore.install(rt, client, "other-shop.myshopify.com")
    with transaction(rt.sessions) as session:
        mine, theirs = get_shop(session, store.domain).id, get_shop(session, other.domain).id
        suppress(session, rt.settings.secret_key, mine, "sms", "+34600111222", "replied 'STOP' by SMS on 2026-03-02")
        suppress(
            session,
            rt.settings.secret_key,
            mine,
            "email",
            address_hash(rt.settings.secret_key, "x@example.com"),
            "unsubscribed by one-click link",
        )
        suppress(session, rt.settings.secret_key, theirs, "email", "secret@other.example", "bounced")
    listed = client.get("/api/suppressions", headers=bearer()).get_json()["suppressions"]
    assert sorted((s["channel"], s["address"], s["reason"]) for s in listed) == [
        ("email", "(erased customer)", "unsubscribed by one-click link"),
        ("sms", "+34600111222", "replied 'STOP' by SMS on 2026-03-02"),
    ]
