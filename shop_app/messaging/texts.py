"""What a message says: the shop's own template for the step, channel and language when it
saved one, else the default in the shop's tone, rendered in the sandbox in the customer's
language (merchant_templates.check_template says what every message carries).

`TemplateRefused` (`SmsOverCap` for an SMS over the segment cap even after shortening) stops
the message with a reason for the merchant. A merchant's template that fails with this
customer's data (whatever it raised, or too much text: sandbox.render) is no reason to lose
the message: the default text is sent and `Rendered.notes` says why, in words that quote none
of the customer's data (TemplateRefused.reason_without_data).
"""

from __future__ import annotations

import html as html_lib
import re
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from shop_app.domain.content import money
from shop_app.domain.models import Channel, Checkout, Contact, Step
from shop_app.domain.settings import TONES, Incentive
from shop_app.domain.sms import SmsLength
from shop_app.messaging.defaults import DefaultTemplate, default_template
from shop_app.messaging.sandbox import CartItem, SmsOverCap, TemplateFields, TemplateRefused, fit_sms, render

LANGUAGES = ("en", "es")
DEFAULT_TONE = TONES[0]
__all__ = ["DEFAULT_TONE", "LANGUAGES", "Rendered", "SmsOverCap", "TemplateRefused", "compose", "expiry_text",
           "language_of", "render_step", "text_to_html"]  # fmt: skip


@dataclass(frozen=True)
class Rendered:
    subject: str | None
    body: str
    html: str | None = None
    sms: SmsLength | None = None  # SMS only: what the text is billed as
    notes: tuple[str, ...] = ()  # what was changed to send it (fallback to the default, shortening)


def language_of(checkout: Checkout | Contact) -> str:
    """The checkout's (or referral contact's) language when we have texts for it, else English."""
    code = (checkout.locale or "").split("-")[0].lower()
    return code if code in LANGUAGES else "en"


def expiry_text(expires_at: datetime | None, timezone: str, language: str) -> str | None:
    if expires_at is None:
        return None
    local = expires_at.astimezone(ZoneInfo(timezone))
    return f"{local:%d/%m %H:%M}" if language == "es" else f"{local:%b %d, %H:%M}"


def compose(
    step: Step,
    channel: Channel,
    checkout: Checkout,
    *,
    shop_name: str,
    shop_timezone: str,
    link: str,
    incentive: Incentive,
    code: str | None,
    expires_at: datetime | None,
    unsubscribe_link: str | None,
    tone: str = DEFAULT_TONE,
    custom: DefaultTemplate | None = None,
) -> Rendered:
    """The message for one send. `custom` is the shop's saved template for this step, channel
    and the checkout's language (merchant_templates.custom_template), None for the default in
    `tone`. Raises TemplateRefused (SmsOverCap for an SMS over the cap), see the module docstring."""
    language = language_of(checkout)
    fields = TemplateFields(
        first_name=checkout.first_name or "",
        shop_name=shop_name,
        cart_items=tuple(
            CartItem(item.title, item.quantity, money(item.price, checkout.currency)) for item in checkout.line_items
        ),
        cart_total=money(checkout.total_price, checkout.currency),
        recovery_link=link,
        discount_code=code,
        discount_value=incentive.describe(checkout.currency, language) if code else None,
        discount_expiry=expiry_text(expires_at, shop_timezone, language) if code else None,
        unsubscribe_link=unsubscribe_link,
    )
    return render_step(step, channel, fields, language, tone, custom)


def render_step(
    step: Step, channel: Channel, fields: TemplateFields, language: str, tone: str, custom: DefaultTemplate | None
) -> Rendered:
    """The shop's own text for the step when it renders with these fields, else the default in `tone`."""
    default = default_template(step, channel, language, tone)
    if custom is None:
        return _render(default, channel, fields, language)
    try:
        return _render(custom, channel, fields, language)
    except TemplateRefused as refused:
        problem = refused.reason_without_data
    try:
        rendered = _render(default, channel, fields, language)
    except SmsOverCap as over:
        context = f"{over.context}; the shop's own text could not be used either ({problem})"
        raise SmsOverCap(over.check, context) from None
    note = f"the shop's own {channel.value} text could not be used ({problem}); the default text was sent"
    return Rendered(rendered.subject, rendered.body, rendered.html, rendered.sms, (note, *rendered.notes))


def _render(template: DefaultTemplate, channel: Channel, fields: TemplateFields, language: str) -> Rendered:
    if channel is Channel.SMS:
        fit = fit_sms(template.body, fields, language)
        return Rendered(None, fit.text, sms=fit.length, notes=fit.changes)
    subject = " ".join(render(template.subject, fields).split()) if template.subject else None  # one line
    body = render(template.body, fields).strip()
    html = None
    if channel is Channel.EMAIL:
        html = render(template.html, fields, html=True) if template.html else text_to_html(body)
    return Rendered(subject, body, html)


#: A URL in running text, without the sentence's closing punctuation.
_URL = re.compile(r"https?://[^\s<>\"']*[^\s<>\"'.,;:!?)]")


def text_to_html(text: str) -> str:
    """An HTML part for an email whose template has only text: escaped, paragraphs kept, links
    clickable (the unsubscribe link must be in both parts)."""

    def paragraph(block: str) -> str:
        out, done = [], 0
        for match in _URL.finditer(block):
            url = html_lib.escape(match.group(0))
            out += [html_lib.escape(block[done : match.start()]), f'<a href="{url}">{url}</a>']
            done = match.end()
        out.append(html_lib.escape(block[done:]))
        return "<p>" + "".join(out).replace("\n", "<br>\n") + "</p>"

    blocks = [block.strip() for block in re.split(r"\n\s*\n", text) if block.strip()]
    body = "\n".join(map(paragraph, blocks))
    return f'<div style="font-family:sans-serif;max-width:560px;margin:auto">\n{body}\n</div>\n'
