"""The development Twilio answers (and refuses) like Twilio, spoken to with plain HTTP and the SDK.

Runs without the spec (validate=False): these are Twilio's rules the server applies either way.
"""

from __future__ import annotations

import json

import pytest
import requests
from twilio.base.exceptions import TwilioRestException
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from shop_app.devtools.twilio_api import TwilioApiServer

MG = "MG" + "5" * 32
NUMBER = "+14155550100"
CUSTOMER = "+34600000001"
INBOUND_URL = "https://app.reclaim.example/twilio/inbound"


@pytest.fixture
def server(twilio_unchecked):
    return twilio_unchecked


def post_message(
    server: TwilioApiServer, form: dict | list, *, auth: tuple[str, str] | None = None, account: str | None = None
) -> requests.Response:
    account = account or server.account_sid
    return requests.post(
        f"{server.api_base}/2010-04-01/Accounts/{account}/Messages.json",
        data=form,
        auth=auth or (server.account_sid, server.auth_token),
        timeout=5,
    )


def sdk(server: TwilioApiServer) -> Client:
    client = Client(server.account_sid, server.auth_token)
    client.region = client.edge = None
    client.api.base_url = server.api_base
    return client


def test_a_message_has_twilios_shape(server):
    answer = post_message(server, {"To": CUSTOMER, "From": NUMBER, "Body": "Hi"})

    assert answer.status_code == 201
    body = answer.json()
    assert body["sid"].startswith("SM") and len(body["sid"]) == 34
    assert (body["status"], body["num_segments"], body["num_media"], body["direction"]) == (
        "queued",
        "1",
        "0",
        "outbound-api",
    )
    assert body["date_created"].endswith("+0000") and body["price"] is None
    assert body["uri"] == f"/2010-04-01/Accounts/{server.account_sid}/Messages/{body['sid']}.json"


def test_repeated_media_urls_make_an_mms(server):
    answer = post_message(
        server,
        [
            ("To", CUSTOMER),
            ("From", NUMBER),
            ("MediaUrl", "https://a.example/1.png"),
            ("MediaUrl", "https://a.example/2.png"),
        ],
    )
    assert answer.json()["sid"].startswith("MM") and answer.json()["num_media"] == "2"
    assert server.messages[0].params["MediaUrl"] == ["https://a.example/1.png", "https://a.example/2.png"]


def test_the_sdk_fetches_what_a_status_callback_changed(server):
    created = sdk(server).messages.create(to=CUSTOMER, from_=NUMBER, body="Hi", status_callback="https://a.example/s")
    url, params, signature = server.status_callback(created.sid, "undelivered", error_code=30003)

    fetched = sdk(server).messages(created.sid).fetch()

    assert (fetched.status, fetched.error_code) == ("undelivered", 30003)
    assert params["ErrorCode"] == "30003" and "RawDlrDoneDate" in params
    assert RequestValidator(server.auth_token).validate(url, params, signature)


def test_a_status_callback_needs_a_callback_url(server):
    created = sdk(server).messages.create(to=CUSTOMER, from_=NUMBER, body="Hi")
    with pytest.raises(ValueError, match="StatusCallback"):
        server.status_callback(created.sid, "sent")


@pytest.mark.parametrize(
    ("form", "code"),
    [
        ({"From": NUMBER, "Body": "Hi"}, 21604),
        ({"To": "600000001", "From": NUMBER, "Body": "Hi"}, 21211),
        ({"To": CUSTOMER, "Body": "Hi"}, 21603),
        ({"To": CUSTOMER, "From": NUMBER}, 21602),
        ({"To": CUSTOMER, "From": NUMBER, "Body": "Hi", "ContentSid": "HX" + "0" * 32}, 20001),
        ({"To": CUSTOMER, "From": NUMBER, "Body": "x" * 1601}, 21658),
        ({"To": CUSTOMER, "From": NUMBER, "ContentSid": "HX" + "0" * 32, "ContentVariables": "{1: Ana}"}, 21656),
        ({"To": CUSTOMER, "From": NUMBER, "Body": "Hi", "ContentVariables": "{}"}, 20001),
        ({"To": "whatsapp:" + CUSTOMER, "From": NUMBER, "ContentSid": "HX" + "0" * 32}, 21910),
        ({"To": CUSTOMER, "From": NUMBER, "Body": "Hi", "StatusCallback": "https://my_app.example/s"}, 21609),
        ({"To": CUSTOMER, "From": NUMBER, "Body": "Hi", "ValidityPeriod": "36001"}, 20001),
    ],
)
def test_twilios_rules_hold_without_the_spec(server, form, code):
    answer = post_message(server, form)

    assert answer.status_code == 400
    assert answer.json()["code"] == code and answer.json()["status"] == 400
    assert answer.json()["more_info"] == f"https://www.twilio.com/docs/errors/{code}"
    [refused] = server.refused
    assert refused.status == 400 and refused.problems
    assert server.messages == []


def test_wrong_credentials_are_refused(server):
    answer = post_message(server, {"To": CUSTOMER, "From": NUMBER, "Body": "Hi"}, auth=(server.account_sid, "wrong"))
    assert (answer.status_code, answer.json()["code"]) == (401, 20003)
    assert server.refused[0].outcome == "refused"


def test_another_accounts_path_is_refused(server):
    answer = post_message(server, {"To": CUSTOMER, "From": NUMBER, "Body": "Hi"}, account="AC" + "9" * 32)
    assert (answer.status_code, answer.json()["code"]) == (401, 20003)
    assert server.messages == []


def test_unknown_operations_are_not_found(server):
    answer = requests.get(
        f"{server.api_base}/2010-04-01/Accounts/{server.account_sid}/Calls.json",
        auth=(server.account_sid, server.auth_token),
        timeout=5,
    )
    assert (answer.status_code, answer.json()["code"]) == (404, 20404)


def test_a_recipient_failure_can_be_limited(server):
    server.fail_for(CUSTOMER, 21614, count=1)
    assert post_message(server, {"To": CUSTOMER, "From": NUMBER, "Body": "Hi"}).json()["code"] == 21614
    assert post_message(server, {"To": CUSTOMER, "From": NUMBER, "Body": "Hi"}).status_code == 201


def test_fail_next_answers_any_request_then_stops(server):
    server.fail_next(status=503, count=2)
    statuses = [post_message(server, {"To": CUSTOMER, "From": NUMBER, "Body": "Hi"}).status_code for _ in range(3)]
    assert statuses == [503, 503, 201]
    assert [r.outcome for r in server.requests] == ["failed", "failed", "ok"]


def test_the_sdk_sees_twilios_error(server):
    server.fail_for(CUSTOMER, 21610)
    with pytest.raises(TwilioRestException) as raised:
        sdk(server).messages.create(to=CUSTOMER, from_=NUMBER, body="Hi")
    assert (raised.value.status, raised.value.code) == (400, 21610)
    assert "unsubscribed recipient" in raised.value.msg


# --- inbound, opt-out and the WhatsApp window ---------------------------------------------------------


def test_stop_blocks_later_sms_and_start_lifts_it(server):
    params, signature = server.inbound(CUSTOMER, NUMBER, " stop ", INBOUND_URL)
    assert params["OptOutType"] == "STOP" and params["From"] == CUSTOMER and params["AccountSid"] == server.account_sid
    assert RequestValidator(server.auth_token).validate(INBOUND_URL, params, signature)

    blocked = post_message(server, {"To": CUSTOMER, "MessagingServiceSid": MG, "Body": "Hi"})
    assert (blocked.status_code, blocked.json()["code"]) == (400, 21610)
    assert server.requests[-1].outcome == "rejected"  # a valid request: not among `refused`
    assert server.refused == []

    params, _ = server.inbound(CUSTOMER, NUMBER, "START", INBOUND_URL)
    assert params["OptOutType"] == "START"
    assert post_message(server, {"To": CUSTOMER, "MessagingServiceSid": MG, "Body": "Hi"}).status_code == 201


def test_ordinary_replies_carry_no_opt_out_type(server):
    params, _ = server.inbound(CUSTOMER, NUMBER, "please stop the music", INBOUND_URL, auth_token="other-token")
    assert "OptOutType" not in params
    help_params, _ = server.inbound(CUSTOMER, NUMBER, "info", INBOUND_URL)
    assert help_params["OptOutType"] == "HELP"


def test_whatsapp_free_text_needs_an_open_window(server):
    form = {"To": "whatsapp:" + CUSTOMER, "From": "whatsapp:" + NUMBER, "Body": "Hi"}
    assert post_message(server, form).json()["code"] == 63016

    params, _ = server.inbound("whatsapp:" + CUSTOMER, "whatsapp:" + NUMBER, "hola", INBOUND_URL)
    assert params["WaId"] == CUSTOMER[1:] and "OptOutType" not in params
    assert post_message(server, form).status_code == 201


def test_whatsapp_templates_must_be_approved_outside_the_window(server):
    created = requests.post(
        f"{server.content_base}/v1/Content",
        auth=(server.account_sid, server.auth_token),
        json={"language": "es", "types": {"twilio/text": {"body": "Hola {{1}}"}}, "variables": {"1": "cliente"}},
        timeout=5,
    )
    sid = created.json()["sid"]
    form = {
        "To": "whatsapp:" + CUSTOMER,
        "From": "whatsapp:" + NUMBER,
        "ContentSid": sid,
        "ContentVariables": json.dumps({"1": "Ana"}),
    }

    assert post_message(server, form).json()["code"] == 63016
    server.set_approval(sid, "approved")
    answer = post_message(server, form)
    assert answer.status_code == 201 and answer.json()["body"] == "Hola Ana"


def test_content_needs_a_body_for_text(server):
    answer = requests.post(
        f"{server.content_base}/v1/Content",
        auth=(server.account_sid, server.auth_token),
        json={"language": "es", "types": {"twilio/text": {}}},
        timeout=5,
    )
    assert answer.status_code == 400 and "body" in answer.json()["message"]


def test_without_the_spec_files_the_server_says_it_does_not_validate(tmp_path, caplog):
    with caplog.at_level("WARNING"):
        server = TwilioApiServer(tmp_path)
    assert not server.validating
    assert "WITHOUT validating" in caplog.text
