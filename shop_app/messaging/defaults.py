"""The texts a shop sends until the merchant writes its own: every step × channel × language × tone.

DEFAULT_TEMPLATES holds both flows: Revenue Recovery's texts (written here) and the Referral Generation
flow's (shop_app/messaging/referral_defaults.py, steps review, social, invite and reward).

Every default passes the checks a merchant's own text must pass (merchant_templates.check_template).
SMS copy stays in GSM-7 (á, í, ó, ú would force UCS-2: "STOP para baja", no "código") so it fits the
segment cap with the long sample cart. The copy is assembled from phrases per language and tone
(_VOICE) and per step (_STEPS); Jinja snippets stay out of f-strings so their braces stay literal.
"""

from __future__ import annotations

from dataclasses import dataclass

from shop_app.domain.models import Channel, Step
from shop_app.domain.settings import TONES
from shop_app.messaging.referral_defaults import REFERRAL_TEMPLATES

LANGUAGES = ("en", "es")
__all__ = ["DEFAULT_TEMPLATES", "DefaultTemplate", "LANGUAGES", "TONES", "default_template"]


@dataclass(frozen=True)
class DefaultTemplate:
    body: str  # text body (email text part, push body, SMS, WhatsApp)
    subject: str | None = None  # email subject, push title
    html: str | None = None  # email HTML body
    url: str | None = None  # push: where a click on the notification goes


#: One language and tone's phrases, or what one step says.
_Copy = dict[str, str]

_NAME = "{% if first_name %} {{ first_name }}{% endif %}"
_EXPIRY = {
    "en": "{% if discount_expiry %}, valid until {{ discount_expiry }}{% endif %}",
    "es": "{% if discount_expiry %}, válido hasta el {{ discount_expiry }}{% endif %}",
}
_SMS_EXPIRY = {
    "en": "{% if discount_expiry %} until {{ discount_expiry }}{% endif %}",
    "es": "{% if discount_expiry %} hasta el {{ discount_expiry }}{% endif %}",
}

_VOICE: dict[tuple[str, str], _Copy] = {
    ("en", "informal"): {
        "greeting": 'Hi {{ first_name or "there" }},',
        "sms_greeting": 'Hi {{ first_name or "there" }}',
        "discount": "Use code {{ discount_code }} for {{ discount_value }}" + _EXPIRY["en"] + ".",
        "cta": "Finish your order",
        "total": "Total",
        "signoff": "See you soon,",
        "unsubscribe": "Don't want these reminders? Unsubscribe",
        "stop": "Reply STOP to opt out",
        "more": "and {{ more_items }} more",
    },
    ("en", "formal"): {
        "greeting": "Hello" + _NAME + ",",
        "sms_greeting": "Hello" + _NAME,
        "discount": "Please use code {{ discount_code }} for {{ discount_value }}" + _EXPIRY["en"] + ".",
        "cta": "Complete your order",
        "total": "Total",
        "signoff": "Kind regards,",
        "unsubscribe": "To stop receiving these reminders, unsubscribe",
        "stop": "Reply STOP to opt out",
        "more": "and {{ more_items }} more items",
    },
    ("es", "informal"): {
        "greeting": "¡Hola" + _NAME + "!",
        "sms_greeting": "Hola" + _NAME,
        "discount": "Usa el código {{ discount_code }} y llévate {{ discount_value }}" + _EXPIRY["es"] + ".",
        "cta": "Termina tu pedido",
        "total": "Total",
        "signoff": "¡Hasta pronto!",
        "unsubscribe": "¿No quieres más recordatorios? Date de baja",
        "stop": "STOP para baja",
        "more": "y {{ more_items }} más",
    },
    ("es", "formal"): {
        "greeting": "Hola" + _NAME + ":",
        "sms_greeting": "Hola" + _NAME,
        "discount": "Utilice el código {{ discount_code }} para obtener {{ discount_value }}" + _EXPIRY["es"] + ".",
        "cta": "Complete su pedido",
        "total": "Total",
        "signoff": "Atentamente,",
        "unsubscribe": "Para dejar de recibir estos recordatorios, dese de baja",
        "stop": "STOP para baja",
        "more": "y {{ more_items }} artículos más",
    },
}

# subject: email subject; title: push title; lead: email opening; short: SMS / WhatsApp / push line.
_STEPS: dict[tuple[Step, str, str], _Copy] = {
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


def _email_text(voice: _Copy, step: _Copy) -> str:
    return (
        f"{voice['greeting']}\n\n{step['lead']}\n\n"
        + _ITEMS_TEXT.replace("{more}", voice["more"])
        + f"{voice['total']}: {{{{ cart_total }}}}\n\n"
        + f"{{% if discount_code %}}\n{voice['discount']}\n\n{{% endif %}}\n"
        + f"{voice['cta']}: {{{{ recovery_link }}}}\n\n"
        + f"{voice['signoff']}\n{{{{ shop_name }}}}\n\n"
        + f"{voice['unsubscribe']}: {{{{ unsubscribe_link }}}}\n"
    )


def _email_html(voice: _Copy, step: _Copy) -> str:
    return (
        '<div style="font-family:sans-serif;max-width:560px;margin:auto;color:#202223">\n'
        f"<p>{voice['greeting']}</p>\n<p>{step['lead']}</p>\n"
        + _ITEMS_HTML.replace("{more}", voice["more"])
        + f"<tr><td><strong>{voice['total']}</strong></td>"
        + '<td style="text-align:right"><strong>{{ cart_total }}</strong></td></tr>\n</table>\n'
        + f"{{% if discount_code %}}\n<p><strong>{voice['discount']}</strong></p>\n{{% endif %}}\n"
        + '<p><a href="{{ recovery_link }}" style="display:inline-block;padding:12px 20px;background:#008060;'
        + f'color:#ffffff;text-decoration:none;border-radius:4px">{voice["cta"]}</a></p>\n'
        + f"<p>{voice['signoff']}<br>{{{{ shop_name }}}}</p>\n"
        + '<p style="font-size:12px;color:#6d7175">'
        + f'<a href="{{{{ unsubscribe_link }}}}">{voice["unsubscribe"]}</a></p>\n'
        + "</div>\n"
    )


def _push_body(language: str) -> str:
    code = {"en": "Code", "es": "Código"}[language]
    return (
        "{{ cart_summary }} · {{ cart_total }}"
        + f"{{% if discount_code %}} · {code} {{{{ discount_code }}}}: {{{{ discount_value }}}}{{% endif %}}"
    )


def _sms(language: str, voice: _Copy, step: _Copy) -> str:
    use = {"en": "Code", "es": "Usa"}[language]
    return (
        f"{voice['sms_greeting']}, {step['short']} ({{{{ cart_summary }}}}, {{{{ cart_total }}}})."
        + f"{{% if discount_code %}} {use} {{{{ discount_code }}}}: {{{{ discount_value }}}}"
        + _SMS_EXPIRY[language]
        + ".{% endif %} {{ recovery_link }} "
        + voice["stop"]
    )


def _whatsapp(voice: _Copy, step: _Copy) -> str:
    return (
        f"{voice['greeting']}\n\n{step['lead']}\n"
        + "*{{ cart_summary }}* ({{ cart_total }})\n"
        + f"{{% if discount_code %}}\n{voice['discount']}\n{{% endif %}}\n"
        + f"{voice['cta']}: {{{{ recovery_link }}}}\n"
        + f"{voice['stop']}"
    )


def _build() -> dict[tuple[Step, Channel, str, str], DefaultTemplate]:
    table: dict[tuple[Step, Channel, str, str], DefaultTemplate] = {}
    for (step, language, tone), copy in _STEPS.items():
        voice = _VOICE[(language, tone)]
        table[(step, Channel.EMAIL, language, tone)] = DefaultTemplate(
            subject=copy["subject"], body=_email_text(voice, copy), html=_email_html(voice, copy)
        )
        table[(step, Channel.PUSH, language, tone)] = DefaultTemplate(
            subject=copy["title"], body=_push_body(language), url="{{ recovery_link }}"
        )
        table[(step, Channel.SMS, language, tone)] = DefaultTemplate(body=_sms(language, voice, copy))
        table[(step, Channel.WHATSAPP, language, tone)] = DefaultTemplate(body=_whatsapp(voice, copy))
    for (name, channel, language, tone), parts in REFERRAL_TEMPLATES.items():
        table[(Step(name), Channel(channel), language, tone)] = DefaultTemplate(**parts)
    return table


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
