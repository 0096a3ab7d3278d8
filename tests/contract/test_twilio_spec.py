"""Everything the Twilio adapter sends fits Twilio's pinned OpenAPI specs (../shared/fixtures/twilio),
and the development server refuses what does not. Skipped outside CI only when ../shared is absent."""

from __future__ import annotations

import json

import pytest
import requests
from twilio.base.exceptions import TwilioRestException

from shop_app.adapters.outgoing import OutgoingMessage, SendStatus
from shop_app.adapters.twilio_messaging import TwilioTransport
from shop_app.devtools.twilio_api import TwilioApiServer
from tests.conftest import shared_path

pytestmark = pytest.mark.contract

MG = "MG" + "5" * 32
NUMBER = "+14155550100"
WHATSAPP_NUMBER = "+14155550199"
CUSTOMER = "+34600000001"
CALLBACK = "https://app.reclaim.example/twilio/status/41"


@pytest.fixture(scope="module")
def spec_dir():
    shared_path("fixtures", "twilio", "twilio_content_v1.json")
    return shared_path("fixtures", "twilio", "twilio_api_v2010.json").parent


@pytest.fixture(scope="module")
def running(spec_dir):
    with TwilioApiServer(spec_dir) as server:
        assert server.validating
        yield server


@pytest.fixture
def server(running):
    running.reset()
    return running


def transport_for(server: TwilioApiServer, **senders) -> TwilioTransport:
    return TwilioTransport(server.account(**senders), api_base=server.api_base, content_base=server.content_base)


def outgoing(channel: str = "sms", **changes) -> OutgoingMessage:
    values = dict(
        message_id=41,
        shop="demo-shop.myshopify.com",
        channel=channel,
        to=CUSTOMER,
        subject=None,
        body="Demo Shop: your cart is waiting. Reply STOP to opt out",
        status_callback=CALLBACK,
    )
    values.update(changes)
    return OutgoingMessage(**values)


def post(server: TwilioApiServer, path: str, **kwargs) -> requests.Response:
    return requests.post(server.url + path, auth=(server.account_sid, server.auth_token), timeout=5, **kwargs)


def messages_path(server: TwilioApiServer, account: str | None = None) -> str:
    return f"/2010-04-01/Accounts/{account or server.account_sid}/Messages.json"


# --- what the adapter sends ----------------------------------------------------------------------


def test_every_request_the_transport_makes_fits_the_spec(server):
    with transport_for(server, messaging_service_sid=MG, whatsapp_from=WHATSAPP_NUMBER) as transport:
        template = transport.create_whatsapp_template(
            "Recovery 1 (es)", "es", "Hola {{1}}: {{2}}", {"1": "cliente", "2": "https://demo.example"}
        )
        assert transport.submit_for_approval(template, "recovery_1_es", "MARKETING") == "received"
        server.set_approval(template, "approved")
        assert transport.approval_status(template) == ("approved", None)
        results = [
            transport.send(outgoing()),
            transport.send(
                outgoing(
                    "whatsapp", content_sid=template, content_variables={"1": "Ana", "2": "https://demo.example/c/1"}
                )
            ),
        ]
    with transport_for(server, from_number=NUMBER) as transport:
        results.append(transport.send(outgoing(status_callback=None)))
        fetched = transport.client.messages(results[0].provider_id).fetch()

    assert [r.status for r in results] == [SendStatus.SENT] * 3
    assert fetched.sid == results[0].provider_id
    assert server.refused == []
    assert [r.outcome for r in server.requests] == ["ok"] * len(server.requests)
    assert len(server.requests) == 7


def test_the_answers_fit_the_documented_response_schemas(server):
    """The server checks its own 2xx answers when the spec is loaded; a misfit would answer 500."""
    with transport_for(server, messaging_service_sid=MG) as transport:
        sid = transport.send(outgoing()).provider_id
    server.status_callback(sid, "delivered")
    answer = requests.get(
        f"{server.url}/2010-04-01/Accounts/{server.account_sid}/Messages/{sid}.json",
        auth=(server.account_sid, server.auth_token),
        timeout=5,
    )
    assert answer.status_code == 200 and answer.json()["status"] == "delivered"
    op, _, _ = server.spec.match("GET", f"/2010-04-01/Accounts/{server.account_sid}/Messages/{sid}.json")
    assert server.spec.check_response(op, 200, answer.json()) == []
    assert server.spec.check_response(op, 200, {**answer.json(), "num_segments": 1}) != []  # the check can fail


def test_injected_failures_are_not_counted_as_invalid(server):
    server.fail_for(CUSTOMER, 21610)
    with transport_for(server, messaging_service_sid=MG) as transport:
        assert transport.send(outgoing()).status is SendStatus.FAILED_PERMANENT
    assert server.refused == [] and server.requests[0].outcome == "failed"


# --- what the server refuses -----------------------------------------------------------------------


VALID = {"To": CUSTOMER, "MessagingServiceSid": MG, "Body": "Hi"}


@pytest.mark.parametrize(
    ("form", "code", "parameter"),
    [
        ({**VALID, "Bogus": "1"}, 20001, "Bogus"),
        ({**VALID, "MessagingServiceSid": "MG123"}, 20001, "MessagingServiceSid"),
        ({key: value for key, value in VALID.items() if key != "To"}, 21604, "To"),
        ({**VALID, "ContentSid": "HX" + "0" * 32}, 20001, "ContentSid"),
        ({**VALID, "ValidityPeriod": "soon"}, 20001, "ValidityPeriod"),
        ({**VALID, "ContentSid": "HX12"}, 20001, "ContentSid"),
        ({**VALID, "StatusCallback": "not a url"}, 21609, "StatusCallback"),
        ({**VALID, "ScheduleType": "sometime"}, 20001, "ScheduleType"),
        ({"To": CUSTOMER, "Body": "Hi"}, 21603, "From"),
        ({"To": CUSTOMER, "MessagingServiceSid": MG}, 21602, "Body"),
    ],
)
def test_invalid_message_requests_are_refused(server, form, code, parameter):
    answer = post(server, messages_path(server), data=form)

    assert answer.status_code == 400, answer.text
    assert answer.json()["code"] == code
    assert parameter in answer.json()["message"]
    [refused] = server.refused
    assert any(parameter in problem for problem in refused.problems)
    assert server.messages == []


def test_the_sdk_gets_the_refusal_as_twilio_rest_exception(server):
    with transport_for(server, messaging_service_sid=MG) as transport, pytest.raises(TwilioRestException) as raised:
        transport.client.messages.create(to=CUSTOMER, messaging_service_sid=MG, body="Hi", content_sid="HX" + "0" * 32)
    assert (raised.value.status, raised.value.code) == (400, 20001)


def test_a_malformed_account_sid_in_the_path_is_refused(server):
    answer = post(server, messages_path(server, "AC123"), data=VALID)
    assert answer.status_code == 400 and "AccountSid" in answer.json()["message"]


def test_a_json_body_where_the_spec_wants_a_form_is_refused(server):
    answer = post(server, messages_path(server), json=VALID)
    assert answer.status_code == 400 and "x-www-form-urlencoded" in answer.json()["message"]


def test_a_method_the_spec_does_not_have_is_refused(server):
    answer = requests.put(
        server.url + messages_path(server), data=VALID, auth=(server.account_sid, server.auth_token), timeout=5
    )
    assert answer.status_code in (404, 405)
    answer = requests.delete(
        server.url + messages_path(server), auth=(server.account_sid, server.auth_token), timeout=5
    )
    assert answer.status_code == 405


@pytest.mark.parametrize(
    ("body", "parameter"),
    [
        ({"language": "es", "types": {"twilio/text": {"body": "Hola"}}, "category": "MARKETING"}, "category"),
        ({"language": "es", "types": {"twilio/text": {"text": "Hola"}}}, "text"),
        ({"types": {"twilio/text": {"body": "Hola"}}}, "language"),
        ({"language": "es", "types": {"twilio/text": {"body": "Hola"}}, "variables": {"1": 3}}, "variables"),
    ],
)
def test_invalid_content_requests_are_refused(server, body, parameter):
    answer = post(server, "/v1/Content", json=body)

    assert answer.status_code == 400, answer.text
    assert parameter in answer.json()["message"]
    assert len(server.refused) == 1


def test_an_approval_request_needs_name_and_category(server):
    created = post(server, "/v1/Content", json={"language": "es", "types": {"twilio/text": {"body": "Hola"}}})
    answer = post(server, f"/v1/Content/{created.json()['sid']}/ApprovalRequests/whatsapp", json={"name": "recovery_1"})
    assert answer.status_code == 400 and "category" in answer.json()["message"]


def test_the_same_invalid_request_passes_a_server_without_the_spec():
    """What the spec catches (an unknown parameter) is invisible without it: the contract run matters."""
    with TwilioApiServer(validate=False) as lenient:
        answer = post(lenient, messages_path(lenient), data={**VALID, "Bogus": "1"})
    assert answer.status_code == 201
    assert json.loads(answer.text)["messaging_service_sid"] == MG
