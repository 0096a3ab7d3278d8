"""A shop's own message texts: what may be saved, storage, and which text a send uses.

A merchant edits the EDITABLE step × channel pairs, per language (WhatsApp sends only templates Meta
approved: shop_app/messaging/whatsapp_templates.py); without a saved text the default in the shop's tone
applies (shop_app/messaging/defaults.py). A text is saved only when `check_template` finds that every part
renders with every sample cart and carries what each message must: the shop's name, the cart, the recovery
link, the discount code when there is one, and the way to opt out. A Referral Generation message (steps
review, social, invite, reward) has no cart: it must carry what its step gives instead
(referral_defaults.REQUIRED_FIELDS: the review link, the shop's address, the referral code and link, the
reward code).
"""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shop_app.domain.models import REFERRAL_STEPS, Channel, Step
from shop_app.domain.validation import FieldError, ValidationError
from shop_app.errors import ReclaimError
from shop_app.messaging.defaults import LANGUAGES, DefaultTemplate, default_template
from shop_app.messaging.referral_defaults import LINK_FIELDS, REQUIRED_FIELDS
from shop_app.messaging.samples import sample_fields
from shop_app.messaging.sandbox import (
    MAX_HTML_SOURCE_CHARS,
    SmsReport,
    TemplateRefused,
    render,
    sms_report,
    validate_template,
)
from shop_app.messaging.template_fields import TemplateFields
from shop_app.shopify.shops import load_settings
from shop_app.storage.database import rows_changed
from shop_app.storage.tables import MessageTemplate, Shop, utcnow

#: The step × channel pairs a merchant writes texts for, in the order the admin lists them:
#: Revenue Recovery's, then the Referral Generation flow's (each step by email, push or SMS).
EDITABLE = ((Step.FIRST, Channel.EMAIL), (Step.FIRST, Channel.PUSH), (Step.PRIME, Channel.SMS)) + tuple(
    (step, channel) for step in REFERRAL_STEPS for channel in (Channel.EMAIL, Channel.PUSH, Channel.SMS)
)
PARTS = ("subject", "body", "html")
MAX_SUBJECT_SOURCE_CHARS = 1_000
MAX_BODY_SOURCE_CHARS = {Channel.EMAIL: 20_000, Channel.PUSH: 1_000, Channel.SMS: 2_000}
#: Rendered with the long sample: a subject line mail clients show, a notification title and body
#: browsers show (and a push payload stays far below its 4 KB).
MAX_SUBJECT_CHARS = {Channel.EMAIL: 250, Channel.PUSH: 120}
MAX_PUSH_BODY_CHARS = 500
_STOP = re.compile(r"\bSTOP\b", re.IGNORECASE)
_Named = TypeVar("_Named", Step, Channel)


class UnknownTemplate(ReclaimError, LookupError):
    """No editable text for that step, channel and language; the message says which part is wrong."""


class InvalidTemplate(ValidationError, ReclaimError):
    """A text that may not be saved; `errors` holds one FieldError per problem (subject / body / html)."""


@dataclass(frozen=True)
class TemplateKey:
    step: Step
    channel: Channel
    language: str


def template_key(step: object, channel: object, language: object) -> TemplateKey:
    """The key for loose input (URL parts); raises UnknownTemplate."""
    known_step = _member(Step, step)
    if known_step is None:
        raise UnknownTemplate(f"unknown step {step!r}; steps: {', '.join(s.value for s in Step)}")
    known_channel = _member(Channel, channel)
    if known_channel is None:
        raise UnknownTemplate(f"unknown channel {channel!r}; channels: {', '.join(c.value for c in Channel)}")
    if not isinstance(language, str) or language not in LANGUAGES:
        raise UnknownTemplate(f"unknown language {language!r}; languages: {', '.join(LANGUAGES)}")
    if known_channel is Channel.WHATSAPP:
        raise UnknownTemplate("WhatsApp messages use the templates approved by Meta (Channels page); "
                              "they are not edited here")  # fmt: skip
    if (known_step, known_channel) not in EDITABLE:
        sends = ", ".join(c.value for s, c in EDITABLE if s is known_step) or "no text you can edit"
        raise UnknownTemplate(f"the {known_step.value} step sends no {known_channel.value} message (it sends {sends})")
    return TemplateKey(known_step, known_channel, language)


def _member(kind: type[_Named], value: object) -> _Named | None:
    """The member whose value is `value` (a member stands for itself), or None."""
    if isinstance(value, kind):
        return value
    if not isinstance(value, str):
        return None  # every member's value is a string
    try:
        return kind(value)
    except ValueError:
        return None


# --- what may be saved -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Sample:
    fields: TemplateFields
    when: str  # how a problem found only with this sample is described


def check_template(
    key: TemplateKey,
    *,
    subject: object,
    body: object,
    html: object,
    shop_name: str | None = None,
    shop_domain: str | None = None,
) -> list[FieldError]:
    """Every reason the text may not be saved, per field; [] when it may (module docstring)."""
    parts = {"subject": subject, "body": body, "html": html}
    errors = _type_errors(parts)
    if errors:
        return errors
    texts = {name: normalized(_as_text(parts[name])) for name in PARTS}
    errors = _shape_errors(key.channel, texts)
    sources = {name: value for name, value in texts.items() if value is not None}
    errors += _size_errors(key.channel, sources)
    if errors:
        return errors
    for name, source in sources.items():
        try:
            validate_template(source, key.channel, html=name == "html", language=key.language,
                              shop_name=shop_name, shop_domain=shop_domain)  # fmt: skip
        except TemplateRefused as refused:
            errors.append(FieldError(name, refused.reason))
    if errors:
        return errors
    return _content_errors(key, sources, shop_name, shop_domain)


def normalized(value: str | None) -> str | None:
    """Line breaks as \\n; a blank part is no part."""
    if value is None:
        return None
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    return value if value.strip() else None


def _as_text(value: object) -> str | None:
    """A part that passed `_type_errors`: text, or None for anything else (only None is left)."""
    return value if isinstance(value, str) else None


def _type_errors(parts: dict[str, object]) -> list[FieldError]:
    errors: list[FieldError] = []
    for name, value in parts.items():
        if value is not None and not isinstance(value, str):
            errors.append(FieldError(name, "must be text (a string) or null"))
        elif isinstance(value, str) and ("\x00" in value or not _encodable(value)):
            errors.append(FieldError(name, "contains characters that cannot be stored (NUL or a lone surrogate)"))
    return errors


def _shape_errors(channel: Channel, texts: dict[str, str | None]) -> list[FieldError]:
    """The parts the channel has, and only those."""
    errors: list[FieldError] = []
    if texts["body"] is None:
        errors.append(FieldError("body", "is required"))
    if channel in MAX_SUBJECT_CHARS and texts["subject"] is None:
        title = " (the notification title)" if channel is Channel.PUSH else ""
        errors.append(FieldError("subject", "is required" + title))
    if channel not in MAX_SUBJECT_CHARS and texts["subject"] is not None:
        errors.append(FieldError("subject", f"{channel.value} messages have no subject; send null"))
    if channel is not Channel.EMAIL and texts["html"] is not None:
        errors.append(FieldError("html", f"{channel.value} messages have no HTML body; send null"))
    return errors


def _size_errors(channel: Channel, sources: dict[str, str]) -> list[FieldError]:
    limits = {"subject": MAX_SUBJECT_SOURCE_CHARS, "body": MAX_BODY_SOURCE_CHARS[channel],
              "html": MAX_HTML_SOURCE_CHARS}  # fmt: skip
    return [
        FieldError(name, f"is too long ({len(source)} characters; the limit is {limits[name]})")
        for name, source in sources.items()
        if len(source) > limits[name]
    ]


def _encodable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


#: (part, rule, message): a rule gets the part's rendering and the sample's fields.
_Rule = tuple[str, Callable[[str, TemplateFields], bool], str]


def _content_errors(key: TemplateKey, sources: dict[str, str], shop_name: str | None,
                    shop_domain: str | None) -> list[FieldError]:  # fmt: skip
    """What every message must carry, checked on renderings of every sample cart."""
    channel, language = key.channel, key.language
    samples = [
        _Sample(sample_fields(language, with_discount=True, channel=channel, shop_name=shop_name,
                              shop_domain=shop_domain), "with a discount"),
        _Sample(sample_fields(language, with_discount=False, channel=channel, shop_name=shop_name,
                              shop_domain=shop_domain), "without a discount"),
        _Sample(sample_fields(language, cart="small", channel=channel, shop_name=shop_name, shop_domain=shop_domain),
                "with a one-item cart and no first name"),
    ]  # fmt: skip
    long_cart = sample_fields(language, cart="long", channel=channel, shop_name=shop_name, shop_domain=shop_domain)
    renderings = [{name: render(src, s.fields, html=name == "html") for name, src in sources.items()} for s in samples]
    rendered = list(zip(samples, renderings, strict=True))
    errors = _rule_errors(_rules(key, sources), sources, rendered)
    errors += _shop_name_errors(sources, rendered)
    if "subject" in sources:
        errors += _subject_errors(channel, sources["subject"], renderings, long_cart)
    if channel is Channel.PUSH:
        errors += _push_body_errors(sources["body"], long_cart)
    return errors


def _rules(key: TemplateKey, sources: dict[str, str]) -> list[_Rule]:
    """What the body must carry; an email's HTML must carry the same."""
    rules = _referral_rules(key) if key.step in REFERRAL_STEPS else _cart_rules(key.channel)
    rules += _channel_rules(key.channel)
    if key.channel is Channel.EMAIL and "html" in sources:
        rules += [(("html",) + rule[1:]) for rule in rules]
    return rules


def _cart_rules(channel: Channel) -> list[_Rule]:
    """A Revenue Recovery message: the cart, the discount code, the recovery link."""
    rules: list[_Rule] = [
        ("body", lambda text, f: f.cart_items[0].title in text and f.cart_total in text,
         "must show the cart: {{ cart_summary }} (or a loop over cart_items) and {{ cart_total }}"),
        ("body", lambda text, f: not f.discount_code or f.discount_code in text.replace(f.recovery_link, ""),
         "must show the discount code when there is one: {% if discount_code %}… {{ discount_code }}…{% endif %}"),
    ]  # fmt: skip
    if channel is not Channel.PUSH:  # a notification opens the link on click
        rules.append(("body", lambda text, f: f.recovery_link in text, "must contain {{ recovery_link }}"))
    return rules


def _referral_rules(key: TemplateKey) -> list[_Rule]:
    """A Referral Generation message: what its step gives (referral_defaults.REQUIRED_FIELDS; a push
    opens its link on click) and the step's incentive code when there is one."""
    rules: list[_Rule] = [
        ("body", lambda text, f: not f.discount_code or f.discount_code in text,
         "must show the discount code when there is one: {% if discount_code %}… {{ discount_code }}…{% endif %}"),
    ]  # fmt: skip
    for name in REQUIRED_FIELDS[key.step.value]:
        if key.channel is not Channel.PUSH or name not in LINK_FIELDS:
            rules.append(("body", _shows(name), f"must contain {{{{ {name} }}}}"))
    return rules


def _shows(name: str) -> Callable[[str, TemplateFields], bool]:
    return lambda text, fields: str(getattr(fields, name)) in text


def _channel_rules(channel: Channel) -> list[_Rule]:
    """Every flow: the email's unsubscribe link, the SMS's opt-out."""
    rules: list[_Rule] = []
    if channel is Channel.EMAIL:
        rules.append(("body", lambda text, f: f.unsubscribe_link is not None and f.unsubscribe_link in text,
                      "must contain {{ unsubscribe_link }}"))  # fmt: skip
    if channel is Channel.SMS:
        rules.append(("body", lambda text, f: bool(_STOP.search(text)), 'must say how to opt out ("Reply STOP …")'))
    return rules


def _rule_errors(rules: list[_Rule], sources: dict[str, str],
                 rendered: list[tuple[_Sample, dict[str, str]]]) -> list[FieldError]:  # fmt: skip
    """A rule that fails with some samples only names the first of them."""
    errors: list[FieldError] = []
    for part, rule, message in rules:
        if part not in sources:
            continue
        failing = [s.when for s, texts in rendered if not rule(_plain(texts[part], part), s.fields)]
        if failing:
            errors.append(FieldError(part, message + ("" if len(failing) == len(rendered) else f" ({failing[0]})")))
    return errors


def _shop_name_errors(sources: dict[str, str], rendered: list[tuple[_Sample, dict[str, str]]]) -> list[FieldError]:
    errors: list[FieldError] = []
    for part in ("body", "html"):
        if part in sources and not any(_has_shop(texts, part, s.fields) for s, texts in rendered):
            errors.append(FieldError(part, "must name the shop: {{ shop_name }} (here or in the subject)"))
        elif part in sources and not all(_has_shop(texts, part, s.fields) for s, texts in rendered):
            errors.append(FieldError(part, "must name the shop ({{ shop_name }}) with and without a discount"))
    return errors


def _subject_errors(channel: Channel, source: str, renderings: list[dict[str, str]],
                    long_cart: TemplateFields) -> list[FieldError]:  # fmt: skip
    longest = " ".join(render(source, long_cart).split())  # sent on one line (texts.py)
    limit = MAX_SUBJECT_CHARS[channel]
    if any("\n" in texts["subject"].strip() for texts in renderings):
        return [FieldError("subject", "must be one line")]
    if len(longest) > limit:
        return [FieldError("subject", f"is too long with a long cart ({len(longest)} characters; "
                                      f"the limit is {limit})")]  # fmt: skip
    if not all(texts["subject"].strip() for texts in renderings):
        return [FieldError("subject", "renders to nothing for some carts")]
    return []


def _push_body_errors(source: str, long_cart: TemplateFields) -> list[FieldError]:
    rendered = render(source, long_cart).strip()
    if len(rendered) > MAX_PUSH_BODY_CHARS:
        return [FieldError("body", f"is too long for a notification with a long cart ({len(rendered)} "
                                   f"characters; the limit is {MAX_PUSH_BODY_CHARS})")]  # fmt: skip
    return []


def _plain(text: str, part: str) -> str:
    """An HTML rendering with entities decoded, so escaped links and titles are found."""
    return html_lib.unescape(text) if part == "html" else text


def _has_shop(texts: dict[str, str], part: str, fields: TemplateFields) -> bool:
    return fields.shop_name in _plain(texts[part], part) or fields.shop_name in texts.get("subject", "")


# --- storage -----------------------------------------------------------------------------------


def _shop(session: Session, shop_id: int) -> Shop:
    shop = session.get(Shop, shop_id)
    if shop is None:
        raise UnknownTemplate(f"no shop {shop_id}")
    return shop


def _row(session: Session, shop_id: int, key: TemplateKey) -> MessageTemplate | None:
    return session.scalar(
        select(MessageTemplate).where(
            MessageTemplate.shop_id == shop_id,
            MessageTemplate.step == key.step.value,
            MessageTemplate.channel == key.channel.value,
            MessageTemplate.language == key.language,
        )
    )


def save_template(
    session: Session,
    shop_id: int,
    step: object,
    channel: object,
    language: object,
    *,
    subject: object,
    body: object,
    html: object,
) -> MessageTemplate:
    """Store the shop's own text; raises UnknownTemplate, or InvalidTemplate with every problem
    (nothing is written then)."""
    key = template_key(step, channel, language)
    shop = _shop(session, shop_id)
    errors = check_template(key, subject=subject, body=body, html=html, shop_name=shop.name, shop_domain=shop.domain)
    if errors:
        raise InvalidTemplate(errors)
    values = {
        name: normalized(_as_text(value)) for name, value in (("subject", subject), ("body", body), ("html", html))
    }
    row = _row(session, shop_id, key)
    if row is None:
        try:
            with session.begin_nested():  # a concurrent first save of the same key wins the insert
                row = MessageTemplate(shop_id=shop_id, step=key.step.value, channel=key.channel.value,
                                      language=key.language, updated_at=utcnow(), **values)  # fmt: skip
                session.add(row)
            return row
        except IntegrityError:
            row = _row(session, shop_id, key)
            if row is None:  # the row that won the insert is gone again
                raise
    for name, value in values.items():
        setattr(row, name, value)
    row.updated_at = utcnow()
    session.flush()
    return row


def reset_template(session: Session, shop_id: int, step: object, channel: object, language: object) -> bool:
    """Back to the default text; False when the shop had not saved one. Raises UnknownTemplate."""
    key = template_key(step, channel, language)
    removed = rows_changed(
        session,
        delete(MessageTemplate).where(
            MessageTemplate.shop_id == shop_id,
            MessageTemplate.step == key.step.value,
            MessageTemplate.channel == key.channel.value,
            MessageTemplate.language == key.language,
        ),
    )
    return bool(removed)


def custom_template(session: Session, shop_id: int, step: Step | str, channel: Channel | str,
                    language: str) -> DefaultTemplate | None:  # fmt: skip
    """The shop's own text for a send, or None (then the default applies)."""
    row = session.scalar(
        select(MessageTemplate).where(
            MessageTemplate.shop_id == shop_id,
            MessageTemplate.step == Step(step).value,
            MessageTemplate.channel == Channel(channel).value,
            MessageTemplate.language == language,
        )
    )
    if row is None:
        return None
    url = default_template(step, channel, language).url  # a push opens the step's link (recovery, review…)
    return DefaultTemplate(body=row.body, subject=row.subject, html=row.html, url=url)


def template_for(session: Session, shop_id: int, step: Step | str, channel: Channel | str, language: str,
                 tone: str) -> DefaultTemplate:  # fmt: skip
    """The text in effect: the shop's own when saved, else the default in `tone`."""
    custom = custom_template(session, shop_id, step, channel, language)
    return custom if custom is not None else default_template(step, channel, language, tone)


@dataclass(frozen=True)
class TemplateEntry:
    """One line of the admin's template list."""

    key: TemplateKey
    template: DefaultTemplate  # the text in effect
    custom: bool
    updated_at: datetime | None
    sms: SmsReport | None  # SMS only; None too when the saved text no longer renders

    def to_json(self) -> dict[str, object]:
        return {
            "step": self.key.step.value,
            "channel": self.key.channel.value,
            "language": self.key.language,
            "custom": self.custom,
            "subject": self.template.subject,
            "body": self.template.body,
            "html": self.template.html,
            "updated_at": self.updated_at.isoformat() if self.updated_at else None,
            "sms": self.sms.to_json() if self.sms else None,
        }


def template_entry(session: Session, shop_id: int, step: object, channel: object, language: object,
                   tone: str | None = None) -> TemplateEntry:  # fmt: skip
    """Raises UnknownTemplate. `tone` None: the shop's setting."""
    key = template_key(step, channel, language)
    shop = _shop(session, shop_id)
    if tone is None:
        tone = load_settings(session, shop).tone
    return _entry(session, shop, key, tone)


def templates_for(session: Session, shop_id: int) -> list[TemplateEntry]:
    """Every editable step × channel × language, with the text in effect for the shop's tone."""
    shop = _shop(session, shop_id)
    tone = load_settings(session, shop).tone
    return [_entry(session, shop, TemplateKey(step, channel, language), tone)
            for step, channel in EDITABLE for language in LANGUAGES]  # fmt: skip


def _entry(session: Session, shop: Shop, key: TemplateKey, tone: str) -> TemplateEntry:
    row = _row(session, shop.id, key)
    if row is None:
        template = default_template(key.step, key.channel, key.language, tone)
    else:
        template = DefaultTemplate(body=row.body, subject=row.subject, html=row.html)
    report = None
    if key.channel is Channel.SMS:
        try:
            report = sms_report(template.body, key.language, shop_name=shop.name, shop_domain=shop.domain)
        except TemplateRefused:
            report = None
    return TemplateEntry(key, template, row is not None, row.updated_at if row else None, report)
