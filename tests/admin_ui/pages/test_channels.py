"""/settings/channels and "send a test to me": the page shows each channel's state as stored (never the
Twilio token), and a test reaches the real development providers (SMTP server, Twilio) with the
"[Test]" marker and leaves no journey or message behind, so it is never counted."""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import func, select

from shop_app import create_app, runtime
from shop_app.channels.accounts import save_twilio
from shop_app.compliance.suppressions import suppress
from shop_app.shopify.shops import get_shop
from shop_app.storage.database import transaction
from shop_app.storage.tables import Journey, Message, PushSubscription
from tests.admin_ui.conftest import SHOP_A, SHOP_B
from tests.admin_ui.markup_spec import load_spec, markup_problems
from tests.conftest import shared_path
from tests.smtp_server import smtp_server
from tests.support import ShopifyStore

SERVICE = "MG" + "c" * 32
WHATSAPP_FROM = "+14155238886"
OWNER = "owner@casa-lino.com"


def page(client, sign_in, shop: str = SHOP_A) -> str:
    response = client.get(f"/settings/channels?shop={shop}&id_token={sign_in(shop)}", headers={"Accept": "text/html"})
    assert response.status_code == 200
    return response.get_data(as_text=True)


def post_test(client, headers, document):
    body = document if isinstance(document, bytes) else json.dumps(document)
    return client.post("/api/channels/test", data=body, headers={**headers, "Content-Type": "application/json"})


def nothing_counted(rt) -> bool:
    with transaction(rt.sessions) as session:
        return session.scalar(select(func.count(Message.id))) == 0 == session.scalar(select(func.count(Journey.id)))


def set_shop_email(rt, domain: str, email: str | None) -> None:
    with transaction(rt.sessions) as session:
        get_shop(session, domain).email = email


def outbox_lines(rt) -> list[dict]:
    path = Path(rt.settings.outbox_file)
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


@contextmanager
def runtime_with(rt, **overrides):
    """A runtime with other provider settings over the same database, and a client for it."""
    other = runtime.install(runtime.Runtime.build(rt.settings.with_overrides(**overrides)))
    try:
        yield other, create_app(runtime=other).test_client()
    finally:
        other.close()
        runtime.install(rt)


@pytest.fixture
def twilio_client(rt, twilio_api):
    """Shop A with its Twilio account (SMS through a Messaging Service, WhatsApp sender) connected."""
    urls = {"twilio_api_base_url": twilio_api.api_base, "twilio_content_base_url": twilio_api.content_base}
    with runtime_with(rt, **urls) as (twilio_rt, client):
        ShopifyStore.install(twilio_rt, client, SHOP_A)
        with transaction(twilio_rt.sessions) as session:
            account = twilio_api.account(messaging_service_sid=SERVICE, whatsapp_from=WHATSAPP_FROM)
            save_twilio(session, twilio_rt.box, get_shop(session, SHOP_A).id, account)
        yield twilio_rt, client
        assert twilio_api.refused == [], [r.problems for r in twilio_api.refused]


# --- the page ------------------------------------------------------------------------------------


def test_the_page_shows_each_channel_as_stored_and_never_the_token(twilio_client, twilio_api, sign_in, bearer):
    twilio_rt, client = twilio_client
    set_shop_email(twilio_rt, SHOP_A, OWNER)
    assert client.post("/api/channels/whatsapp-templates", headers=bearer()).status_code == 200
    html = page(client, sign_in)
    assert "Sending through the development outbox file" in html and f"&lt;{twilio_rt.settings.email_from}&gt;" in html
    assert f'value="{OWNER}"' in html  # the email test goes to the shop's address unless changed
    assert "data-twilio-status>Connected" in html
    assert f'value="{twilio_api.account_sid}"' in html and f'value="{SERVICE}"' in html
    assert twilio_api.auth_token not in html
    assert "/webhooks/twilio/inbound/demo-shop.myshopify.com" in html
    assert 'data-template="reclaim_whatsapp_en"' in html and '<s-badge tone="info">received</s-badge>' in html
    assert 'id="twilio-disconnect" tone="critical">' in html  # shown: there is something to disconnect
    assert "data-push-subscriptions>0<" in html and "No subscription yet" in html
    assert "activateAppId=" in html and "/reclaim-push" in html
    assert "Send a test to me: not applicable" in html

    # Shop B sees none of it.
    ShopifyStore.install(twilio_rt, client, SHOP_B)
    other = page(client, sign_in, SHOP_B)
    assert twilio_api.account_sid not in other and OWNER not in other
    assert "data-twilio-status>Not connected" in other and "reclaim_whatsapp_en" in other  # listed, not created
    assert ">received</s-badge>" not in other and ">not created</s-badge>" in other


def test_push_shows_the_subscriptions_and_when_the_embed_was_last_seen(rt, client, store, sign_in):
    with transaction(rt.sessions) as session:
        shop_id = get_shop(session, SHOP_A).id
        session.add(PushSubscription(shop_id=shop_id, cart_token="c1", endpoint="https://fcm.googleapis.com/x",
                                     endpoint_hash="h" * 64, p256dh="p", auth="a"))  # fmt: skip
    html = page(client, sign_in)
    assert "data-push-subscriptions>1<" in html and "Seen working" in html and "On in the first reminder" in html


# --- send a test to me ---------------------------------------------------------------------------


@pytest.fixture
def smtp_client(rt):
    """Shop A (its email set) with email going to a real local SMTP server, not the outbox file."""
    with smtp_server() as (controller, smtp):
        smtp_url = f"smtp://127.0.0.1:{controller.port}"
        with runtime_with(rt, outbox_file=None, smtp_url=smtp_url, email_from="recovery@casa-lino.test") as pair:
            ShopifyStore.install(pair[0], pair[1], SHOP_A)
            set_shop_email(pair[0], SHOP_A, OWNER)
            yield *pair, smtp


def test_an_email_test_arrives_by_smtp_marked_and_counted_nowhere(smtp_client, bearer):
    smtp_rt, client, smtp = smtp_client
    response = post_test(client, bearer(), {"channel": "email"})  # to: the shop's email by default
    assert response.status_code == 200, response.get_json()
    answer = response.get_json()["test"]
    assert (answer["to"], answer["provider"], answer["status"], answer["counted"]) == (OWNER, "smtp", "sent", False)

    [mail] = smtp.messages()
    assert mail["To"] == OWNER and mail["From"] == "Demo Shop <recovery@casa-lino.test>"
    assert mail["Subject"] == "[Test] Demo Shop: you left something in your cart"
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    assert text.startswith("[Test] This is a test from Reclaim") and "[Test]" in html
    assert "Linen shirt" in text and "https://demo-shop.myshopify.com/cart" in text  # sample cart, real link
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    # Another address of the merchant's, in Spanish.
    response = post_test(client, bearer(), {"channel": "email", "to": " Me@Example.com ", "language": "es"})
    assert response.status_code == 200 and response.get_json()["test"]["to"] == "me@example.com"
    spanish = smtp.messages()[1]
    assert spanish["To"] == "me@example.com" and spanish["Subject"].startswith("[Test] ")
    assert "Camisa de lino" in spanish.get_body(("plain",)).get_content()
    assert nothing_counted(smtp_rt)


def test_an_sms_test_reaches_twilio_marked_without_a_status_callback(twilio_client, twilio_api, bearer):
    twilio_rt, client = twilio_client
    response = post_test(client, bearer(), {"channel": "sms", "to": "+34 600 111 222"})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["test"]["provider"] == "twilio"
    [sent] = twilio_api.messages
    assert sent.to == "+34600111222" and sent.params["MessagingServiceSid"] == SERVICE
    assert sent.body.startswith("[Test] ") and "Demo Shop" in sent.body and "STOP" in sent.body
    assert sent.status_callback is None  # nothing comes back to a message row: there is none
    assert nothing_counted(twilio_rt)


def test_a_whatsapp_test_needs_the_template_whatsapp_approved(twilio_client, twilio_api, bearer):
    twilio_rt, client = twilio_client
    refused = post_test(client, bearer(), {"channel": "whatsapp", "to": "+34600111222"})
    assert refused.status_code == 409 and "reclaim_whatsapp_en is not created" in refused.get_json()["error"]
    created = client.post("/api/channels/whatsapp-templates", headers=bearer()).get_json()["whatsapp_templates"]
    for template in created:
        twilio_api.set_approval(template["content_sid"], "approved")
    client.post("/api/channels/whatsapp-templates/refresh", headers=bearer())

    response = post_test(client, bearer(), {"channel": "whatsapp", "to": "+34600111222"})
    assert response.status_code == 200, response.get_json()
    [sent] = twilio_api.messages
    assert sent.to == "whatsapp:+34600111222" and sent.params["From"] == f"whatsapp:{WHATSAPP_FROM}"
    approved = next(t for t in created if t["name"] == "reclaim_whatsapp_en")
    assert sent.content_sid == approved["content_sid"] and sent.content_variables["1"] == "[Test] Emma"
    assert response.get_json()["test"]["body"].startswith("Hi [Test] Emma, this is Demo Shop.")
    assert nothing_counted(twilio_rt)


def test_without_twilio_sms_and_whatsapp_tests_go_to_the_development_outbox(rt, client, store, bearer):
    response = post_test(client, bearer(), {"channel": "sms", "to": "+34600111222"})
    assert response.status_code == 200 and response.get_json()["test"]["provider"] == "outbox"
    assert post_test(client, bearer(), {"channel": "whatsapp", "to": "+34600111222"}).status_code == 200
    sms, whatsapp = outbox_lines(rt)
    assert (sms["message_id"], sms["channel"], sms["to"]) == (0, "sms", "+34600111222")
    assert sms["body"].startswith("[Test] ") and whatsapp["body"].startswith("Hi [Test] Emma")
    assert nothing_counted(rt)


def test_without_any_provider_a_test_needs_a_connection(rt, bearer):
    with runtime_with(rt, outbox_file=None) as (bare_rt, client):
        ShopifyStore.install(bare_rt, client, SHOP_A)
        email = post_test(client, bearer(), {"channel": "email", "to": OWNER})
        sms = post_test(client, bearer(), {"channel": "sms", "to": "+34600111222"})
    assert email.status_code == 409 and email.get_json()["error"].startswith("needs connection: no email provider")
    assert sms.status_code == 409 and "connect your Twilio account" in sms.get_json()["error"]


@pytest.mark.parametrize(
    "document, field, expected",
    [
        ({"channel": "email", "to": "not an address"}, "to", "is not one email address"),
        ({"channel": "email", "to": "a@x.com, b@y.com"}, "to", "is not one email address"),
        ({"channel": "email"}, "to", "is required"),  # the shop has no email of its own
        ({"channel": "sms", "to": "600 111 222"}, "to", "no country to read it by"),  # shop country unknown
        ({"channel": "sms", "to": "+34 12"}, "to", "is not a number we can send to"),
        ({"channel": "whatsapp", "to": 34600111222}, "to", "is required"),
        ({"channel": "push", "to": "+34600111222"}, "channel", "not applicable"),
        ({"channel": "fax", "to": "+34600111222"}, "channel", "must be one of email, sms, whatsapp"),
        ({"channel": "sms", "to": "+34600111222", "language": "fr"}, "language", "must be one of en, es"),
        ({"channel": "sms", "to": "+34600111222", "count_it": True}, "count_it", "unknown field"),
        (["sms"], "test", "must be a JSON object"),
    ],
)
def test_bad_input_is_a_field_error_and_nothing_is_sent(rt, client, store, bearer, document, field, expected):
    response = post_test(client, bearer(), document)
    assert response.status_code == 422
    errors = {e["field"]: e["message"] for e in response.get_json()["errors"]}
    assert expected in errors.get(field, ""), errors
    assert outbox_lines(rt) == []


def test_a_suppressed_address_is_refused_with_the_reason(rt, client, store, bearer):
    with transaction(rt.sessions) as session:
        shop_id = get_shop(session, SHOP_A).id
        suppress(session, rt.settings.secret_key, shop_id, "email", OWNER, "unsubscribed by one-click link")
        suppress(session, rt.settings.secret_key, shop_id, "sms", "+34600111222", "replied 'STOP' by SMS")
    email = post_test(client, bearer(), {"channel": "email", "to": OWNER.upper()})
    assert email.status_code == 422
    [error] = email.get_json()["errors"]
    assert error["field"] == "to" and "suppression list for email (unsubscribed by one-click link)" in error["message"]
    whatsapp = post_test(client, bearer(), {"channel": "whatsapp", "to": "+34 600 111 222"})  # a STOP stops both
    assert whatsapp.status_code == 422 and "suppression list for sms" in whatsapp.get_data(as_text=True)
    assert outbox_lines(rt) == []


def test_a_provider_refusal_is_reported_and_still_counts_nowhere(twilio_client, twilio_api, bearer):
    twilio_rt, client = twilio_client
    twilio_api.fail_for("+34600111222", 21211)
    response = post_test(client, bearer(), {"channel": "sms", "to": "+34600111222"})
    assert response.status_code == 502
    body = response.get_json()
    assert body["test"]["status"] == "failed" and "Twilio 21211" in body["error"]
    assert nothing_counted(twilio_rt)


def test_the_test_endpoint_needs_a_session(client, store):
    assert post_test(client, {}, {"channel": "email", "to": OWNER}).status_code == 401


@pytest.mark.contract
def test_the_connected_page_uses_only_what_polaris_defines(twilio_client, sign_in, bearer):
    """The markup check walks the page of a shop with nothing connected; this is the other branch."""
    spec = load_spec(
        shared_path("fixtures", "polaris", "custom-elements.json"), shared_path("fixtures", "app-bridge", "index.d.ts")
    )
    twilio_rt, client = twilio_client
    set_shop_email(twilio_rt, SHOP_A, OWNER)
    assert client.post("/api/channels/whatsapp-templates", headers=bearer()).status_code == 200
    assert markup_problems(page(client, sign_in), spec) == []
