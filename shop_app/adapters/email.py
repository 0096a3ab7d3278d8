"""Email providers behind the channel interface: SMTP (any server) and SendGrid.

Every email is subscription mail (RFC 8058 / Gmail 2024 rules): `build_email` gives it
`List-Unsubscribe` with an https link (+ optional mailto), `List-Unsubscribe-Post`, and
`check_spec` wants the same link visible in both the text and the HTML part.
"""

from __future__ import annotations

import email.policy
import html as html_lib
import secrets
import smtplib
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass, replace
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, getaddresses
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import requests

from shop_app.adapters.outgoing import OutgoingMessage, SendResult, SendStatus

CONNECT_TIMEOUT_SECONDS = 10.0
SEND_TIMEOUT_SECONDS = 30.0
SENDGRID_BASE_URL = "https://api.sendgrid.com"
DETAIL_LIMIT = 500
#: The default 78-column folding turns a long List-Unsubscribe URL into RFC 2047
#: encoded words, which mail clients do not decode there. RFC 5322 allows 998.
_POLICY = email.policy.default.clone(max_line_length=998)


@dataclass(frozen=True)
class EmailMessageSpec:
    """Everything one recovery email needs, independent of the provider."""

    from_name: str  # the shop's name, shown as the sender
    from_address: str
    to: str
    subject: str
    text: str
    html: str
    unsubscribe_url: str  # https://…/u/<token>; must appear in both text and html
    reply_to: str | None = None  # the merchant's own address
    unsubscribe_mailto: str | None = None  # "mailto:…" or a bare address
    message_id: int | None = None  # our Message row id, for tracking and webhooks
    shop: str | None = None  # the shop's myshopify domain: event webhooks are checked against it


def check_spec(spec: EmailMessageSpec) -> None:
    """Refuse a spec that would reach more than one person, or go out without a working,
    visible unsubscribe link."""
    if getaddresses([spec.to]) != [("", spec.to)] or "@" not in spec.to or "," in spec.to:
        raise ValueError("the recipient must be exactly one email address")
    if not spec.unsubscribe_url.startswith(("https://", "http://")):
        raise ValueError("unsubscribe_url must be an http(s) URL")
    if spec.unsubscribe_url not in spec.text:
        raise ValueError("the text part must show the unsubscribe link")
    if spec.unsubscribe_url not in spec.html and html_lib.escape(spec.unsubscribe_url) not in spec.html:
        raise ValueError("the HTML part must show the unsubscribe link")


def unsubscribe_headers(spec: EmailMessageSpec) -> dict[str, str]:
    """The two RFC 8058 headers, exactly as they are sent."""
    uris = [f"<{spec.unsubscribe_url}>"]
    if spec.unsubscribe_mailto:
        mailto = spec.unsubscribe_mailto
        uris.append(f"<{mailto if mailto.startswith('mailto:') else 'mailto:' + mailto}>")
    return {"List-Unsubscribe": ", ".join(uris), "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


def build_email(spec: EmailMessageSpec) -> EmailMessage:
    """A multipart/alternative message (text first, then HTML) with every header set.

    Raises ValueError for a spec without the unsubscribe link, and for header values
    with line breaks (the email package refuses header injection).
    """
    check_spec(spec)
    domain = spec.from_address.rpartition("@")[2] or "localhost"
    message = EmailMessage(policy=_POLICY)
    message["From"] = Address(display_name=spec.from_name, addr_spec=spec.from_address)
    message["To"] = spec.to
    if spec.reply_to:
        message["Reply-To"] = spec.reply_to
    message["Subject"] = spec.subject
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = f"<reclaim.{spec.message_id or 0}.{secrets.token_hex(8)}@{domain}>"
    for name, value in unsubscribe_headers(spec).items():
        message[name] = value
    message.set_content(spec.text)
    message.add_alternative(spec.html, subtype="html")
    return message


class EmailTransport:
    """Template method: subclasses give `build_payload` and `deliver`.

    Shaped like django-anymail: `send_email` owns the flow (check the spec → build the provider
    payload → deliver → one normalized SendResult). Providers never raise for a delivery problem;
    they answer SENT, FAILED_PERMANENT or FAILED_TRANSIENT with the provider's own words kept in
    `detail`. Retrying is the send job's business.

    `compose` turns the channel interface's OutgoingMessage into a spec (shop name,
    reply-to and unsubscribe link live with the caller), so `send` fits `Transport`.
    """

    esp_name = "base"

    def __init__(self, compose: Callable[[OutgoingMessage], EmailMessageSpec] | None = None):
        self.compose = compose

    def send(self, message: OutgoingMessage) -> SendResult:
        if self.compose is None:
            raise TypeError(f"{type(self).__name__} needs a compose function to send an OutgoingMessage")
        spec = self.compose(message)
        if spec.shop is None:  # the channel interface always knows the shop; compose need not repeat it
            spec = replace(spec, shop=message.shop)
        return self.send_email(spec)

    def send_email(self, spec: EmailMessageSpec) -> SendResult:
        check_spec(spec)  # a programming error, not a delivery failure: raise
        return self.deliver(self.build_payload(spec))

    def build_payload(self, spec: EmailMessageSpec) -> Any:
        raise NotImplementedError

    def deliver(self, payload: Any) -> SendResult:
        raise NotImplementedError


def _status_for_code(code: int) -> SendStatus:
    """SMTP reply classes: 5xx is a refusal for good, anything else may pass later."""
    return SendStatus.FAILED_PERMANENT if 500 <= code < 600 else SendStatus.FAILED_TRANSIENT


def _smtp_error(code: int, text: bytes | str, what: str) -> SendResult:
    words = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    return SendResult(_status_for_code(code), detail=f"{what}: {code} {words}"[:DETAIL_LIMIT])


class SmtpTransport(EmailTransport):
    """SMTP from an `SMTP_URL`.

    - `smtp://user:pass@host:587` — STARTTLS when the server offers it (opportunistic);
      add `?starttls=require` to refuse a server that does not (use that in production:
      opportunistic TLS can be stripped by an active attacker).
    - `smtps://user:pass@host:465` — implicit TLS.
    - `?connect_timeout=10&timeout=30` — seconds for the connection, then per command.
    Login happens only when the URL has a user name. One connection per message.
    """

    esp_name = "smtp"

    def __init__(self, url: str, *, compose=None, tls_context: ssl.SSLContext | None = None):
        super().__init__(compose)
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("SMTP_URL must look like smtp://user:pass@host:port or smtps://…")
        options = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        self.implicit_tls = parts.scheme == "smtps"
        self.host = parts.hostname
        self.port = parts.port or (465 if self.implicit_tls else 587)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else ""
        starttls = options.get("starttls", "auto")
        if starttls not in ("auto", "require"):
            raise ValueError("SMTP_URL option starttls must be auto or require")
        self.require_starttls = starttls == "require"
        self.connect_timeout = float(options.get("connect_timeout", CONNECT_TIMEOUT_SECONDS))
        self.send_timeout = float(options.get("timeout", SEND_TIMEOUT_SECONDS))
        self.tls_context = tls_context or ssl.create_default_context()

    def build_payload(self, spec: EmailMessageSpec) -> EmailMessage:
        return build_email(spec)

    def _connect(self) -> smtplib.SMTP:
        # local_hostname avoids socket.getfqdn(), which can stall on a slow resolver.
        helo = socket.gethostname() or "localhost"
        if self.implicit_tls:
            return smtplib.SMTP_SSL(
                self.host, self.port, local_hostname=helo, timeout=self.connect_timeout, context=self.tls_context
            )
        return smtplib.SMTP(self.host, self.port, local_hostname=helo, timeout=self.connect_timeout)

    def deliver(self, payload: EmailMessage) -> SendResult:
        try:
            with self._connect() as smtp:
                if smtp.sock is not None:  # always set: SMTP(host, ...) connects in its constructor
                    smtp.sock.settimeout(self.send_timeout)
                smtp.ehlo()
                if not self.implicit_tls:
                    if smtp.has_extn("starttls"):
                        smtp.starttls(context=self.tls_context)
                        smtp.ehlo()
                    elif self.require_starttls:
                        return SendResult(
                            SendStatus.FAILED_PERMANENT,
                            detail="server does not offer STARTTLS and SMTP_URL requires it",
                        )
                if self.username:
                    smtp.login(self.username, self.password)
                smtp.send_message(payload, to_addrs=[str(payload["To"])])  # the one recipient, never parsed headers
        except smtplib.SMTPRecipientsRefused as exc:  # our single recipient was refused
            code, text = next(iter(exc.recipients.values()))
            return _smtp_error(code, text, "recipient refused")
        except smtplib.SMTPSenderRefused as exc:
            return _smtp_error(exc.smtp_code, exc.smtp_error, "sender refused")
        except smtplib.SMTPResponseException as exc:  # DATA refused, authentication failed, …
            return _smtp_error(exc.smtp_code, exc.smtp_error, type(exc).__name__)
        except smtplib.SMTPNotSupportedError as exc:
            return SendResult(SendStatus.FAILED_PERMANENT, detail=f"SMTP server: {exc}"[:DETAIL_LIMIT])
        except OSError as exc:  # refused, reset, timed out, TLS failure, disconnected
            return SendResult(SendStatus.FAILED_TRANSIENT, detail=f"{type(exc).__name__}: {exc}"[:DETAIL_LIMIT])
        return SendResult(SendStatus.SENT, provider_id=payload["Message-ID"])


class SendGridTransport(EmailTransport):
    """SendGrid's v3 `POST /v3/mail/send` (JSON); `base_url` points tests at a local server."""

    esp_name = "sendgrid"

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = SENDGRID_BASE_URL,
        compose=None,
        timeout: tuple[float, float] = (CONNECT_TIMEOUT_SECONDS, SEND_TIMEOUT_SECONDS),
    ):
        super().__init__(compose)
        self.api_key, self.base_url, self.timeout = api_key, base_url.rstrip("/"), timeout

    def build_payload(self, spec: EmailMessageSpec) -> dict:
        payload: dict[str, Any] = {
            "personalizations": [{"to": [{"email": spec.to}]}],
            "from": {"email": spec.from_address, "name": spec.from_name},
            "subject": spec.subject,
            "content": [{"type": "text/plain", "value": spec.text}, {"type": "text/html", "value": spec.html}],
            "headers": unsubscribe_headers(spec),
            # Our links already go through the signed click redirect (shop_app/messaging/links.py); SendGrid's
            # own rewriting would redirect twice and count each click twice.
            "tracking_settings": {"click_tracking": {"enable": False, "enable_text": False}},
        }
        if spec.reply_to:
            payload["reply_to"] = {"email": spec.reply_to}
        # Custom args come back at the top level of every event webhook (webhooks/sendgrid_events.py).
        # The event handler joins on the message id only when the shop and recipient match too, so
        # an id from another environment sharing this SendGrid account cannot move our rows.
        # SendGrid stores these values as not-PII: ids and the shop domain only, never an address.
        if spec.message_id is not None:
            payload["custom_args"] = {"reclaim_message_id": str(spec.message_id)}
            if spec.shop:
                payload["custom_args"]["reclaim_shop"] = spec.shop
        return payload

    def deliver(self, payload: dict) -> SendResult:
        try:
            response = requests.post(
                f"{self.base_url}/v3/mail/send",
                json=payload,
                headers={"Authorization": f"Bearer {self.api_key}"},
                timeout=self.timeout,
            )
        except requests.RequestException as exc:
            return SendResult(SendStatus.FAILED_TRANSIENT, detail=f"{type(exc).__name__}: {exc}"[:DETAIL_LIMIT])
        detail = f"HTTP {response.status_code}: {response.text}"[:DETAIL_LIMIT]
        if response.status_code in (200, 202):
            return SendResult(SendStatus.SENT, provider_id=response.headers.get("X-Message-Id"), detail=detail)
        if response.status_code == 429 or response.status_code >= 500:
            return SendResult(SendStatus.FAILED_TRANSIENT, detail=detail)
        return SendResult(SendStatus.FAILED_PERMANENT, detail=detail)
