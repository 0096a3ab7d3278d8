"""How a default text is put together from phrases, for both flows' defaults (defaults.py for
Revenue Recovery, referral_defaults.py for Referral Generation).

A flow writes its phrases per language and tone (a voice: greeting, sign-off, unsubscribe, STOP)
and per step and language and tone (the step's own lines); the frames here place them the same
way in every channel: the greeting, the step's lines, an optional cart, the incentive when there
is one (`{% if discount_code %}`), the button or link, the sign-off and the way to opt out.
Jinja snippets stay out of f-strings so their braces stay literal. Keyed by plain strings: this
module does not depend on the domain's enums.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

#: One language and tone's phrases, or what one step says.
Copy = dict[str, str]
#: (step, channel, language, tone) → the parts of a default template: subject, body, html, url.
Table = dict[tuple[str, str, str, str], dict[str, str]]
#: A flow's channels for one step: (step, language, voice, step copy) → {channel: parts}.
Channels = Callable[[str, str, Copy, Copy], dict[str, dict[str, str]]]

NAME = "{% if first_name %} {{ first_name }}{% endif %}"
EXPIRY = {
    "en": "{% if discount_expiry %}, valid until {{ discount_expiry }}{% endif %}",
    "es": "{% if discount_expiry %}, válido hasta el {{ discount_expiry }}{% endif %}",
}
SMS_EXPIRY = {
    "en": "{% if discount_expiry %} until {{ discount_expiry }}{% endif %}",
    "es": "{% if discount_expiry %} hasta el {{ discount_expiry }}{% endif %}",
}


def field(name: str) -> str:
    """The Jinja expression that shows the template field `name`."""
    return "{{ " + name + " }}"


def email_text(voice: Copy, lead: str, offer: str, cta: str, link: str, cart: str = "") -> str:
    """The email's text part; `cart` (its lines and total) stands between the lead and the offer."""
    return (
        f"{voice['greeting']}\n\n{lead}\n\n"
        + cart
        + f"{{% if discount_code %}}\n{offer}\n\n{{% endif %}}\n"
        + f"{cta}: {field(link)}\n\n"
        + f"{voice['signoff']}\n{field('shop_name')}\n\n"
        + f"{voice['unsubscribe']}: {field('unsubscribe_link')}\n"
    )


def email_html(voice: Copy, lead: str, offer: str, cta: str, link: str, cart: str = "") -> str:
    """The email's HTML part: `lead` and `cart` are HTML already; the button goes to `link`."""
    return (
        '<div style="font-family:sans-serif;max-width:560px;margin:auto;color:#202223">\n'
        f"<p>{voice['greeting']}</p>\n<p>{lead}</p>\n"
        + cart
        + f"{{% if discount_code %}}\n<p><strong>{offer}</strong></p>\n{{% endif %}}\n"
        + f'<p><a href="{field(link)}" style="display:inline-block;padding:12px 20px;background:#008060;'
        + f'color:#ffffff;text-decoration:none;border-radius:4px">{cta}</a></p>\n'
        + f"<p>{voice['signoff']}<br>{field('shop_name')}</p>\n"
        + '<p style="font-size:12px;color:#6d7175">'
        + f'<a href="{field("unsubscribe_link")}">{voice["unsubscribe"]}</a></p>\n'
        + "</div>\n"
    )


def push_offer(language: str) -> str:
    """What a notification adds when the message carries an incentive."""
    code = {"en": "Code", "es": "Código"}[language]
    return f"{{% if discount_code %}} · {code} {field('discount_code')}: {field('discount_value')}{{% endif %}}"


def sms(voice: Copy, sentence: str, offer: str, link: str) -> str:
    """The greeting, the step's sentence, the incentive when there is one, the link and STOP."""
    return (
        f"{voice['sms_greeting']}, {sentence}"
        + f"{{% if discount_code %}} {offer}{{% endif %}}"
        + f" {field(link)} {voice['stop']}"
    )


def whatsapp(voice: Copy, lead: str, offer: str, cta: str, link: str, cart: str = "") -> str:
    return (
        f"{voice['greeting']}\n\n{lead}\n"
        + cart
        + f"{{% if discount_code %}}\n{offer}\n{{% endif %}}\n"
        + f"{cta}: {field(link)}\n"
        + voice["stop"]
    )


def build(
    steps: Mapping[tuple[str, str, str], Copy], voices: Mapping[tuple[str, str], Copy], channels: Channels
) -> Table:
    """Every step × channel × language × tone: each step's copy in its language and tone's voice,
    in the order of `steps` and then of the channels."""
    table: Table = {}
    for (step, language, tone), copy in steps.items():
        for channel, parts in channels(step, language, voices[(language, tone)], copy).items():
            table[(step, channel, language, tone)] = parts
    return table
