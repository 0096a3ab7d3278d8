"""A development server in a child process answers as the same server in process (bench/send_job.py's way)."""

from __future__ import annotations

import os

import pytest
import requests

from shop_app.adapters.outgoing import OutgoingMessage, SendStatus
from shop_app.adapters.twilio_messaging import TwilioAccount, TwilioTransport
from shop_app.devtools.admin_api import AdminApiServer
from shop_app.devtools.child_process import DevServerProcessError, InChildProcess
from shop_app.devtools.serving import BackgroundServer
from shop_app.devtools.twilio_api import TwilioApiServer

MG = "MG" + "5" * 32
SHOP = "child-shop.myshopify.com"


class _Pid(BackgroundServer):
    """A server whose only state is the process it lives in."""

    def __init__(self) -> None:
        self.app = None

    def start(self) -> _Pid:
        return self

    def stop(self) -> None:
        pass

    def pid(self) -> int:
        return os.getpid()

    def fail(self) -> None:
        raise ValueError("refused in the child")


def test_calls_and_reads_are_answered_by_the_server_in_the_child():
    with InChildProcess(lambda: TwilioApiServer(validate=False)) as twilio:
        account = twilio.account(messaging_service_sid=MG)
        assert isinstance(account, TwilioAccount)
        with TwilioTransport(account, api_base=twilio.api_base) as transport:
            result = transport.send(
                OutgoingMessage(
                    message_id=7, shop=SHOP, channel="sms", to="+34600000001", subject=None, body="Hola",
                    status_callback="https://app.reclaim.example/twilio/status/7",
                )
            )  # fmt: skip
        assert result.status is SendStatus.SENT
        [message] = twilio.messages  # the child's record, pickled back
        assert message.sid == result.provider_id and message.body == "Hola"
        assert twilio.refused == []


def test_the_admin_api_in_a_child_keeps_its_shops_and_records():
    with InChildProcess(lambda: AdminApiServer(validate=False)) as admin:
        admin.add_shop(SHOP, name="Child Shop")
        token = admin.issue_token(SHOP)
        url = admin.admin_base_url.replace("{shop}", SHOP) + "/admin/api/2026-07/graphql.json"
        answer = requests.post(
            url,
            json={"query": "query Shop { shop { name } }", "operationName": "Shop"},
            headers={"X-Shopify-Access-Token": token},
            timeout=5,
        ).json()
        assert answer["data"] == {"shop": {"name": "Child Shop"}}
        [recorded] = admin.graphql_requests("Shop")
        assert recorded.status == 200 and recorded.shop == SHOP


def test_it_is_another_process_and_its_exceptions_come_back():
    with InChildProcess(_Pid) as child:
        assert child.pid() != os.getpid()
        with pytest.raises(ValueError, match="refused in the child"):
            child.fail()
        with pytest.raises(AttributeError):
            child.no_such_method  # noqa: B018


def test_after_stop_the_child_is_gone_and_calls_say_so():
    child = InChildProcess(_Pid).start()
    pid = child.pid()
    child.stop()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    with pytest.raises(DevServerProcessError, match="not started"):
        child.pid()
