"""SMS and WhatsApp end to end: signed webhooks in, the send job, the real Twilio SDK out to the
development Twilio server (which checks every request against Twilio's OpenAPI specs when
../shared is beside the checkout, as in CI), then Twilio's signed callbacks back in."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from shop_app import create_app, runtime
from shop_app.channels.accounts import save_twilio
from shop_app.messaging import whatsapp_templates
from shop_app.shopify.shops import get_shop
from shop_app.storage.database import transaction
from shop_app.storage.tables import Consent, Message, MessageEvent, Suppression
from tests.support import ShopifyStore

ABANDONED = "2026-03-02T12:00:00+01:00"  # Monday noon in Madrid
WHATSAPP_DUE = "2026-03-02T13:00:00+00:00"  # +120 min, inside the 09:00–21:00 window
PRIME_DUE = "2026-03-03T03:00:00+00:00"  # +16 h = 04:00 Madrid: outside the window
PRIME_RELEASED = "2026-03-03T08:00:00+00:00"  # 09:00 Madrid
PHONE = "+34600111222"
SERVICE = "MG" + "a" * 32
WHATSAPP_FROM = "whatsapp:+14155238886"
ONLY_SMS = {"recovery": {"first": {"enabled": False}, "whatsapp": {"enabled": False}}}


@pytest.fixture
def twilio_store(rt, admin_api, twilio_api):
    """The demo shop with its own Twilio account connected (the development server)."""
    twilio_api.reset()
    settings = rt.settings.with_overrides(
        twilio_api_base_url=twilio_api.api_base, twilio_content_base_url=twilio_api.content_base
    )
    twilio_rt = runtime.install(runtime.Runtime.build(settings))
    try:
        store = ShopifyStore.install(
            twilio_rt,
            create_app(runtime=twilio_rt).test_client(),
            "demo-shop.myshopify.com",
            timezone="Europe/Madrid",
            admin_api=admin_api,
        )
        with transaction(twilio_rt.sessions) as session:
            shop = get_shop(session, store.domain)
            save_twilio(
                session,
                twilio_rt.box,
                shop.id,
                twilio_api.account(messaging_service_sid=SERVICE, whatsapp_from=WHATSAPP_FROM),
            )
            store.shop_id = shop.id
        yield store
    finally:
        assert twilio_api.refused == [], [r.problems for r in twilio_api.refused]  # nothing invalid was ever sent
        twilio_rt.close()
        runtime.install(rt)


def rows(store, table, **where):
    with transaction(store.rt.sessions) as session:
        found = session.scalars(select(table).filter_by(**where)).all()
        session.expunge_all()
        return found


def post_callback(store, url, params, signature):
    path = url.removeprefix(store.rt.settings.shopify_app_url)
    return store.client.post(path, data=params, headers={"X-Twilio-Signature": signature})


def approve_all_templates(store, twilio_api):
    transport_rt = store.rt
    now = datetime(2026, 3, 1, tzinfo=UTC)
    with transaction(transport_rt.sessions) as session:
        transport = transport_rt.transports.twilio(session, store.shop_id)
    done = whatsapp_templates.create_missing(transport_rt.sessions, transport, store.shop_id, now)
    assert len(done) == 2 * len(whatsapp_templates.needed())  # each created, then submitted
    for item in templates(store):
        twilio_api.set_approval(item["content_sid"], "approved")
    states = whatsapp_templates.refresh(transport_rt.sessions, transport, store.shop_id, now)
    assert {s["status"] for s in states} == {"approved"}


def templates(store) -> list[dict]:
    with transaction(store.rt.sessions) as session:
        return whatsapp_templates.listing(session, store.shop_id)


def test_prime_sms_goes_through_twilio_with_a_status_callback(twilio_store, twilio_api):
    store = twilio_store
    store.set_settings(ONLY_SMS)
    store.deliver("checkouts/create", store.checkout("c1", ABANDONED))
    store.tick(PRIME_DUE)
    assert store.message(channel="sms")["status"] == "scheduled"  # night in Madrid: waits for 09:00
    store.tick(PRIME_RELEASED)

    sms = store.message(channel="sms")
    assert sms["status"] == "sent", sms
    [sent] = twilio_api.messages
    assert sent.params["To"] == PHONE and sent.params["MessagingServiceSid"] == SERVICE
    assert "From" not in sent.params  # the Messaging Service picks the sender
    assert "Demo Shop" in sent.params["Body"]
    assert "https://demo-shop.myshopify.com/71234/checkouts/ac/c1/recover?key=k1" in sent.params["Body"]
    assert sent.params["StatusCallback"] == f"http://localhost:8080/webhooks/twilio/status/{sms['id']}"
    assert 1 <= int(sent.params["ValidityPeriod"]) <= 36000
    # Twilio's answer on the row (its id and first word), not as an event: the answer echoes the
    # number and the text, and events are what happened afterwards (callbacks).
    [row] = rows(store, Message, id=sms["id"])
    assert (row.provider_id, row.delivery_status) == (sent.resource["sid"], "accepted")
    assert rows(store, MessageEvent, message_id=sms["id"]) == []


def test_status_callbacks_need_a_valid_signature_and_only_move_forward(twilio_store, twilio_api):
    store = twilio_store
    store.set_settings(ONLY_SMS)
    store.deliver("checkouts/create", store.checkout("c1", ABANDONED))
    store.tick(PRIME_RELEASED)
    [sent] = twilio_api.messages
    sid, message_id = sent.resource["sid"], store.message(channel="sms")["id"]

    url, params, signature = twilio_api.status_callback(sid, "delivered")
    forged = post_callback(store, url, {**params, "MessageStatus": "failed"}, signature)
    assert forged.status_code == 403
    assert post_callback(store, url, params, "not-a-signature").status_code == 403
    assert store.message(channel="sms")["delivery_status"] == "accepted"

    late_sent = twilio_api.status_callback(sid, "sent")  # arrives after "delivered"
    for callback in ((url, params, signature), late_sent, (url, params, signature)):  # and "delivered" twice
        assert post_callback(store, *callback).status_code == 200
    row = store.message(channel="sms")
    assert (row["status"], row["delivery_status"]) == ("sent", "delivered")
    events = sorted(e.event for e in rows(store, MessageEvent, message_id=message_id))
    assert events == ["delivered", "sent"]  # the callbacks; the duplicate "delivered" is kept once

    other = twilio_api.status_callback(sid, "read")
    wrong_message = other[0].replace(f"/status/{message_id}", f"/status/{message_id + 999}")
    assert post_callback(store, wrong_message, other[1], other[2]).status_code == 403


def test_callbacks_with_a_byte_that_is_not_utf8_in_the_query_are_refused_not_an_error(twilio_store, twilio_api):
    """Twilio percent-encodes its URLs; a raw byte that is not UTF-8 in the query string (another
    WSGI server may pass one on) is a URL Twilio did not sign: 403, as a bad signature. It used to
    raise while the URL to check was built, before the signature was looked at: a 500."""
    store = twilio_store
    store.set_settings(ONLY_SMS)
    store.deliver("checkouts/create", store.checkout("c1", ABANDONED))
    store.tick(PRIME_RELEASED)
    [sent] = twilio_api.messages
    url, params, signature = twilio_api.status_callback(sent.resource["sid"], "delivered")
    raw = {"QUERY_STRING": "x=\xff", "HTTP_X_TWILIO_SIGNATURE": signature}
    status = store.client.post(url.removeprefix(store.rt.settings.shopify_app_url), data=params, environ_overrides=raw)
    inbound = store.client.post(
        "/webhooks/twilio/inbound/demo-shop.myshopify.com", data={"From": PHONE, "Body": "STOP"}, environ_overrides=raw
    )
    assert (status.status_code, inbound.status_code) == (403, 403)
    assert store.message(channel="sms")["delivery_status"] == "accepted"


def test_an_opted_out_number_fails_with_21610_and_is_suppressed(twilio_store, twilio_api):
    store = twilio_store
    store.set_settings(ONLY_SMS)
    twilio_api.fail_for(PHONE, 21610)
    store.deliver("checkouts/create", store.checkout("c1", ABANDONED))
    store.tick(PRIME_RELEASED)
    sms = store.message(channel="sms")
    assert sms["status"] == "failed"
    assert "21610" in sms["reason"] and "suppressed" in sms["reason"]
    [suppression] = rows(store, Suppression, channel="sms")
    assert suppression.address == PHONE and "21610" in suppression.reason
    [consent] = rows(store, Consent, channel="sms")
    assert (consent.state, consent.source) == ("revoked", "provider")

    # The next checkout of the same customer never reaches Twilio.
    store.deliver("checkouts/create", store.checkout("c2", "2026-03-04T12:00:00+01:00"))
    store.tick("2026-03-05T08:00:00+00:00")
    later = [m for m in store.messages(channel="sms") if m["id"] != sms["id"]]
    assert [(m["status"], m["reason"][:11]) for m in later] == [("skipped", "suppressed:")]
    assert len(twilio_api.requests) == 1


@pytest.mark.parametrize(
    "code, reason",
    [(21211, "21211"), (21614, "21614")],
)
def test_invalid_numbers_fail_for_good(twilio_store, twilio_api, code, reason):
    store = twilio_store
    store.set_settings(ONLY_SMS)
    twilio_api.fail_for(PHONE, code)
    store.deliver("checkouts/create", store.checkout("c1", ABANDONED))
    store.tick(PRIME_RELEASED)
    sms = store.message(channel="sms")
    assert sms["status"] == "failed" and reason in sms["reason"]
    assert rows(store, Suppression) == []  # a bad number is not an opt-out


@pytest.mark.parametrize("status, code", [(429, 20429), (503, None)])
def test_throttling_and_server_errors_are_retried_later(twilio_store, twilio_api, status, code):
    store = twilio_store
    store.set_settings(ONLY_SMS)
    twilio_api.fail_next(status, code, retry_after=120 if status == 429 else None)
    store.deliver("checkouts/create", store.checkout("c1", ABANDONED))
    store.tick(PRIME_RELEASED)
    sms = store.message(channel="sms")
    assert sms["status"] == "scheduled" and sms["reason"].startswith("transient failure")
    expected = "2026-03-03T08:02:00+00:00" if status == 429 else "2026-03-03T08:01:00+00:00"  # Retry-After wins
    assert sms["due_at"] == expected
    store.tick(sms["due_at"])
    assert store.message(channel="sms")["status"] == "sent"
    assert len(twilio_api.messages) == 1


def test_whatsapp_needs_an_approved_template_and_then_sends_it_with_variables(twilio_store, twilio_api):
    store = twilio_store
    store.set_settings({"recovery": {"first": {"enabled": False}, "prime": {"enabled": False}}})
    store.deliver("checkouts/create", store.checkout("c1", ABANDONED))
    store.tick(WHATSAPP_DUE)
    whatsapp = store.message(channel="whatsapp")
    assert whatsapp["status"] == "skipped"
    assert whatsapp["reason"].startswith("needs connection: WhatsApp template whatsapp (en) is not created")
    assert twilio_api.messages == []  # never free-form text

    approve_all_templates(store, twilio_api)
    store.deliver("checkouts/create", store.checkout("c2", ABANDONED))
    store.tick(WHATSAPP_DUE)
    [sent] = twilio_api.messages
    assert sent.params["To"] == f"whatsapp:{PHONE}" and sent.params["From"] == WHATSAPP_FROM
    assert "Body" not in sent.params
    [template] = [t for t in templates(store) if (t["key"], t["language"]) == ("whatsapp", "en")]
    assert sent.params["ContentSid"] == template["content_sid"]
    values = json.loads(sent.params["ContentVariables"])
    assert values["1"] == "Ana" and values["2"] == "Demo Shop" and values["3"] == "1 x Linen shirt, 2 x Canvas tote"
    assert store.links(values["4"]) == ["https://demo-shop.myshopify.com/71234/checkouts/ac/c2/recover?key=k1"]
    row = [m for m in store.messages(channel="whatsapp") if m["status"] == "sent"][0]
    assert row["body"].startswith("Hi Ana, this is Demo Shop. You left 1 x Linen shirt, 2 x Canvas tote in your cart.")


def test_whatsapp_refused_with_63016_fails_with_the_reason(twilio_store, twilio_api):
    store = twilio_store
    store.set_settings({"recovery": {"first": {"enabled": False}, "prime": {"enabled": False}}})
    approve_all_templates(store, twilio_api)
    twilio_api.fail_for(f"whatsapp:{PHONE}", 63016)
    store.deliver("checkouts/create", store.checkout("c1", ABANDONED))
    store.tick(WHATSAPP_DUE)
    whatsapp = store.message(channel="whatsapp")
    assert whatsapp["status"] == "failed" and "63016" in whatsapp["reason"]


def test_inbound_stop_suppresses_start_lifts_and_help_answers(twilio_store, twilio_api):
    store = twilio_store
    url = "http://localhost:8080/webhooks/twilio/inbound/demo-shop.myshopify.com"
    path = url.removeprefix("http://localhost:8080")

    params, signature = twilio_api.inbound(PHONE, "+15005550006", "STOP", url)
    assert store.client.post(path, data=params, headers={"X-Twilio-Signature": "forged"}).status_code == 403
    assert rows(store, Suppression) == []
    response = store.client.post(path, data=params, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 200 and response.mimetype == "text/xml"
    [suppression] = rows(store, Suppression, channel="sms")
    assert suppression.address == PHONE and "STOP" in suppression.reason

    store.set_settings(ONLY_SMS)
    store.deliver("checkouts/create", store.checkout("c1", ABANDONED))
    store.tick(PRIME_RELEASED)
    assert store.message(channel="sms")["reason"].startswith("suppressed: replied 'STOP'")

    params, signature = twilio_api.inbound(PHONE, "+15005550006", "START", url)
    assert store.client.post(path, data=params, headers={"X-Twilio-Signature": signature}).status_code == 200
    assert rows(store, Suppression) == []
    [consent] = rows(store, Consent, channel="sms")
    assert (consent.state, consent.source) == ("granted", "keyword")

    params, signature = twilio_api.inbound(PHONE, "+15005550006", "HELP", url)
    response = store.client.post(path, data=params, headers={"X-Twilio-Signature": signature})
    assert b"<Message>Demo Shop: cart reminders." in response.data and b"Reply STOP to opt out." in response.data


@pytest.mark.parametrize("sender", ["+1" + "5" * 330, "+1500555\x000006", "whatsapp:+1" + "5" * 320])
def test_an_inbound_sender_that_is_no_address_is_400_and_changes_nothing(twilio_store, twilio_api, sender):
    url = "http://localhost:8080/webhooks/twilio/inbound/demo-shop.myshopify.com"
    params, signature = twilio_api.inbound(sender, "+15005550006", "STOP", url)
    response = twilio_store.client.post(
        url.removeprefix("http://localhost:8080"), data=params, headers={"X-Twilio-Signature": signature}
    )
    assert response.status_code == 400
    assert rows(twilio_store, Suppression) == [] and rows(twilio_store, Consent) == []


def test_without_a_twilio_connection_sms_is_not_connected(rt, store):
    """No outbox, no Twilio account: the SMS step is skipped as needing a connection."""
    settings = rt.settings.with_overrides(outbox_file=None)
    bare = runtime.install(runtime.Runtime.build(settings))
    try:
        shop = ShopifyStore.install(
            bare, create_app(runtime=bare).test_client(), "bare-shop.myshopify.com", timezone="Europe/Madrid"
        )
        shop.set_settings(ONLY_SMS)
        shop.deliver("checkouts/create", shop.checkout("c1", ABANDONED))
        shop.tick(PRIME_RELEASED)
        sms = shop.message(channel="sms")
        assert sms["status"] == "skipped" and sms["reason"].startswith("needs connection")
    finally:
        bare.close()
        runtime.install(rt)


def test_a_callback_quicker_than_our_own_record_is_kept(twilio_store, twilio_api, monkeypatch):
    """Twilio's `failed` callback lands between its create answer and the send job's commit."""
    from shop_app.adapters.twilio_messaging import TwilioTransport

    store = twilio_store
    store.set_settings(ONLY_SMS)
    original = TwilioTransport.send
    seen = {}

    def send_then_callback(self, message):
        result = original(self, message)
        url, params, signature = twilio_api.status_callback(result.provider_id, "failed", 30007)
        seen["answer"] = post_callback(store, url, params, signature).status_code
        return result

    monkeypatch.setattr(TwilioTransport, "send", send_then_callback)
    store.deliver("checkouts/create", store.checkout("c1", ABANDONED))
    store.tick(PRIME_RELEASED)
    sms = store.message(channel="sms")
    assert seen == {"answer": 200}
    assert (sms["status"], sms["delivery_status"]) == ("sent", "failed")
    assert [e.event for e in rows(store, MessageEvent, message_id=sms["id"])] == ["failed"]  # the callback's


def test_a_carrier_block_is_not_taken_as_an_opt_out(twilio_store, twilio_api):
    store = twilio_store
    store.set_settings(ONLY_SMS)
    store.deliver("checkouts/create", store.checkout("c1", ABANDONED))
    store.tick(PRIME_RELEASED)
    [sent] = twilio_api.messages
    assert (
        post_callback(store, *twilio_api.status_callback(sent.resource["sid"], "undelivered", 30004)).status_code == 200
    )
    sms = store.message(channel="sms")
    assert sms["delivery_status"] == "undelivered"
    assert rows(store, Suppression) == [] and rows(store, Consent, channel="sms", source="provider") == []


@pytest.mark.parametrize("message_id", ["0", "99999999999999999999", "9223372036854775808"])
def test_a_callback_for_an_impossible_message_id_is_refused_not_a_server_error(twilio_store, message_id):
    response = twilio_store.client.post(
        f"/webhooks/twilio/status/{message_id}", data={"MessageSid": "SMx"}, headers={"X-Twilio-Signature": "x"}
    )
    assert response.status_code in (403, 404)


def test_an_sms_stop_also_stops_whatsapp_that_relies_on_phone_marketing_consent(twilio_store, twilio_api):
    store = twilio_store
    url = "http://localhost:8080/webhooks/twilio/inbound/demo-shop.myshopify.com"
    params, signature = twilio_api.inbound(PHONE, "+15005550006", "STOP", url)
    store.client.post(url.removeprefix("http://localhost:8080"), data=params, headers={"X-Twilio-Signature": signature})
    store.set_settings({"recovery": {"first": {"enabled": False}, "prime": {"enabled": False}}})
    approve_all_templates(store, twilio_api)
    store.deliver("checkouts/create", store.checkout("c1", ABANDONED))
    store.tick(WHATSAPP_DUE)
    whatsapp = store.message(channel="whatsapp")
    assert whatsapp["status"] == "skipped"
    assert (
        whatsapp["reason"].startswith("suppressed: replied 'STOP'")
        and "same phone marketing consent" in whatsapp["reason"]
    )
    assert twilio_api.messages == []


def test_a_failed_submission_is_retried_without_creating_the_template_twice(twilio_store, twilio_api):
    from shop_app.adapters.twilio_messaging import ContentApiError

    store = twilio_store
    with transaction(store.rt.sessions) as session:
        real = store.rt.transports.twilio(session, store.shop_id)

    class SubmissionFailsOnce:
        """The real transport, except that Twilio refuses the first approval request."""

        def __init__(self):
            self.failed = False

        def __getattr__(self, name):
            return getattr(real, name)

        def submit_for_approval(self, sid, name, category):
            if not self.failed:
                self.failed = True
                raise ContentApiError("Twilio 20500: Internal Server Error", status=500, code=20500)
            return real.submit_for_approval(sid, name, category)

    now = datetime(2026, 3, 1, tzinfo=UTC)
    with pytest.raises(ContentApiError):
        whatsapp_templates.create_missing(store.rt.sessions, SubmissionFailsOnce(), store.shop_id, now)
    whatsapp_templates.create_missing(store.rt.sessions, real, store.shop_id, now)
    creates = [r for r in twilio_api.requests if (r.method, r.path) == ("POST", "/v1/Content")]
    assert len(creates) == len(whatsapp_templates.needed())  # each created once, across both calls
    assert {t["status"] for t in templates(store)} == {"received"}


def test_connecting_another_twilio_account_forgets_the_old_accounts_templates(twilio_store, twilio_api):
    from shop_app.adapters.twilio_messaging import TwilioAccount

    store = twilio_store
    approve_all_templates(store, twilio_api)
    with transaction(store.rt.sessions) as session:
        save_twilio(
            session,
            store.rt.box,
            store.shop_id,
            TwilioAccount("AC" + "f" * 32, "another-token", messaging_service_sid=SERVICE),
        )
    assert {t["status"] for t in templates(store)} == {"not created"}


def test_a_national_sms_number_is_texted_in_e164_in_the_shops_country(twilio_store, twilio_api):
    """Issue 9, item 7: numbers written nationally are read in the shop's country; the SMS and its
    consent use the sms_marketing_phone in E.164 (the contact phone's extension is no part of it)."""
    store = twilio_store
    with transaction(store.rt.sessions) as session:
        get_shop(session, store.domain).country_code = "GB"
    store.set_settings(ONLY_SMS)
    checkout = store.checkout("c1", ABANDONED, phone="020 7946 0958 ext. 12", sms_marketing_phone="07911 123456")
    checkout["customer"] = checkout["billing_address"] = None
    store.deliver("checkouts/create", checkout)
    store.tick(PRIME_RELEASED)

    assert store.message(channel="sms")["status"] == "sent"
    [sent] = twilio_api.messages
    assert sent.params["To"] == "+447911123456"
    [consent] = rows(store, Consent, channel="sms")
    assert consent.address == "+447911123456"


def test_a_lifted_stop_sends_nothing_until_the_customer_consents_again(twilio_store, twilio_api):
    """The merchant lifts a STOP suppression from /privacy: the STOP is still the newest word
    on that number, so neither the old checkout's tick nor the lift brings SMS back; a later
    checkout where the customer ticks the box again does."""
    store = twilio_store
    store.set_settings(ONLY_SMS)
    store.deliver("checkouts/create", store.checkout("c1", ABANDONED, phone=PHONE, buyer_accepts_sms_marketing=True))
    url = "http://localhost:8080/webhooks/twilio/inbound/demo-shop.myshopify.com"
    params, signature = twilio_api.inbound(PHONE, "+15005550006", "STOP", url)
    assert store.client.post(url.removeprefix("http://localhost:8080"), data=params,
                             headers={"X-Twilio-Signature": signature}).status_code == 200  # fmt: skip
    [suppression] = rows(store, Suppression, channel="sms")
    location = store.client.get(f"/dev/sign-in?shop={store.domain}").headers["Location"]
    token = location.split("id_token=")[1]
    lifted = store.client.post(
        f"/api/suppressions/{suppression.id}/lift", json={"confirm": True}, headers={"Authorization": f"Bearer {token}"}
    )
    assert lifted.status_code == 200 and rows(store, Suppression) == []

    store.tick(PRIME_RELEASED)
    assert (store.message(channel="sms")["status"], store.message(channel="sms")["reason"]) == (
        "skipped",
        "no consent: withdrawn (keyword)",
    )
    assert twilio_api.messages == []

    # Months later the customer ticks the SMS box again: that statement is newer than the STOP, so
    # our gates let the message go to Twilio, whose own opt-out list still holds until START. The
    # STOP took the wall-clock time: "later" is counted from it, not a fixed date it could pass.
    later = (datetime.now(UTC) + timedelta(days=60)).replace(hour=11, minute=0, second=0, microsecond=0)
    store.deliver(
        "checkouts/create", store.checkout("c2", later.isoformat(), phone=PHONE, buyer_accepts_sms_marketing=True)
    )
    store.tick(later + timedelta(hours=22))  # Prime's SMS fell due at night (+16 h): the next morning, 09:00 UTC
    second = store.messages(channel="sms")[1]
    assert second["status"] == "failed" and "21610" in second["reason"], second
