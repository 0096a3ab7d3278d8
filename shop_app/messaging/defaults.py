"""The texts a shop sends until the merchant writes its own: every step × channel × language × tone.

DEFAULT_TEMPLATES holds both flows: Revenue Recovery's texts (written here) and the Referral Generation
flow's (shop_app/messaging/referral_defaults.py, steps review, social, invite and reward).

Every default passes the checks a merchant's own text must pass (merchant_templates.check_template).
SMS copy stays in GSM-7 (á, í, ó, ú would force UCS-2: "STOP para baja", no "código") so it fits the
segment cap with the long sample cart. The copy is assembled from phrases per language and tone
(_VOICE) and per step (_STEPS) by the frames both flows share (default_copy.py); the cart is
Revenue Recovery's own.
"""

from __future__ import annotations

from dataclasses import dataclass

from shop_app.domain.models import Channel, Step
from shop_app.domain.settings import TONES
from shop_app.messaging.default_copy import (
    EXPIRY,
    NAME,
    SMS_EXPIRY,
    Copy,
    build,
    email_html,
    email_text,
    field,
    push_offer,
    sms,
    whatsapp,
)
from shop_app.messaging.referral_defaults import REFERRAL_TEMPLATES

LANGUAGES = ("en", "es")
__all__ = ["DEFAULT_TEMPLATES", "DefaultTemplate", "LANGUAGES", "TONES", "default_template"]


@dataclass(frozen=True)
class DefaultTemplate:
    body: str  # text body (email text part, push body, SMS, WhatsApp)
    subject: str | None = None  # email subject, push title
    html: str | None = None  # email HTML body
    url: str | None = None  # push: where a click on the notification goes


_VOICE: dict[tuple[str, str], Copy] = {
    ("en", "informal"): {
        "greeting": 'Hi {{ first_name or "there" }},',
        "sms_greeting": 'Hi {{ first_name or "there" }}',
        "discount": "Use code {{ discount_code }} for {{ discount_value }}" + EXPIRY["en"] + ".",
        "cta": "Finish your order",
        "total": "Total",
        "signoff": "See you soon,",
        "unsubscribe": "Don't want these reminders? Unsubscribe",
        "stop": "Reply STOP to opt out",
        "more": "and {{ more_items }} more",
    },
    ("en", "formal"): {
        "greeting": "Hello" + NAME + ",",
        "sms_greeting": "Hello" + NAME,
        "discount": "Please use code {{ discount_code }} for {{ discount_value }}" + EXPIRY["en"] + ".",
        "cta": "Complete your order",
        "total": "Total",
        "signoff": "Kind regards,",
        "unsubscribe": "To stop receiving these reminders, unsubscribe",
        "stop": "Reply STOP to opt out",
        "more": "and {{ more_items }} more items",
    },
    ("es", "informal"): {
        "greeting": "¡Hola" + NAME + "!",
        "sms_greeting": "Hola" + NAME,
        "discount": "Usa el código {{ discount_code }} y llévate {{ discount_value }}" + EXPIRY["es"] + ".",
        "cta": "Termina tu pedido",
        "total": "Total",
        "signoff": "¡Hasta pronto!",
        "unsubscribe": "¿No quieres más recordatorios? Date de baja",
        "stop": "STOP para baja",
        "more": "y {{ more_items }} más",
    },
    ("es", "formal"): {
        "greeting": "Hola" + NAME + ":",
        "sms_greeting": "Hola" + NAME,
        "discount": "Utilice el código {{ discount_code }} para obtener {{ discount_value }}" + EXPIRY["es"] + ".",
        "cta": "Complete su pedido",
        "total": "Total",
        "signoff": "Atentamente,",
        "unsubscribe": "Para dejar de recibir estos recordatorios, dese de baja",
        "stop": "STOP para baja",
        "more": "y {{ more_items }} artículos más",
    },
}

# subject: email subject; title: push title; lead: email opening; short: SMS / WhatsApp / push line.
_STEPS: dict[tuple[str, str, str], Copy] = {
    (Step.FIRST, "en", "informal"): {
        "subject": "{{ shop_name }}: you left something in your cart",
        "title": "Your cart at {{ shop_name }} is waiting",
        "lead": "You left a few things in your cart at {{ shop_name }}, so we saved them for you:",
        "short": "your cart at {{ shop_name }} is waiting",
    },
    (Step.FIRST, "en", "formal"): {
        "subject": "{{ shop_name }}: your cart has been saved",
        "title": "{{ shop_name }}: your cart has been saved",
        "lead": "Thank you for visiting {{ shop_name }}. The items you selected are still in your cart:",
        "short": "your cart at {{ shop_name }} has been saved",
    },
    (Step.WHATSAPP, "en", "informal"): {
        "subject": "{{ shop_name }}: still thinking it over?",
        "title": "{{ shop_name }}: still thinking it over?",
        "lead": "Just checking in from {{ shop_name }}: your cart is here whenever you're ready.",
        "short": "{{ shop_name }} here, your cart is still saved",
    },
    (Step.WHATSAPP, "en", "formal"): {
        "subject": "{{ shop_name }}: a reminder about your cart",
        "title": "A reminder from {{ shop_name }}",
        "lead": "This is a short reminder from {{ shop_name }} that your cart is still saved:",
        "short": "this is {{ shop_name }}, your cart is still saved",
    },
    (Step.PRIME, "en", "informal"): {
        "subject": "{{ shop_name }}: {% if discount_code %}{{ discount_value }} your cart, just for you"
        "{% else %}last call for your cart{% endif %}",
        "title": "{% if discount_code %}{{ discount_value }} at {{ shop_name }}{% else %}Last call from "
        "{{ shop_name }}{% endif %}",
        "lead": "Your cart at {{ shop_name }} is still here, and we'd love to help you finish your order:",
        "short": "{{ shop_name }} kept your cart",
    },
    (Step.PRIME, "en", "formal"): {
        "subject": "{{ shop_name }}: {% if discount_code %}a special offer on your cart"
        "{% else %}a final reminder about your cart{% endif %}",
        "title": "{% if discount_code %}A special offer from {{ shop_name }}{% else %}A final reminder from "
        "{{ shop_name }}{% endif %}",
        "lead": "Your order at {{ shop_name }} has not been completed yet. Your cart contains:",
        "short": "{{ shop_name }} has kept your cart",
    },
    (Step.FIRST, "es", "informal"): {
        "subject": "{{ shop_name }}: te dejaste algo en el carrito",
        "title": "Tu carrito en {{ shop_name }} te espera",
        "lead": "Te dejaste algunas cosas en tu carrito de {{ shop_name }} y te las hemos guardado:",
        "short": "tu carrito en {{ shop_name }} te espera",
    },
    (Step.FIRST, "es", "formal"): {
        "subject": "{{ shop_name }}: hemos guardado su carrito",
        "title": "{{ shop_name }}: hemos guardado su carrito",
        "lead": "Gracias por visitar {{ shop_name }}. Los productos que eligió siguen en su carrito:",
        "short": "su carrito en {{ shop_name }} le espera",
    },
    (Step.WHATSAPP, "es", "informal"): {
        "subject": "{{ shop_name }}: ¿aún te lo estás pensando?",
        "title": "{{ shop_name }}: ¿aún te lo estás pensando?",
        "lead": "Te escribimos desde {{ shop_name }}: tu carrito sigue aquí cuando quieras.",
        "short": "somos {{ shop_name }}, tu carrito sigue guardado",
    },
    (Step.WHATSAPP, "es", "formal"): {
        "subject": "{{ shop_name }}: un recordatorio sobre su carrito",
        "title": "Un recordatorio de {{ shop_name }}",
        "lead": "Le recordamos desde {{ shop_name }} que su carrito sigue guardado:",
        "short": "le escribe {{ shop_name }}, su carrito sigue guardado",
    },
    (Step.PRIME, "es", "informal"): {
        "subject": "{{ shop_name }}: {% if discount_code %}{{ discount_value }} en tu carrito, solo para ti"
        "{% else %}última oportunidad para tu carrito{% endif %}",
        "title": "{% if discount_code %}{{ discount_value }} en {{ shop_name }}{% else %}Última llamada de "
        "{{ shop_name }}{% endif %}",
        "lead": "Tu carrito de {{ shop_name }} sigue aquí y queremos ayudarte a terminar tu pedido:",
        "short": "{{ shop_name }} te guarda el carrito",
    },
    (Step.PRIME, "es", "formal"): {
        "subject": "{{ shop_name }}: {% if discount_code %}una oferta especial para su carrito"
        "{% else %}un último recordatorio sobre su carrito{% endif %}",
        "title": "{% if discount_code %}Una oferta especial de {{ shop_name }}{% else %}Un último "
        "recordatorio de {{ shop_name }}{% endif %}",
        "lead": "Su pedido en {{ shop_name }} aún no se ha completado. Su carrito contiene:",
        "short": "{{ shop_name }} le guarda el carrito",
    },
}

#: The cart's lines: the first MAX_CART_ITEMS (template_fields), then "and N more".
_ITEMS_TEXT = (
    "{% for item in cart_items %}\n- {{ item.quantity }} x {{ item.title }} ({{ item.price }})\n{% endfor %}\n"
    "{% if more_items %}\n- {more}\n{% endif %}\n"
)
_ITEMS_HTML = (
    '<table role="presentation" cellpadding="6" style="border-collapse:collapse">\n'
    "{% for item in cart_items %}\n"
    "<tr><td>{{ item.quantity }} &times; {{ item.title }}</td>"
    '<td style="text-align:right">{{ item.price }}</td></tr>\n'
    "{% endfor %}\n"
    '{% if more_items %}\n<tr><td colspan="2">{more}</td></tr>\n{% endif %}\n'
)


def _channels(step: str, language: str, voice: Copy, copy: Copy) -> dict[str, dict[str, str]]:
    """A recovery step's texts: the cart in the email and WhatsApp, its summary in push and SMS."""
    link, offer, cta = "recovery_link", voice["discount"], voice["cta"]
    use = {"en": "Code", "es": "Usa"}[language]
    cart = f"({field('cart_summary')}, {field('cart_total')})."
    sms_offer = f"{use} {field('discount_code')}: {field('discount_value')}{SMS_EXPIRY[language]}."
    return {
        "email": {
            "subject": copy["subject"],
            "body": email_text(voice, copy["lead"], offer, cta, link, cart=_cart_text(voice)),
            "html": email_html(voice, copy["lead"], offer, cta, link, cart=_cart_html(voice)),
        },
        "push": {
            "subject": copy["title"],
            "body": f"{field('cart_summary')} · {field('cart_total')}" + push_offer(language),
            "url": field(link),
        },
        "sms": {"body": sms(voice, f"{copy['short']} {cart}", sms_offer, link)},
        "whatsapp": {
            "body": whatsapp(
                voice, copy["lead"], offer, cta, link, cart=f"*{field('cart_summary')}* ({field('cart_total')})\n"
            )
        },
    }


def _cart_text(voice: Copy) -> str:
    return _ITEMS_TEXT.replace("{more}", voice["more"]) + f"{voice['total']}: {field('cart_total')}\n\n"


def _cart_html(voice: Copy) -> str:
    return (
        _ITEMS_HTML.replace("{more}", voice["more"])
        + f"<tr><td><strong>{voice['total']}</strong></td>"
        + f'<td style="text-align:right"><strong>{field("cart_total")}</strong></td></tr>\n</table>\n'
    )


def _build() -> dict[tuple[Step, Channel, str, str], DefaultTemplate]:
    """Recovery's steps, then the Referral Generation flow's, each channel in turn."""
    table = {**build(_STEPS, _VOICE, _channels), **REFERRAL_TEMPLATES}
    return {
        (Step(step), Channel(channel), language, tone): DefaultTemplate(**parts)
        for (step, channel, language, tone), parts in table.items()
    }


DEFAULT_TEMPLATES: dict[tuple[Step, Channel, str, str], DefaultTemplate] = _build()


def default_template(
    step: Step | str, channel: Channel | str, language: str = "en", tone: str = "informal"
) -> DefaultTemplate:
    """The default for that combination; an unknown language or tone falls back to en / informal."""
    step, channel = Step(step), Channel(channel)
    for key in ((language, tone), (language, "informal"), ("en", tone), ("en", "informal")):
        found = DEFAULT_TEMPLATES.get((step, channel, *key))
        if found is not None:
            return found
    raise KeyError((step, channel, language, tone))
