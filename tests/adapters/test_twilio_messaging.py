"""The Twilio adapter through the real SDK against the development Twilio server.

The server runs without Twilio's spec here (validate=False), so these tests behave the same for
a newcomer without ../shared; tests/contract/test_twilio_spec.py repeats the flows with it.
"""

from __future__ import annotations

import json
import socket
import threading
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
import requests
from werkzeug.datastructures import ImmutableMultiDict

from shop_app.adapters.outgoing import OutgoingMessage, Rejection, SendStatus
from shop_app.adapters.twilio_messaging import (
    VALIDITY_PERIOD_SECONDS,
    ContentApiError,
    TwilioAccount,
    TwilioTransport,
    normalized_status,
    rejection_for,
    retry_after_seconds,
    valid_signature,
)
from shop_app.devtools.twilio_api import TwilioApiServer
from shop_app.domain.delivery import RANK
from tests.smtp_server import free_port

MG = "MG" + "5" * 32
SMS_NUMBER = "+14155550100"
WHATSAPP_NUMBER = "+14155550199"
CUSTOMER = "+34600000001"
CALLBACK = "https://app.reclaim.example/twilio/status/41"
TEMPLATE = "HX" + "a1" * 16


def outgoing(channel: str = "sms", to: str = CUSTOMER, **changes) -> OutgoingMessage:
    values = dict(
        message_id=41,
        shop="demo-shop.myshopify.com",
        channel=channel,
        to=to,
        subject=None,
        body="Demo Shop: your cart is waiting https://demo.example/c/1 Reply STOP to opt out",
        status_callback=CALLBACK,
    )
    values.update(changes)
    return OutgoingMessage(**values)


@pytest.fixture
def server(twilio_unchecked):
    return twilio_unchecked


def transport_for(server: TwilioApiServer, **senders) -> TwilioTransport:
    senders = senders or {"messaging_service_sid": MG, "whatsapp_from": WHATSAPP_NUMBER}
    return TwilioTransport(server.account(**senders), api_base=server.api_base, content_base=server.content_base)


@pytest.fixture
def transport(server):
    with transport_for(server) as made:
        yield made


# --- account ------------------------------------------------------------------------------------


def test_a_complete_account_has_no_problems():
    account = TwilioAccount("AC" + "0" * 32, "token", messaging_service_sid=MG, whatsapp_from="whatsapp:" + SMS_NUMBER)
    assert account.validate(channels=("sms", "whatsapp")) == []


def test_account_problems_are_listed_one_by_one():
    account = TwilioAccount("AC123", "", messaging_service_sid="MG12", from_number="0034600", whatsapp_from="+1")
    problems = account.validate()
    assert len(problems) == 5, problems
    assert any("AC followed by 32" in p for p in problems)
    assert any("Auth token" in p for p in problems)
    assert any("MG followed by 32" in p for p in problems)
    assert any("SMS number" in p and "E.164" in p for p in problems)
    assert any("WhatsApp sender" in p for p in problems)


@pytest.mark.parametrize("token", ["\ud800", "tok\x00en", "tok en", "ünïcode", "x" * 257])
def test_an_auth_token_that_is_not_visible_ascii_is_a_problem_not_a_crash(token):
    """A lone surrogate ("\\ud800" in the admin's JSON) used to reach the sealing of the token: a 500."""
    account = TwilioAccount("AC" + "0" * 32, token, messaging_service_sid=MG)
    assert account.validate() == ["Auth token must be the token Twilio shows: letters, digits and punctuation"]


def test_an_account_without_sms_sender_says_so():
    account = TwilioAccount("AC" + "0" * 32, "token", whatsapp_from=WHATSAPP_NUMBER)
    assert account.validate(channels=("whatsapp",)) == []
    assert account.validate() == ["No SMS sender: set a Messaging Service SID or an SMS number"]


def test_the_auth_token_never_shows_in_repr():
    account = TwilioAccount("AC" + "0" * 32, "s3cret-token", from_number=SMS_NUMBER)
    assert "s3cret" not in repr(account)


def test_a_transport_refuses_a_malformed_account():
    with pytest.raises(ValueError, match="Account SID"):
        TwilioTransport(TwilioAccount("not-a-sid", "token", from_number=SMS_NUMBER))


# --- SMS ----------------------------------------------------------------------------------------


def test_sms_goes_through_the_messaging_service_with_validity_and_callback(server, transport):
    result = transport.send(outgoing())

    assert result.status is SendStatus.SENT
    [message] = server.messages
    assert result.provider_id == message.sid and result.provider_id.startswith("SM")
    assert message.params == {
        "To": CUSTOMER,
        "Body": outgoing().body,
        "MessagingServiceSid": MG,
        "ValidityPeriod": str(VALIDITY_PERIOD_SECONDS),
        "StatusCallback": CALLBACK,
    }
    assert result.raw["sid"] == message.sid and result.raw["status"] == "accepted"
    assert result.raw["num_segments"] == "0"  # a Messaging Service has not picked a sender yet


def test_sms_without_messaging_service_comes_from_the_number(server):
    with transport_for(server, from_number=SMS_NUMBER) as transport:
        result = transport.send(outgoing(body="Hola ñandú " * 10, status_callback=None))
    [message] = server.messages
    assert message.params["From"] == SMS_NUMBER and "MessagingServiceSid" not in message.params
    assert "StatusCallback" not in message.params
    assert result.raw["status"] == "queued" and result.raw["from"] == SMS_NUMBER
    assert result.raw["num_segments"] == "2"  # 110 characters with ú: UCS-2, 67 per part


def test_a_validity_period_shorter_than_an_evening():
    assert 60 <= VALIDITY_PERIOD_SECONDS <= 3600  # never Twilio's 10-hour default


def test_an_address_that_is_not_e164_is_refused_without_a_call(server, transport):
    result = transport.send(outgoing(to="600 000 001"))
    assert (result.status, result.rejection) == (SendStatus.FAILED_PERMANENT, Rejection.INVALID_ADDRESS)
    assert server.requests == []


def test_a_channel_without_sender_is_refused_without_a_call(server):
    with transport_for(server, whatsapp_from=WHATSAPP_NUMBER) as transport:
        result = transport.send(outgoing())
    assert result.status is SendStatus.FAILED_PERMANENT and "no sms sender" in result.detail
    assert server.requests == []


def test_other_channels_are_a_programming_error(transport):
    with pytest.raises(ValueError, match="email"):
        transport.send(outgoing(channel="email", to="ana@example.com"))


# --- WhatsApp -----------------------------------------------------------------------------------


def test_whatsapp_sends_the_template_and_never_a_body(server, transport):
    variables = {"1": "Ana", "2": "https://demo.example/c/1"}
    message = outgoing("whatsapp", content_sid=TEMPLATE, content_variables=variables)

    result = transport.send(message)

    assert result.status is SendStatus.SENT
    [sent] = server.messages
    assert sent.params["To"] == "whatsapp:" + CUSTOMER
    assert sent.params["From"] == "whatsapp:" + WHATSAPP_NUMBER
    assert sent.params["ContentSid"] == TEMPLATE
    assert json.loads(sent.params["ContentVariables"]) == {"1": "Ana", "2": "https://demo.example/c/1"}
    assert "Body" not in sent.params and "MediaUrl" not in sent.params


def test_a_whatsapp_address_may_already_carry_its_prefix(server, transport):
    transport.send(outgoing("whatsapp", to="whatsapp:" + CUSTOMER, content_sid=TEMPLATE))
    assert server.messages[0].params["To"] == "whatsapp:" + CUSTOMER


def test_whatsapp_without_template_is_refused_before_any_http_call(server, transport):
    result = transport.send(outgoing("whatsapp", content_sid=None))

    assert (result.status, result.rejection) == (SendStatus.FAILED_PERMANENT, Rejection.TEMPLATE_NEEDED)
    assert server.requests == []


def test_whatsapp_through_the_messaging_service_when_no_sender_is_named(server):
    with transport_for(server, messaging_service_sid=MG) as transport:
        transport.send(outgoing("whatsapp", content_sid=TEMPLATE))
    params = server.messages[0].params
    assert params["MessagingServiceSid"] == MG and "From" not in params


# --- Twilio's refusals --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "rejection"),
    [
        (21610, Rejection.SUPPRESSED),
        (21211, Rejection.INVALID_ADDRESS),
        (21614, Rejection.INVALID_ADDRESS),
        (21635, Rejection.INVALID_ADDRESS),
    ],
)
def test_sms_error_codes_become_permanent_rejections(server, transport, code, rejection):
    server.fail_for(CUSTOMER, code)

    result = transport.send(outgoing())

    assert (result.status, result.rejection) == (SendStatus.FAILED_PERMANENT, rejection)
    assert str(code) in result.detail and result.raw["code"] == code
    assert server.messages == []


def test_whatsapp_outside_the_window_means_template_needed(server, transport):
    server.fail_for("whatsapp:" + CUSTOMER, 63016)
    result = transport.send(outgoing("whatsapp", content_sid=TEMPLATE))
    assert (result.status, result.rejection) == (SendStatus.FAILED_PERMANENT, Rejection.TEMPLATE_NEEDED)


def test_another_4xx_is_permanent_with_code_and_twilio_words(server, transport):
    server.fail_for(CUSTOMER, 21408, message="Permission to send an SMS has not been enabled for the region")

    result = transport.send(outgoing())

    assert (result.status, result.rejection) == (SendStatus.FAILED_PERMANENT, None)
    assert "21408" in result.detail and "not been enabled for the region" in result.detail


def test_429_is_transient_with_the_retry_after_header(server, transport):
    server.fail_next(status=429, code=20429, retry_after=2)

    result = transport.send(outgoing())

    assert (result.status, result.retry_after) == (SendStatus.FAILED_TRANSIENT, 2.0)
    assert "20429" in result.detail
    assert transport.send(outgoing()).status is SendStatus.SENT  # only the next request failed


def test_429_without_retry_after_leaves_the_backoff_to_the_job(server, transport):
    server.fail_next(status=429)
    result = transport.send(outgoing())
    assert (result.status, result.retry_after) == (SendStatus.FAILED_TRANSIENT, None)


def test_503_is_transient(server, transport):
    server.fail_next(status=503, code=20503)
    result = transport.send(outgoing())
    assert result.status is SendStatus.FAILED_TRANSIENT and "HTTP 503" in result.detail
    assert server.messages == []


def test_rfc9457_errors_are_read_too(server, transport):
    """Newer Twilio services answer problem+json; the SDK raises TwilioServiceException for it."""
    server.fail_for(CUSTOMER, 21610, problem_details=True)
    suppressed = transport.send(outgoing())
    server.fail_next(status=503, problem_details=True)
    unavailable = transport.send(outgoing(to="+34600000002"))

    assert (suppressed.status, suppressed.rejection) == (SendStatus.FAILED_PERMANENT, Rejection.SUPPRESSED)
    assert unavailable.status is SendStatus.FAILED_TRANSIENT


def test_wrong_credentials_are_permanent(server):
    account = TwilioAccount(server.account_sid, "wrong-token", from_number=SMS_NUMBER)
    with TwilioTransport(account, api_base=server.api_base) as transport:
        result = transport.send(outgoing())
    assert result.status is SendStatus.FAILED_PERMANENT and "20003" in result.detail


# --- the network --------------------------------------------------------------------------------


def test_connection_refused_is_transient(server):
    closed = f"http://127.0.0.1:{free_port()}"
    with TwilioTransport(server.account(from_number=SMS_NUMBER), api_base=closed) as transport:
        result = transport.send(outgoing())
    assert result.status is SendStatus.FAILED_TRANSIENT and "no connection" in result.detail


def test_a_read_timeout_propagates_because_the_message_may_exist(server):
    """The send job records `unknown` for an exception, and never resends."""
    server.delay_next(1.0)
    account = server.account(from_number=SMS_NUMBER)
    with (
        TwilioTransport(account, api_base=server.api_base, timeout=(2.0, 0.2)) as transport,
        pytest.raises(requests.ReadTimeout),
    ):
        transport.send(outgoing())
    assert len(server.messages) == 1  # Twilio did create it


@pytest.fixture
def hangs_up():
    """A peer that reads the whole request and closes the connection without answering."""
    listener = socket.create_server(("127.0.0.1", 0))
    received: list[bytes] = []

    def serve() -> None:
        connection, _ = listener.accept()
        with connection:
            connection.settimeout(2)
            data = b""
            while b"\r\n\r\n" not in data or b"Body=" not in data:
                chunk = connection.recv(65536)
                if not chunk:
                    break
                data += chunk
            received.append(data)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}", received
    thread.join(timeout=5)
    listener.close()


def test_a_connection_dropped_after_sending_propagates(server, hangs_up):
    """The request reached the peer: Twilio may have created the message, so no 'transient' retry."""
    url, received = hangs_up
    with (
        TwilioTransport(server.account(from_number=SMS_NUMBER), api_base=url) as transport,
        pytest.raises(requests.ConnectionError),
    ):
        transport.send(outgoing())
    assert received and b"POST /2010-04-01/Accounts/" in received[0]


def test_region_and_edge_in_the_environment_do_not_move_the_host(server, monkeypatch):
    monkeypatch.setenv("TWILIO_REGION", "ie1")
    monkeypatch.setenv("TWILIO_EDGE", "dublin")
    with transport_for(server) as transport:
        assert transport.send(outgoing()).status is SendStatus.SENT
    assert len(server.messages) == 1


def test_region_cannot_be_combined_with_a_base_override(server):
    with pytest.raises(ValueError, match="region"):
        TwilioTransport(server.account(from_number=SMS_NUMBER), api_base=server.api_base, region="ie1")


# --- webhooks -----------------------------------------------------------------------------------


def test_a_status_callback_signature_is_valid(server, transport):
    sid = transport.send(outgoing()).provider_id
    url, params, signature = server.status_callback(sid, "delivered")

    assert url == CALLBACK
    assert valid_signature(server.auth_token, url, params, signature)
    assert normalized_status(params["MessageStatus"]) == "delivered"


def test_a_signature_checks_against_the_form_as_flask_parses_it(server, transport):
    sid = transport.send(outgoing()).provider_id
    url, params, signature = server.status_callback(sid, "delivered")
    assert valid_signature(server.auth_token, url, ImmutableMultiDict(list(params.items())), signature)


def test_a_tampered_parameter_breaks_the_signature(server, transport):
    sid = transport.send(outgoing()).provider_id
    url, params, signature = server.status_callback(sid, "undelivered", error_code=30003)
    assert valid_signature(server.auth_token, url, params, signature)
    assert not valid_signature(server.auth_token, url, {**params, "MessageStatus": "delivered"}, signature)
    assert not valid_signature(server.auth_token, url, {**params, "Extra": "1"}, signature)


def test_another_url_breaks_the_signature(server, transport):
    sid = transport.send(outgoing()).provider_id
    url, params, signature = server.status_callback(sid, "sent")
    assert not valid_signature(server.auth_token, url.replace("/41", "/42"), params, signature)
    assert not valid_signature(server.auth_token, url.replace("https:", "http:"), params, signature)


def test_another_token_or_no_signature_fails(server, transport):
    sid = transport.send(outgoing()).provider_id
    url, params, signature = server.status_callback(sid, "sent")
    assert not valid_signature("another-accounts-token", url, params, signature)
    assert not valid_signature(server.auth_token, url, params, None)
    assert not valid_signature(server.auth_token, url, params, "")
    assert not valid_signature("", url, params, signature)


def test_an_inbound_message_signature_is_valid():
    with TwilioApiServer(validate=False) as server:
        params, signature = server.inbound(CUSTOMER, SMS_NUMBER, "STOP", "https://app.reclaim.example/twilio/in")
    assert valid_signature(server.auth_token, "https://app.reclaim.example/twilio/in", params, signature)
    assert params["OptOutType"] == "STOP"


@pytest.mark.parametrize(
    ("twilio", "ours"),
    [
        ("accepted", "accepted"),
        ("scheduled", "scheduled"),
        ("queued", "queued"),
        ("sending", "sending"),
        ("sent", "sent"),
        ("delivered", "delivered"),
        ("undelivered", "undelivered"),
        ("failed", "failed"),
        ("read", "read"),
        ("canceled", "failed"),
        ("partially_delivered", "sent"),
        ("DELIVERED", "delivered"),
        ("received", None),
        ("receiving", None),
        ("something-new", None),
        (None, None),
    ],
)
def test_twilio_statuses_in_our_vocabulary(twilio, ours):
    assert normalized_status(twilio) == ours
    assert ours is None or ours in RANK


def test_callback_error_codes_share_the_rejection_table():
    assert rejection_for("63016") is Rejection.TEMPLATE_NEEDED
    assert rejection_for(21610) is Rejection.SUPPRESSED
    assert rejection_for("30003") is None and rejection_for("") is None and rejection_for("x") is None


def test_retry_after_reads_seconds_and_dates():
    now = datetime(2026, 3, 2, 18, 0, tzinfo=UTC)
    assert retry_after_seconds("2") == 2.0
    assert retry_after_seconds(format_datetime(now + timedelta(seconds=30), usegmt=True), now.timestamp()) == 30.0
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None


# --- WhatsApp templates (Content API) -------------------------------------------------------------


def test_a_template_is_created_submitted_and_judged(server, transport):
    sid = transport.create_whatsapp_template(
        "Recovery step 1 (es)", "es", "Hola {{1}}, tu carrito: {{2}}", {"1": "Ana", "2": "https://demo.example/c/1"}
    )

    assert sid.startswith("HX") and len(sid) == 34
    content = server.content(sid)
    assert content.types == {"twilio/text": {"body": "Hola {{1}}, tu carrito: {{2}}"}}
    assert (content.language, content.variables) == ("es", {"1": "Ana", "2": "https://demo.example/c/1"})
    assert transport.approval_status(sid) == ("unsubmitted", None)

    assert transport.submit_for_approval(sid, "recovery_step_1_es") == "received"
    assert server.content(sid).approval["category"] == "MARKETING"
    assert transport.approval_status(sid) == ("received", None)

    server.set_approval(sid, "rejected", reason="Variables at the start of the template")
    assert transport.approval_status(sid) == ("rejected", "Variables at the start of the template")
    server.set_approval(sid, "approved")
    assert transport.approval_status(sid) == ("approved", None)


def test_an_unknown_template_raises_content_api_error(server, transport):
    with pytest.raises(ContentApiError) as raised:
        transport.approval_status(TEMPLATE)
    assert raised.value.status == 404


def test_template_names_and_categories_are_checked_before_calling(server, transport):
    with pytest.raises(ValueError, match="lower-case"):
        transport.submit_for_approval(TEMPLATE, "Recovery Step 1")
    with pytest.raises(ValueError, match="category"):
        transport.submit_for_approval(TEMPLATE, "recovery_1", category="PROMO")
    assert server.requests == []


def test_without_a_proxy_in_the_environment_the_session_does_not_scan_it_per_call(server, monkeypatch):
    """requests would read the proxies (twice) and ~/.netrc on every create; read once when built."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/bundle-for-the-test.pem")
    with transport_for(server) as transport:
        session = transport._http.session
        assert session is not None and session.trust_env is False
        assert session.verify == "/etc/ssl/certs/bundle-for-the-test.pem"
        assert transport.send(outgoing()).status is SendStatus.SENT


def test_a_proxy_in_the_environment_is_still_honoured(server, monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    with transport_for(server) as transport:
        session = transport._http.session
        assert session is not None and session.trust_env is True
