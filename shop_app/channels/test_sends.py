"""Send a test to me: one message to the merchant's own address, from the Channels page.

The test says what a customer would read from the first step that uses the channel (email: the first
reminder; SMS: Prime; WhatsApp: the WhatsApp step's approved template), written with the preview's
sample cart (no discount: a sample code would not work in the shop), the shop's own cart page as the
link, and a clear "[Test]" marker. It goes through the transport the registry picks for a real send
(channels/transports.py `Transports.route`), so it proves the connection a customer's message uses.

It creates no journey and no message row: it never enters the outbox, the gates, the activity or the
dashboard, so it is never counted in results (and no provider callback can find a row to move: SMS and
WhatsApp carry no status callback). The merchant reads the outcome in the answer; a log line records
the channel, provider and outcome, never the address.

No consent is asked (the merchant typed their own address), but a suppressed address is refused like
every send refuses it. Browser push has no subscription of the merchant's to send to: not applicable.
"""

from __future__ import annotations

import html as html_lib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace

import requests
from email_validator import EmailNotValidError, validate_email
from sqlalchemy.orm import Session

from shop_app.adapters.outgoing import OutgoingMessage, SendResult, SendStatus
from shop_app.channels.transports import Route
from shop_app.compliance.suppressions import suppression_reason
from shop_app.domain.models import Channel, Step
from shop_app.domain.validation import FieldError
from shop_app.errors import ReclaimError, describe
from shop_app.messaging import whatsapp_templates
from shop_app.messaging.defaults import LANGUAGES
from shop_app.messaging.merchant_templates import template_for
from shop_app.messaging.samples import sample_fields
from shop_app.messaging.sandbox import TemplateFields, TemplateRefused, fit_sms, render
from shop_app.messaging.texts import text_to_html
from shop_app.messaging.unsubscribe import unsubscribe_url
from shop_app.recovery.phones import read_phone
from shop_app.runtime import Runtime
from shop_app.shopify.shops import load_settings
from shop_app.storage.database import transaction
from shop_app.storage.tables import Shop

log = logging.getLogger(__name__)

MARKER = "[Test]"
#: The first line of a test email: what it is, and that it counts nowhere.
NOTE = {
    "en": "This is a test from Reclaim, sent only to you; it is not counted in your results.",
    "es": "Esto es una prueba de Reclaim, enviada solo a ti; no cuenta en tus resultados.",
}
TESTABLE = (Channel.EMAIL, Channel.SMS, Channel.WHATSAPP)
#: The step whose text a test shows, per channel.
FIRST_STEP = {Channel.EMAIL: Step.FIRST, Channel.SMS: Step.PRIME, Channel.WHATSAPP: Step.WHATSAPP}
PUSH_NOT_APPLICABLE = (
    "browser push goes to shoppers who accepted the reminder on your storefront; there is no "
    "subscription of yours to send a test to"
)
#: No message row has this id: what the transports see as ours (e.g. an email's Message-ID).
TEST_MESSAGE_ID = 0
MAX_ADDRESS = 320


class NotSent(ReclaimError):
    """Why no test went out. With `errors`, inputs to correct (422, one per field); without, the
    channel cannot take a test now (409: not connected, the WhatsApp template not approved)."""

    def __init__(self, message: str, errors: Sequence[FieldError] = ()):
        super().__init__(message)
        self.errors = list(errors)


@dataclass(frozen=True)
class SentTest:
    """A test that reached the provider's door: what was sent, and what the provider answered."""

    channel: str
    to: str
    provider: str
    result: SendResult
    subject: str | None
    body: str

    @property
    def sent(self) -> bool:
        return self.result.status is SendStatus.SENT

    def to_json(self) -> dict[str, object]:
        return {
            "channel": self.channel,
            "to": self.to,
            "provider": self.provider,
            "status": "sent" if self.sent else "failed",
            "provider_id": self.result.provider_id,
            "detail": self.result.detail,
            "subject": self.subject,
            "body": self.body,
            "counted": False,
        }


def send_test(rt: Runtime, shop_id: int, channel: object, to: object, language: object = "en") -> SentTest:
    """Compose and send one test; raises NotSent (see the module docstring)."""
    wanted, language = _channel_and_language(channel, language)
    with transaction(rt.sessions) as session:
        shop = session.get_one(Shop, shop_id)
        address = _address(wanted, to, shop)
        _refuse_suppressed(session, rt.settings.secret_key, shop_id, wanted, address)
        route = rt.transports.route(session, shop_id, wanted.value)
        if route is None:
            raise NotSent(f"needs connection: {_CONNECT[wanted]}")
        outgoing = _compose(rt, session, shop, wanted, language, address, route)
    try:
        result = route.transport.send(outgoing)
    except (requests.RequestException, OSError) as exc:  # the request may have left: the provider may have it
        result = SendResult(SendStatus.FAILED_TRANSIENT, detail=f"no answer from {route.provider}: {describe(exc)}")
    log.info("shop %s: test %s through %s: %s", shop_id, wanted.value, route.provider, result.status.value)
    return SentTest(wanted.value, address, route.provider, result, outgoing.subject, outgoing.body)


_CONNECT = {
    Channel.EMAIL: "no email provider is configured (SMTP_URL or SENDGRID_API_KEY)",
    Channel.SMS: "connect your Twilio account first",
    Channel.WHATSAPP: "connect your Twilio account with a WhatsApp sender first",
}


# --- the request -------------------------------------------------------------------------------


def _channel_and_language(channel: object, language: object) -> tuple[Channel, str]:
    errors = []
    if channel == Channel.PUSH.value:
        errors.append(FieldError("channel", f"not applicable: {PUSH_NOT_APPLICABLE}"))
    elif channel not in [c.value for c in TESTABLE]:
        errors.append(FieldError("channel", "must be one of " + ", ".join(c.value for c in TESTABLE)))
    if language not in LANGUAGES:
        errors.append(FieldError("language", "must be one of " + ", ".join(LANGUAGES)))
    if errors:
        raise NotSent("the test was not sent", errors)
    return Channel(str(channel)), str(language)


def _address(channel: Channel, to: object, shop: Shop) -> str:
    """The recipient: an email address (the shop's own by default), or a number read into E.164."""
    if to is None and channel is Channel.EMAIL:
        to = shop.email
    if not isinstance(to, str) or not to.strip():
        what = "an email address" if channel is Channel.EMAIL else "a mobile number with its country code"
        raise _field_error("to", f"is required: {what}")
    if len(to) > MAX_ADDRESS:
        raise _field_error("to", f"is longer than {MAX_ADDRESS} characters")
    if channel is Channel.EMAIL:
        try:
            return validate_email(to.strip(), check_deliverability=False).normalized.lower()
        except EmailNotValidError as exc:
            raise _field_error("to", f"is not one email address: {exc}") from None
    phone = read_phone(to, shop.country_code)
    if phone.number is None:
        raise _field_error("to", f"is not a number we can send to ({phone.reason}); write it as +<country code> …")
    return phone.number


def _refuse_suppressed(session: Session, secret_key: str, shop_id: int, channel: Channel, address: str) -> None:
    """A test honours the suppression list like every send (a STOP by SMS stops WhatsApp too)."""
    lists = (channel, Channel.SMS) if channel is Channel.WHATSAPP else (channel,)
    for listed in lists:
        reason = suppression_reason(session, secret_key, shop_id, listed.value, address)
        if reason is not None:
            raise _field_error(
                "to", f"is on your suppression list for {listed.value} ({reason}); Reclaim sends nothing to it"
            )


def _field_error(field: str, message: str) -> NotSent:
    return NotSent("the test was not sent", [FieldError(field, message)])


# --- the message -------------------------------------------------------------------------------


def _compose(rt: Runtime, session: Session, shop: Shop, channel: Channel, language: str, address: str,
             route: Route) -> OutgoingMessage:  # fmt: skip
    unsubscribe = unsubscribe_url(rt.settings, shop.id, channel.value, address) if channel is Channel.EMAIL else None
    fields = replace(
        sample_fields(language, with_discount=False, channel=channel, shop_name=shop.name, shop_domain=shop.domain),
        recovery_link=f"https://{shop.domain}/cart",
        unsubscribe_link=unsubscribe,
    )
    base = OutgoingMessage(TEST_MESSAGE_ID, shop.domain, channel.value, address, None, "")
    if channel is Channel.WHATSAPP:
        return _whatsapp(session, shop, language, fields, route, base)
    template = template_for(session, shop.id, FIRST_STEP[channel], channel, language, load_settings(session, shop).tone)
    try:
        if channel is Channel.SMS:
            return replace(base, body=f"{MARKER} {fit_sms(template.body, fields, language).text}")
        subject = " ".join(render(template.subject, fields).split()) if template.subject else ""
        body = render(template.body, fields).strip()
        html = render(template.html, fields, html=True) if template.html else None
    except TemplateRefused as refused:
        raise NotSent(f"the shop's {channel.value} text does not render: {refused.reason}") from None
    note = f"{MARKER} {NOTE[language]}"
    return replace(
        base,
        subject=f"{MARKER} {subject}",
        body=f"{note}\n\n{body}",
        html=f"<p><strong>{html_lib.escape(note)}</strong></p>\n{html}" if html else text_to_html(f"{note}\n\n{body}"),
        sender_name=shop.name,
        reply_to=shop.email,
        unsubscribe_url=unsubscribe,
    )


def _whatsapp(session: Session, shop: Shop, language: str, fields: TemplateFields, route: Route,
              base: OutgoingMessage) -> OutgoingMessage:  # fmt: skip
    """The WhatsApp step's template with sample values, the marker before the first name. Through
    Twilio only as the template WhatsApp approved (as every WhatsApp send)."""
    key = whatsapp_templates.key_for(Step.WHATSAPP.value, has_offer=False)
    values = whatsapp_templates.variables(
        language, first_name=f"{MARKER} {fields.first_name}", shop_name=shop.name,
        cart_summary=fields.cart_summary, link=fields.recovery_link, offer=None,
    )  # fmt: skip
    message = replace(base, body=whatsapp_templates.render(key, language, values))
    if not route.twilio:
        return message
    template = whatsapp_templates.find(session, shop.id, key, language)
    if template is None or template.approval_status != whatsapp_templates.APPROVED:
        state = template.approval_status if template is not None else "not created"
        raise NotSent(
            f"the WhatsApp template reclaim_{key}_{language} is {state}: WhatsApp only delivers templates it "
            "approved; create them and refresh their state on this page"
        )
    return replace(message, content_sid=template.content_sid, content_variables=values)
