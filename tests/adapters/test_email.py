"""Email transports against real local peers: aiosmtpd for SMTP, an HTTP server for SendGrid."""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from shop_app.adapters.email import EmailMessageSpec, SendGridTransport, SmtpTransport, build_email
from shop_app.adapters.outgoing import OutgoingMessage, SendStatus
from tests.smtp_server import free_port, smtp_server

#: As long as a real token (~200 characters), so header folding is exercised.
UNSUB = "https://reclaim.example/u/gAAAAAB" + "x" * 200


def spec(**changes) -> EmailMessageSpec:
    base = EmailMessageSpec(
        from_name="Demo Shop",
        from_address="reminders@reclaim.example",
        reply_to="owner@demo-shop.example",
        to="ana@example.com",
        subject="You left something in your cart",
        text=f"Hi Ana, your cart at Demo Shop is waiting.\n\nUnsubscribe: {UNSUB}\n",
        html=f'<p>Hi Ana, your cart at Demo Shop is waiting.</p><p><a href="{UNSUB}">Unsubscribe</a></p>',
        unsubscribe_url=UNSUB,
        unsubscribe_mailto="unsubscribe@reclaim.example",
        message_id=42,
    )
    return replace(base, **changes)


@pytest.fixture
def smtp():
    with smtp_server() as (controller, handler):
        yield controller, handler


def transport_for(controller, query: str = "") -> SmtpTransport:
    return SmtpTransport(f"smtp://{controller.hostname}:{controller.port}{query}")


# --- the message itself ---------------------------------------------------------------------------
def test_sent_message_has_headers_both_parts_and_the_unsubscribe_link(smtp):
    controller, handler = smtp
    result = transport_for(controller).send_email(spec())

    assert result.status is SendStatus.SENT, result
    [envelope] = handler.envelopes
    assert envelope.mail_from == "reminders@reclaim.example"
    assert envelope.rcpt_tos == ["ana@example.com"]
    [message] = handler.messages()
    sender = message["From"].addresses[0]
    assert (sender.display_name, sender.addr_spec) == ("Demo Shop", "reminders@reclaim.example")
    assert message["Reply-To"] == "owner@demo-shop.example"
    assert message["To"] == "ana@example.com"
    assert message["Subject"] == "You left something in your cart"
    assert message["List-Unsubscribe"] == f"<{UNSUB}>, <mailto:unsubscribe@reclaim.example>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # On the wire too: a URL in RFC 2047 encoded words is not a link to any mail client.
    assert f"\r\nList-Unsubscribe: <{UNSUB}>, <mailto:unsubscribe@reclaim.example>\r\n".encode() in envelope.content
    assert message["Date"] is not None
    assert message["Message-ID"] == result.provider_id
    assert message["Message-ID"].startswith("<reclaim.42.") and message["Message-ID"].endswith("@reclaim.example>")
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None and text is not html
    assert UNSUB in text.get_content()
    assert f'href="{UNSUB}"' in html.get_content()


def test_without_mailto_list_unsubscribe_has_only_the_https_link(smtp):
    controller, handler = smtp
    assert transport_for(controller).send_email(spec(unsubscribe_mailto=None)).status is SendStatus.SENT
    assert handler.messages()[0]["List-Unsubscribe"] == f"<{UNSUB}>"


def test_non_ascii_shop_name_survives_the_trip(smtp):
    controller, handler = smtp
    assert transport_for(controller).send_email(spec(from_name="Café Ñandú")).status is SendStatus.SENT
    assert handler.messages()[0]["From"].addresses[0].display_name == "Café Ñandú"


@pytest.mark.parametrize("part", ["text", "html"])
def test_builder_refuses_a_body_without_the_visible_unsubscribe_link(part):
    with pytest.raises(ValueError, match="unsubscribe link"):
        build_email(spec(**{part: "Hi Ana, your cart is waiting."}))


def test_builder_refuses_header_injection():
    with pytest.raises(ValueError):
        build_email(spec(subject="Hello\r\nBcc: everyone@example.com"))


def test_send_uses_the_compose_function_for_outgoing_messages(smtp):
    controller, handler = smtp
    transport = SmtpTransport(
        f"smtp://127.0.0.1:{controller.port}",
        compose=lambda m: spec(to=m.to, subject=m.subject, message_id=m.message_id),
    )
    result = transport.send(OutgoingMessage(7, "demo-shop.myshopify.com", "email", "bo@example.com", "Hola", "…"))
    assert result.status is SendStatus.SENT
    assert handler.messages()[0]["To"] == "bo@example.com"


# --- SMTP outcomes ------------------------------------------------------------------------------------
def test_recipient_refused_with_550_is_permanent(smtp):
    controller, handler = smtp
    handler.refuse_rcpt = "550 5.1.1 No such user"
    result = transport_for(controller).send_email(spec())
    assert result.status is SendStatus.FAILED_PERMANENT
    assert "550" in result.detail and "No such user" in result.detail
    assert handler.envelopes == []


def test_recipient_deferred_with_451_is_transient(smtp):
    controller, handler = smtp
    handler.refuse_rcpt = "451 4.7.1 Greylisted, try again later"
    result = transport_for(controller).send_email(spec())
    assert result.status is SendStatus.FAILED_TRANSIENT
    assert "451" in result.detail


def test_connection_refused_is_transient():
    result = SmtpTransport(f"smtp://127.0.0.1:{free_port()}?connect_timeout=2").send_email(spec())
    assert result.status is SendStatus.FAILED_TRANSIENT
    assert "ConnectionRefused" in result.detail


def test_starttls_require_refuses_a_server_without_starttls(smtp):
    controller, handler = smtp
    result = transport_for(controller, "?starttls=require").send_email(spec())
    assert result.status is SendStatus.FAILED_PERMANENT
    assert "STARTTLS" in result.detail
    assert handler.envelopes == []


def test_smtp_url_parsing():
    plain = SmtpTransport("smtp://user%40x.com:p%3Ass@mail.example?timeout=5")
    assert (plain.host, plain.port, plain.username, plain.password) == ("mail.example", 587, "user@x.com", "p:ss")
    assert (plain.implicit_tls, plain.require_starttls, plain.send_timeout) == (False, False, 5.0)
    tls = SmtpTransport("smtps://u:p@mail.example")
    assert (tls.port, tls.implicit_tls) == (465, True)
    for bad in ("http://mail.example", "smtp://", "smtp://h?starttls=maybe"):
        with pytest.raises(ValueError):
            SmtpTransport(bad)


# --- SendGrid against a local HTTP server -------------------------------------------------------------
class FakeSendGrid(BaseHTTPRequestHandler):
    answers: list[tuple[int, dict, bytes]] = []
    requests: list[dict] = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.requests.append({"path": self.path, "headers": dict(self.headers), "json": json.loads(body)})
        status, headers, payload = self.answers.pop(0)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def sendgrid():
    FakeSendGrid.answers, FakeSendGrid.requests = [], []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeSendGrid)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield SendGridTransport("SG.test-key", base_url=f"http://127.0.0.1:{server.server_port}"), FakeSendGrid
    server.shutdown()
    server.server_close()
    thread.join()


def test_sendgrid_202_is_sent_with_the_x_message_id(sendgrid):
    transport, fake = sendgrid
    fake.answers.append((202, {"X-Message-Id": "sg-abc123"}, b""))
    result = transport.send_email(spec())
    assert (result.status, result.provider_id) == (SendStatus.SENT, "sg-abc123")
    [call] = fake.requests
    assert call["path"] == "/v3/mail/send"
    assert call["headers"]["Authorization"] == "Bearer SG.test-key"
    body = call["json"]
    assert body["personalizations"] == [{"to": [{"email": "ana@example.com"}]}]
    assert body["from"] == {"email": "reminders@reclaim.example", "name": "Demo Shop"}
    assert body["reply_to"] == {"email": "owner@demo-shop.example"}
    assert [c["type"] for c in body["content"]] == ["text/plain", "text/html"]
    assert body["headers"] == {
        "List-Unsubscribe": f"<{UNSUB}>, <mailto:unsubscribe@reclaim.example>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    assert body["custom_args"] == {"reclaim_message_id": "42"}
    assert body["tracking_settings"]["click_tracking"]["enable"] is False  # our redirect counts clicks


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (400, SendStatus.FAILED_PERMANENT),
        (401, SendStatus.FAILED_PERMANENT),
        (429, SendStatus.FAILED_TRANSIENT),
        (500, SendStatus.FAILED_TRANSIENT),
        (503, SendStatus.FAILED_TRANSIENT),
    ],
)
def test_sendgrid_errors_are_classified(sendgrid, status, expected):
    transport, fake = sendgrid
    fake.answers.append((status, {"Content-Type": "application/json"}, b'{"errors":[{"message":"nope"}]}'))
    result = transport.send_email(spec())
    assert result.status is expected
    assert str(status) in result.detail and "nope" in result.detail


def test_sendgrid_unreachable_is_transient():
    transport = SendGridTransport("SG.k", base_url=f"http://127.0.0.1:{free_port()}")
    assert transport.send_email(spec()).status is SendStatus.FAILED_TRANSIENT


def test_sendgrid_refuses_a_body_without_the_link_before_any_request(sendgrid):
    transport, fake = sendgrid
    with pytest.raises(ValueError):
        transport.send_email(spec(html="<p>no link</p>"))
    assert fake.requests == []


@pytest.mark.parametrize(
    "to", ["a@example.com,b@example.org", "Ana <a@example.com>", "a@example.com b@example.org", ""]
)
def test_a_recipient_that_is_not_exactly_one_address_is_refused_before_any_connection(smtp, to):
    controller, handler = smtp
    with pytest.raises(ValueError, match="exactly one email address"):
        transport_for(controller).send_email(spec(to=to))
    assert handler.envelopes == []
