"""Connecting a shop's Twilio account and its WhatsApp templates through the admin API."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from shop_app import create_app, runtime
from shop_app.storage.channel_tables import ChannelConnection
from shop_app.storage.database import transaction
from tests.admin_ui.conftest import SHOP_B
from tests.support import ShopifyStore

SERVICE = "MG" + "b" * 32


def put(client, headers, document):
    return client.put(
        "/api/channels/twilio", data=json.dumps(document), headers={**headers, "Content-Type": "application/json"}
    )


def test_connecting_twilio_seals_the_token_and_never_returns_it(client, rt, store, bearer, twilio_api):
    account = {
        "account_sid": twilio_api.account_sid,
        "auth_token": twilio_api.auth_token,
        "messaging_service_sid": SERVICE,
        "whatsapp_from": "+14155238886",
    }
    response = put(client, bearer(), account)
    assert response.status_code == 200, response.get_json()
    assert twilio_api.auth_token not in response.get_data(as_text=True)
    overview = client.get("/api/channels", headers=bearer()).get_json()
    assert overview["twilio"]["messaging_service_sid"] == SERVICE
    assert overview["twilio_urls"]["inbound"] == "http://localhost:8080/webhooks/twilio/inbound/demo-shop.myshopify.com"
    assert twilio_api.auth_token not in json.dumps(overview)
    with transaction(rt.sessions) as session:
        [row] = session.scalars(select(ChannelConnection)).all()
        assert twilio_api.auth_token not in row.secret and rt.box.open(row.secret) == twilio_api.auth_token

    # Shop B sees nothing of shop A's account.
    ShopifyStore.install(rt, client, SHOP_B)
    assert client.get("/api/channels", headers=bearer(SHOP_B)).get_json()["twilio"] is None

    assert client.delete("/api/channels/twilio", headers=bearer()).status_code == 200
    assert client.get("/api/channels", headers=bearer()).get_json()["twilio"] is None


@pytest.mark.parametrize(
    "document, expected",
    [
        ({"account_sid": "AC123", "auth_token": "x", "from_number": "+14155550100"}, "Account SID"),
        ({"account_sid": "AC" + "0" * 32, "auth_token": "x"}, "sender"),
        ({"account_sid": "AC" + "0" * 32, "auth_token": "x", "from_number": "0034 600"}, "E.164"),
        ({"account_sid": "AC" + "0" * 32, "from_number": "+14155550100"}, "Auth token"),
        ({"account_sid": "AC" + "0" * 32, "auth_token": "\ud800", "from_number": "+14155550100"}, "Auth token"),
        ({"account_sid": "AC" + "0" * 32, "auth_token": 5, "from_number": "+14155550100"}, "must be a string"),
        ({"account_sid": "AC" + "0" * 32, "auth_token": "x", "from_number": "+14155550100", "admin": True}, "unknown"),
        (["not", "an", "object"], "JSON object"),
    ],
)
def test_bad_connection_forms_are_422_and_nothing_is_saved(client, rt, store, bearer, document, expected):
    response = put(client, bearer(), document)
    assert response.status_code == 422
    assert any(expected in e["message"] for e in response.get_json()["errors"]), response.get_json()
    with transaction(rt.sessions) as session:
        assert session.scalars(select(ChannelConnection)).all() == []


def test_malformed_json_is_400(client, store, bearer):
    response = client.put(
        "/api/channels/twilio", data=b"{nope", headers={**bearer(), "Content-Type": "application/json"}
    )
    assert response.status_code == 400


def test_whatsapp_templates_are_created_submitted_and_their_state_shown(rt, admin_api, twilio_api, bearer):
    twilio_api.reset()
    settings = rt.settings.with_overrides(
        twilio_api_base_url=twilio_api.api_base, twilio_content_base_url=twilio_api.content_base
    )
    twilio_rt = runtime.install(runtime.Runtime.build(settings))
    try:
        client = create_app(runtime=twilio_rt).test_client()
        ShopifyStore.install(twilio_rt, client, "demo-shop.myshopify.com")
        assert client.post("/api/channels/whatsapp-templates", headers=bearer()).status_code == 409  # not connected
        put(
            client,
            bearer(),
            {
                "account_sid": twilio_api.account_sid,
                "auth_token": twilio_api.auth_token,
                "messaging_service_sid": SERVICE,
            },
        )
        created = client.post("/api/channels/whatsapp-templates", headers=bearer()).get_json()["whatsapp_templates"]
        assert {t["status"] for t in created} == {"received"} and all(t["content_sid"] for t in created)
        assert {t["name"] for t in created} >= {"reclaim_whatsapp_en", "reclaim_prime_offer_es"}
        twilio_api.set_approval(created[0]["content_sid"], "rejected", reason="INVALID_FORMAT")
        refreshed = client.post("/api/channels/whatsapp-templates/refresh", headers=bearer()).get_json()
        first = refreshed["whatsapp_templates"][0]
        assert (first["status"], first["rejection_reason"]) == ("rejected", "INVALID_FORMAT")
        assert twilio_api.refused == []
        # A second create makes nothing new.
        again = client.post("/api/channels/whatsapp-templates", headers=bearer()).get_json()["whatsapp_templates"]
        assert [t["content_sid"] for t in again] == [t["content_sid"] for t in refreshed["whatsapp_templates"]]
    finally:
        twilio_rt.close()
        runtime.install(rt)


def test_an_oversized_connection_form_is_413(client, store, bearer):
    response = client.put(
        "/api/channels/twilio",
        data=b'{"account_sid": "' + b"A" * 5000 + b'"}',
        headers={**bearer(), "Content-Type": "application/json"},
    )
    assert response.status_code == 413 and "larger than" in response.get_json()["error"]
