"""WhatsApp templates: the texts the app needs approved by Meta, created through Twilio's Content API.

A recovery message is business-initiated, so WhatsApp only ever sends approved templates (category
MARKETING): one per step and language, with and without an offer. Variables are numbered as the Content
API wants them: {{1}} first name, {{2}} shop name, {{3}} cart summary, {{4}} recovery link, {{5}} the
offer. Meta refuses a template that starts or ends with a variable, so every body has text around them.

The Referral Generation Flow's steps (issue 11) have one template each per language, keyed by the step
(`review`, `social`, `invite`, `reward`) and named `reclaim_referral_<step>_<language>`: {{1}} first
name, {{2}} shop name, {{3}} the step's link (the review page, the shop, the advocate's referral link);
the invite adds {{4}} the personal code and {{5}} what a friend gets; the reward {{4}} the reward code,
{{5}} its value and {{6}} its expiry. They are created, submitted and refreshed with the recovery ones.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from shop_app.domain.models import Checkout
from shop_app.storage.channel_tables import ContentTemplate
from shop_app.storage.database import transaction

CATEGORY = "MARKETING"
APPROVED = "approved"
UNSUBMITTED = "unsubmitted"

_BODIES: dict[tuple[str, str], str] = {
    ("whatsapp", "en"): "Hi {{1}}, this is {{2}}. You left {{3}} in your cart. "
    "It is saved for you here: {{4}} Reply STOP to opt out.",
    ("whatsapp+offer", "en"): "Hi {{1}}, this is {{2}}. You left {{3}} in your cart. {{5}} "
    "It is saved for you here: {{4}} Reply STOP to opt out.",
    ("prime", "en"): "Hi {{1}}, {{2}} here. Your {{3}} is still waiting for you. "
    "Complete your order: {{4}} Reply STOP to opt out.",
    ("prime+offer", "en"): "Hi {{1}}, {{2}} here. Your {{3}} is still waiting for you. {{5}} "
    "Complete your order: {{4}} Reply STOP to opt out.",
    ("whatsapp", "es"): "Hola {{1}}, te escribimos de {{2}}. Dejaste {{3}} en tu carrito. "
    "Lo guardamos aquí: {{4}} Responde BAJA para no recibir más mensajes.",
    ("whatsapp+offer", "es"): "Hola {{1}}, te escribimos de {{2}}. Dejaste {{3}} en tu carrito. {{5}} "
    "Lo guardamos aquí: {{4}} Responde BAJA para no recibir más mensajes.",
    ("prime", "es"): "Hola {{1}}, somos {{2}}. Tu {{3}} te sigue esperando. "
    "Completa tu pedido: {{4}} Responde BAJA para no recibir más mensajes.",
    ("prime+offer", "es"): "Hola {{1}}, somos {{2}}. Tu {{3}} te sigue esperando. {{5}} "
    "Completa tu pedido: {{4}} Responde BAJA para no recibir más mensajes.",
    # The Referral Generation Flow (issue 11).
    ("review", "en"): "Hi {{1}}, thank you for your order from {{2}}! Would you tell others what you think of it? "
    "Leave a review here: {{3}} Reply STOP to opt out.",
    ("social", "en"): "Hi {{1}}, {{2}} here. Enjoying your order? Share it on social media and tag us, "
    "we would love to see it: {{3}} Reply STOP to opt out.",
    ("invite", "en"): "Hi {{1}}, {{2}} here. Share your personal code {{4}} with your friends: they get {{5}}, "
    "and you get a reward when they order. Your link to share: {{3}} Reply STOP to opt out.",
    ("reward", "en"): "Hi {{1}}, a friend ordered from {{2}} with your code, thank you! Your reward: {{5}} "
    "with code {{4}}, valid until {{6}}. Shop here: {{3}} Reply STOP to opt out.",
    ("review", "es"): "Hola {{1}}, ¡gracias por tu pedido en {{2}}! ¿Nos cuentas qué te parece? "
    "Deja tu reseña aquí: {{3}} Responde BAJA para no recibir más mensajes.",
    ("social", "es"): "Hola {{1}}, somos {{2}}. ¿Te gusta tu pedido? Compártelo en redes sociales y "
    "menciónanos, nos encantará verlo: {{3}} Responde BAJA para no recibir más mensajes.",
    ("invite", "es"): "Hola {{1}}, somos {{2}}. Comparte tu código personal {{4}} con tus amigos: ellos "
    "consiguen {{5}} y tú un regalo cuando compren. Tu enlace para compartir: {{3}} "
    "Responde BAJA para no recibir más mensajes.",
    ("reward", "es"): "Hola {{1}}, un amigo ha comprado en {{2}} con tu código, ¡gracias! Tu regalo: {{5}} "
    "con el código {{4}}, válido hasta el {{6}}. Compra aquí: {{3}} Responde BAJA para no recibir más mensajes.",
}
#: The referral steps that have a template of their own (the step is its key).
REFERRAL_STEPS = ("review", "social", "invite", "reward")
#: Shown to Meta's reviewers and used when a value is missing.
_SAMPLES = {
    "en": {
        "1": "Ana",
        "2": "Demo Shop",
        "3": "1 x Linen shirt",
        "4": "https://demo-shop.example/cart",
        "5": "Use code SAVE10 for 10% off until Friday.",
    },
    "es": {
        "1": "Ana",
        "2": "Demo Shop",
        "3": "1 x Camisa de lino",
        "4": "https://demo-shop.example/cart",
        "5": "Usa el código SAVE10 para un 10% de descuento hasta el viernes.",
    },
}
#: The referral templates' own sample values, over the ones above.
_REFERRAL_SAMPLES = {
    "en": {
        "review": {"3": "https://demo-shop.example/orders/1001"},
        "social": {"3": "https://demo-shop.example"},
        "invite": {"3": "https://demo-shop.example/discount/ANA-7KQ2M9", "4": "ANA-7KQ2M9",
                   "5": "10% off their first order"},
        "reward": {"3": "https://demo-shop.example", "4": "THANKS-8J2KQ4", "5": "10% off", "6": "May 10, 12:00"},
    },
    "es": {
        "review": {"3": "https://demo-shop.example/orders/1001"},
        "social": {"3": "https://demo-shop.example"},
        "invite": {"3": "https://demo-shop.example/discount/ANA-7KQ2M9", "4": "ANA-7KQ2M9",
                   "5": "10 % de descuento en su primer pedido"},
        "reward": {"3": "https://demo-shop.example", "4": "THANKS-8J2KQ4", "5": "10 % de descuento",
                   "6": "10/05 12:00"},
    },
}  # fmt: skip
_NO_NAME = {"en": "there", "es": "de nuevo"}
#: A reward whose expiry is not known (every reward code has one; WhatsApp refuses an empty value).
_NO_EXPIRY = {"en": "further notice", "es": "nuevo aviso"}
_VARIABLE = re.compile(r"\{\{(\d+)\}\}")


class ContentApi(Protocol):
    """What this module asks of a shop's Twilio account (adapters.twilio_messaging.TwilioTransport)."""

    def create_whatsapp_template(
        self, friendly_name: str, language: str, body: str, variables: dict[str, str]
    ) -> str: ...

    def submit_for_approval(self, content_sid: str, name: str, category: str = ...) -> str: ...

    def approval_status(self, content_sid: str) -> tuple[str, str | None]: ...


#: One template as the admin lists it (`listing`).
Listed = dict[str, str | None]


@dataclass(frozen=True)
class Needed:
    key: str
    language: str
    body: str

    @property
    def friendly_name(self) -> str:
        flow = "referral_" if self.key in REFERRAL_STEPS else ""
        return f"reclaim_{flow}{self.key.replace('+', '_')}_{self.language}"

    @property
    def variables(self) -> dict[str, str]:
        used = set(_VARIABLE.findall(self.body))
        samples = {**_SAMPLES[self.language], **_REFERRAL_SAMPLES[self.language].get(self.key, {})}
        return {k: v for k, v in samples.items() if k in used}


def needed() -> list[Needed]:
    return [Needed(key, language, body) for (key, language), body in _BODIES.items()]


def key_for(step: str, has_offer: bool) -> str:
    """The template of a step: a recovery step's with or without its offer; a referral step's own
    (the invite's and the reward's code are part of it)."""
    if step in REFERRAL_STEPS:
        return step
    return f"{step}+offer" if has_offer else step


def approved(session: Session, shop_id: int, key: str, language: str) -> ContentTemplate | str:
    """The shop's template for (key, language) once WhatsApp approved it, else why it cannot be sent."""
    template = find(session, shop_id, key, language)
    if template is not None and template.approval_status == APPROVED:
        return template
    state = template.approval_status if template is not None else "not created"
    return (
        f"needs connection: WhatsApp template {key} ({language}) is {state}; "
        "only templates WhatsApp approved may start a conversation"
    )


def variables(
    language: str, *, first_name: str, shop_name: str, cart_summary: str, link: str, offer: str | None
) -> dict[str, str]:
    """The values for one message. WhatsApp refuses empty or multi-line values, so each is one tidy line."""
    values = {"1": first_name or _NO_NAME.get(language, ""), "2": shop_name, "3": cart_summary, "4": link}
    if offer:
        values["5"] = offer
    return _tidy(values)


def referral_variables(
    step: str, language: str, *, first_name: str, shop_name: str, link: str, code: str | None = None,
    value: str | None = None, expiry: str | None = None,
) -> dict[str, str]:  # fmt: skip
    """The values of a referral step's template: the invite's `code` and `value` (what a friend gets),
    the reward's `code`, `value` and `expiry`; only those its body uses."""
    values = {"1": first_name or _NO_NAME.get(language, ""), "2": shop_name, "3": link}
    values.update({"4": code or "", "5": value or "", "6": expiry or _NO_EXPIRY.get(language, "")})
    used = set(_VARIABLE.findall(_BODIES[(step, language)]))
    return _tidy({k: v for k, v in values.items() if k in used})


def _tidy(values: dict[str, str]) -> dict[str, str]:
    return {k: " ".join(v.split())[:1000] for k, v in values.items()}


def offer_line(language: str, code: str, value: str | None, expiry: str | None) -> str:
    """The {{5}} sentence: the code, what it is worth, until when."""
    if language == "es":
        text = f"Usa el código {code}" + (f" para {value}" if value else "")
        return text + (f" hasta el {expiry}." if expiry else ".")
    text = f"Use code {code}" + (f" for {value}" if value else "")
    return text + (f" until {expiry}." if expiry else ".")


def cart_line(checkout: Checkout) -> str:
    """The {{3}} summary on one line: "1 x Linen shirt, 2 x Socks" (the first three items, then a count)."""
    items = [f"{item.quantity} x {item.title}" for item in checkout.line_items]
    if len(items) > 3:
        items = items[:3] + [f"+{len(items) - 3}"]
    return ", ".join(items) or "your cart"


def render(key: str, language: str, values: dict[str, str]) -> str:
    """The text the customer sees, kept as our record of what was sent."""
    return _VARIABLE.sub(lambda m: values.get(m.group(1), ""), _BODIES[(key, language)])


def find(session: Session, shop_id: int, key: str, language: str) -> ContentTemplate | None:
    """The shop's template for (key, language), whatever Meta said of it; None when never created."""
    return session.scalar(
        select(ContentTemplate).where(
            ContentTemplate.shop_id == shop_id, ContentTemplate.step == key, ContentTemplate.language == language
        )
    )


def missing(session: Session, shop_id: int) -> list[Needed]:
    have = set(
        session.execute(
            select(ContentTemplate.step, ContentTemplate.language).where(ContentTemplate.shop_id == shop_id)
        ).all()
    )
    return [n for n in needed() if (n.key, n.language) not in have]


def create_missing(sessions: sessionmaker[Session], transport: ContentApi, shop_id: int, now: datetime) -> list[str]:
    """Create every template the shop lacks and submit each one still unsubmitted; one line per action.

    Content API calls happen outside any transaction. A template is stored as soon as Twilio
    created it, before it is submitted: a failed submission is retried on the next call, and
    never leaves a second copy of the same template in the merchant's account.
    """
    with transaction(sessions) as session:
        todo = missing(session, shop_id)
    done = []
    for item in todo:
        sid = transport.create_whatsapp_template(item.friendly_name, item.language, item.body, item.variables)
        with transaction(sessions) as session:
            try:
                with session.begin_nested():
                    session.add(
                        ContentTemplate(
                            shop_id=shop_id,
                            step=item.key,
                            language=item.language,
                            content_sid=sid,
                            approval_status=UNSUBMITTED,
                            checked_at=now,
                        )
                    )
            except IntegrityError:  # created concurrently; theirs is kept
                continue
        done.append(f"{item.friendly_name}: created {sid}")
    with transaction(sessions) as session:
        unsubmitted = [
            (r.id, r.content_sid, r.step, r.language)
            for r in session.scalars(
                select(ContentTemplate).where(
                    ContentTemplate.shop_id == shop_id, ContentTemplate.approval_status == UNSUBMITTED
                )
            )
        ]
    names = {(n.key, n.language): n.friendly_name for n in needed()}
    for row_id, sid, key, language in unsubmitted:
        status = transport.submit_for_approval(sid, names.get((key, language), f"reclaim_{language}"), CATEGORY)
        with transaction(sessions) as session:
            row = session.get(ContentTemplate, row_id)
            if row is not None and row.shop_id == shop_id:
                row.approval_status, row.checked_at = status or "received", now
        done.append(f"{sid}: submitted ({status})")
    return done


def refresh(sessions: sessionmaker[Session], transport: ContentApi, shop_id: int, now: datetime) -> list[Listed]:
    """Ask Twilio for each template's approval state and store it."""
    with transaction(sessions) as session:
        rows = [
            (r.id, r.content_sid)
            for r in session.scalars(select(ContentTemplate).where(ContentTemplate.shop_id == shop_id))
        ]
    for row_id, sid in rows:
        status, reason = transport.approval_status(sid)
        with transaction(sessions) as session:
            row = session.get(ContentTemplate, row_id)
            if row is not None and row.shop_id == shop_id:
                row.approval_status, row.rejection_reason, row.checked_at = status, reason or None, now
    with transaction(sessions) as session:
        return listing(session, shop_id)


def listing(session: Session, shop_id: int) -> list[Listed]:
    rows = {
        (r.step, r.language): r
        for r in session.scalars(select(ContentTemplate).where(ContentTemplate.shop_id == shop_id))
    }
    out = []
    for item in needed():
        row = rows.get((item.key, item.language))
        out.append(
            {
                "key": item.key,
                "language": item.language,
                "name": item.friendly_name,
                "body": item.body,
                "content_sid": row.content_sid if row else None,
                "status": row.approval_status if row else "not created",
                "rejection_reason": row.rejection_reason if row else None,
                "checked_at": row.checked_at.isoformat() if row and row.checked_at else None,
            }
        )
    return out
