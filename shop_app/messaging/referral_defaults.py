"""The Referral Generation flow's default texts: every step × channel × language × tone.

Written like the recovery defaults (defaults.py) and held to the same checks as a merchant's own text
(merchant_templates.check_template, with REQUIRED_FIELDS for what each step must show). The steps:
`review` thanks the buyer and asks for a review (review_link), `social` asks for a mention on social
media (shop_url), `invite` gives the advocate's personal code and link and what a friend gets
(referral_code, referral_link, friend_offer), `reward` gives the advocate's single-use reward code, its
value and expiry (reward_code, reward_value, reward_expiry). Any step may carry an incentive
(`{% if discount_code %}`). SMS copy stays in GSM-7 ("STOP para baja", "reseña", no "código") so it fits
the segment cap with the long sample values.

Keyed by (step, channel, language, tone) as plain strings, so this module does not depend on the
domain's Step enum; each value holds the parts of a DefaultTemplate (subject, body, html, url).
"""

from __future__ import annotations

from shop_app.messaging.default_copy import (
    EXPIRY,
    NAME,
    SMS_EXPIRY,
    Copy,
    Table,
    build,
    email_html,
    email_text,
    field,
    push_offer,
    sms,
    whatsapp,
)

LANGUAGES = ("en", "es")
TONES = ("formal", "informal")
STEPS = ("review", "social", "invite", "reward")
CHANNELS = ("email", "push", "sms", "whatsapp")
#: What each step's message must show (besides the shop's name and the way to opt out); a push need
#: not show a link (a click opens it).
REQUIRED_FIELDS: dict[str, tuple[str, ...]] = {
    "review": ("review_link",),
    "social": ("shop_url",),
    "invite": ("referral_code", "referral_link"),
    "reward": ("reward_code",),
}
LINK_FIELDS = frozenset({"review_link", "shop_url", "referral_link"})
#: Where each step's button, SMS link and notification click go.
STEP_LINKS = {"review": "review_link", "social": "shop_url", "invite": "referral_link", "reward": "shop_url"}

_REWARD_EXPIRY = {
    "en": "{% if reward_expiry %}, valid until {{ reward_expiry }}{% endif %}",
    "es": "{% if reward_expiry %}, válido hasta el {{ reward_expiry }}{% endif %}",
}
_SMS_REWARD_EXPIRY = {
    "en": "{% if reward_expiry %} until {{ reward_expiry }}{% endif %}",
    "es": "{% if reward_expiry %} hasta el {{ reward_expiry }}{% endif %}",
}

_VOICE: dict[tuple[str, str], Copy] = {
    ("en", "informal"): {
        "greeting": 'Hi {{ first_name or "there" }},',
        "sms_greeting": 'Hi {{ first_name or "there" }}',
        "gift": "A little thank-you: use code {{ discount_code }} for {{ discount_value }}" + EXPIRY["en"] + ".",
        "sms_gift": "Code {{ discount_code }}: {{ discount_value }}" + SMS_EXPIRY["en"] + ".",
        "signoff": "Thanks again,",
        "unsubscribe": "Don't want these emails? Unsubscribe",
        "stop": "Reply STOP to opt out",
    },
    ("en", "formal"): {
        "greeting": "Hello" + NAME + ",",
        "sms_greeting": "Hello" + NAME,
        "gift": "As a token of thanks, please use code {{ discount_code }} for {{ discount_value }}"
        + EXPIRY["en"]
        + ".",
        "sms_gift": "Code {{ discount_code }}: {{ discount_value }}" + SMS_EXPIRY["en"] + ".",
        "signoff": "Kind regards,",
        "unsubscribe": "To stop receiving these emails, unsubscribe",
        "stop": "Reply STOP to opt out",
    },
    ("es", "informal"): {
        "greeting": "¡Hola" + NAME + "!",
        "sms_greeting": "Hola" + NAME,
        "gift": "Un pequeño regalo: usa el código {{ discount_code }} y llévate {{ discount_value }}"
        + EXPIRY["es"]
        + ".",
        "sms_gift": "Usa {{ discount_code }}: {{ discount_value }}" + SMS_EXPIRY["es"] + ".",
        "signoff": "¡Gracias de nuevo!",
        "unsubscribe": "¿No quieres recibir estos correos? Date de baja",
        "stop": "STOP para baja",
    },
    ("es", "formal"): {
        "greeting": "Hola" + NAME + ":",
        "sms_greeting": "Hola" + NAME,
        "gift": "Como agradecimiento, utilice el código {{ discount_code }} para obtener {{ discount_value }}"
        + EXPIRY["es"]
        + ".",
        "sms_gift": "Use {{ discount_code }}: {{ discount_value }}" + SMS_EXPIRY["es"] + ".",
        "signoff": "Atentamente,",
        "unsubscribe": "Para dejar de recibir estos correos, dese de baja",
        "stop": "STOP para baja",
    },
}

# subject: email subject; title / push: notification title and text; lead: email and WhatsApp
# paragraph; cta: the button (its link is STEP_LINKS[step]); sms: the SMS sentence after the greeting.
_STEPS: dict[tuple[str, str, str], Copy] = {
    ("review", "en", "informal"): {
        "subject": "Thanks for your order at {{ shop_name }}! How did we do?",
        "title": "How was your order from {{ shop_name }}?",
        "push": "Tell us in a quick review. It helps other shoppers a lot.",
        "lead": "Thanks so much for shopping at {{ shop_name }}! We hope you love your order. "
        "Would you tell others what you think? A short review helps other shoppers and means a lot to us.",
        "cta": "Leave a review",
        "sms": "thanks for your order at {{ shop_name }}! Would you leave us a quick review?",
    },
    ("review", "en", "formal"): {
        "subject": "{{ shop_name }}: thank you for your order",
        "title": "{{ shop_name }} would value your review",
        "push": "Thank you for your order. We would be grateful for your review.",
        "lead": "Thank you for your order at {{ shop_name }}. We hope it meets your expectations. "
        "We would be grateful if you could share your opinion in a short review.",
        "cta": "Write a review",
        "sms": "thank you for your order at {{ shop_name }}. We would be grateful for your review.",
    },
    ("review", "es", "informal"): {
        "subject": "¡Gracias por tu pedido en {{ shop_name }}! ¿Qué tal?",
        "title": "¿Qué tal tu pedido de {{ shop_name }}?",
        "push": "Cuéntanoslo en una reseña rápida. Ayuda mucho a otros clientes.",
        "lead": "¡Muchas gracias por comprar en {{ shop_name }}! Esperamos que te encante tu pedido. "
        "¿Nos cuentas qué te parece? Una reseña corta ayuda a otros clientes y para nosotros vale mucho.",
        "cta": "Deja tu reseña",
        "sms": "gracias por tu pedido en {{ shop_name }}! Nos dejas una reseña rapida?",
    },
    ("review", "es", "formal"): {
        "subject": "{{ shop_name }}: gracias por su pedido",
        "title": "{{ shop_name }} agradecería su reseña",
        "push": "Gracias por su pedido. Le agradeceríamos una breve reseña.",
        "lead": "Gracias por su pedido en {{ shop_name }}. Esperamos que cumpla sus expectativas. "
        "Le agradeceríamos que compartiera su opinión en una breve reseña.",
        "cta": "Escribir una reseña",
        "sms": "gracias por su pedido en {{ shop_name }}. Le agradeceremos una breve reseña.",
    },
    ("social", "en", "informal"): {
        "subject": "Loving your order from {{ shop_name }}? Show it off!",
        "title": "Share your {{ shop_name }} favourites",
        "push": "Post a photo and tag us. We love seeing our things out in the world.",
        "lead": "We hope you're enjoying your order from {{ shop_name }}! If you are, share it on social media "
        "and tag us: a photo or a few words go a long way for a small shop like ours.",
        "cta": "Visit {{ shop_name }}",
        "sms": "enjoying your {{ shop_name }} order? Share a photo on social media and tag us!",
    },
    ("social", "en", "formal"): {
        "subject": "{{ shop_name }}: share your experience",
        "title": "Share your experience with {{ shop_name }}",
        "push": "A mention on social media would mean a great deal to us.",
        "lead": "We hope you are satisfied with your purchase from {{ shop_name }}. If so, we would greatly "
        "appreciate a mention on social media: a photo or a few words help others discover us.",
        "cta": "Visit {{ shop_name }}",
        "sms": "if you are pleased with your {{ shop_name }} order, a mention on social media would mean a lot.",
    },
    ("social", "es", "informal"): {
        "subject": "¿Te encanta tu pedido de {{ shop_name }}? ¡Compártelo!",
        "title": "Comparte tus favoritos de {{ shop_name }}",
        "push": "Sube una foto y etiquétanos. Nos encanta ver nuestras cosas por el mundo.",
        "lead": "¡Esperamos que estés disfrutando de tu pedido de {{ shop_name }}! Si es así, compártelo en "
        "redes sociales y etiquétanos: una foto o unas palabras nos ayudan muchísimo.",
        "cta": "Visita {{ shop_name }}",
        "sms": "te gusta tu pedido de {{ shop_name }}? Comparte una foto en redes y etiquetanos!",
    },
    ("social", "es", "formal"): {
        "subject": "{{ shop_name }}: comparta su experiencia",
        "title": "Comparta su experiencia con {{ shop_name }}",
        "push": "Una mención en redes sociales significaría mucho para nosotros.",
        "lead": "Esperamos que esté satisfecho con su compra en {{ shop_name }}. Si es así, le agradeceríamos "
        "una mención en redes sociales: una foto o unas palabras ayudan a otros a conocernos.",
        "cta": "Visitar {{ shop_name }}",
        "sms": "si le ha gustado su pedido de {{ shop_name }}, una mencion en redes sociales nos ayudaria mucho.",
    },
    ("invite", "en", "informal"): {
        "subject": "{{ shop_name }}: a gift for your friends (and one for you)",
        "title": "A gift for your friends from {{ shop_name }}",
        "push": "Share your code {{ referral_code }}: your friends get {{ friend_offer }}.",
        "lead": "Know someone who'd love {{ shop_name }}? Share your personal code {{ referral_code }} "
        "and your friends get {{ friend_offer }}. When a friend's first order is paid, we'll send you a reward "
        "too.\n\nYour link: {{ referral_link }}",
        "cta": "Share your link",
        "sms": "your friends get {{ friend_offer }} at {{ shop_name }} with your code {{ referral_code }}. "
        "You get a reward when they order:",
    },
    ("invite", "en", "formal"): {
        "subject": "{{ shop_name }}: your personal referral code",
        "title": "Your personal referral code from {{ shop_name }}",
        "push": "Your friends receive {{ friend_offer }} with code {{ referral_code }}.",
        "lead": "As a valued customer of {{ shop_name }}, you may share your personal code {{ referral_code }}: "
        "your friends receive {{ friend_offer }}, and you will receive a reward once a friend's first order is "
        "paid.\n\nYour personal link: {{ referral_link }}",
        "cta": "Share your link",
        "sms": "with your code {{ referral_code }} your friends receive {{ friend_offer }} at {{ shop_name }}, "
        "and you a reward:",
    },
    ("invite", "es", "informal"): {
        "subject": "{{ shop_name }}: un regalo para tus amigos (y otro para ti)",
        "title": "Un regalo para tus amigos de {{ shop_name }}",
        "push": "Comparte tu código {{ referral_code }}: tus amigos consiguen {{ friend_offer }}.",
        "lead": "¿Conoces a alguien a quien le encantaría {{ shop_name }}? Comparte tu código personal "
        "{{ referral_code }} y tus amigos consiguen {{ friend_offer }}. Cuando se pague el primer pedido de un "
        "amigo, te enviamos un regalo a ti también.\n\nTu enlace: {{ referral_link }}",
        "cta": "Comparte tu enlace",
        "sms": "con tu codigo {{ referral_code }} tus amigos consiguen {{ friend_offer }} en {{ shop_name }}, "
        "y tu un regalo:",
    },
    ("invite", "es", "formal"): {
        "subject": "{{ shop_name }}: su código personal de recomendación",
        "title": "Su código de recomendación de {{ shop_name }}",
        "push": "Con el código {{ referral_code }} sus amigos reciben {{ friend_offer }}.",
        "lead": "Como cliente de {{ shop_name }}, puede compartir su código personal {{ referral_code }}: sus "
        "amigos reciben {{ friend_offer }} y usted recibirá una recompensa cuando se pague el primer pedido de "
        "un amigo.\n\nSu enlace personal: {{ referral_link }}",
        "cta": "Compartir su enlace",
        "sms": "con su codigo {{ referral_code }} sus amigos reciben {{ friend_offer }} en {{ shop_name }}, "
        "y usted una recompensa:",
    },
    ("reward", "en", "informal"): {
        "subject": "{{ shop_name }}: your friend ordered, here's your reward!",
        "title": "Your reward from {{ shop_name }}",
        "push": "A friend used your code! Your reward: {{ reward_value }} with code {{ reward_code }}.",
        "lead": "A friend just placed their first order with your code, thank you for spreading the word about "
        "{{ shop_name }}! Here's your reward: {{ reward_value }} with code {{ reward_code }}"
        + _REWARD_EXPIRY["en"]
        + ". It's just for you and works once.",
        "cta": "Use your reward",
        "sms": "a friend ordered with your code, thanks! Your {{ shop_name }} reward: {{ reward_value }} with "
        "code {{ reward_code }}" + _SMS_REWARD_EXPIRY["en"] + ".",
    },
    ("reward", "en", "formal"): {
        "subject": "{{ shop_name }}: your referral reward",
        "title": "Your referral reward from {{ shop_name }}",
        "push": "Thank you for your recommendation: {{ reward_value }} with code {{ reward_code }}.",
        "lead": "A friend you referred has placed their first order at {{ shop_name }}. Thank you for your "
        "recommendation. Your reward is {{ reward_value }} with code {{ reward_code }}"
        + _REWARD_EXPIRY["en"]
        + ". The code is reserved for you and may be used once.",
        "cta": "Redeem your reward",
        "sms": "thank you for referring a friend to {{ shop_name }}. Your reward: {{ reward_value }} with code "
        "{{ reward_code }}" + _SMS_REWARD_EXPIRY["en"] + ".",
    },
    ("reward", "es", "informal"): {
        "subject": "{{ shop_name }}: tu amigo ha comprado, ¡aquí tienes tu regalo!",
        "title": "Tu regalo de {{ shop_name }}",
        "push": "¡Un amigo usó tu código! Tu regalo: {{ reward_value }} con el código {{ reward_code }}.",
        "lead": "Un amigo acaba de hacer su primer pedido con tu código, ¡gracias por recomendar {{ shop_name }}! "
        "Tu regalo: {{ reward_value }} con el código {{ reward_code }}"
        + _REWARD_EXPIRY["es"]
        + ". Es solo para ti y sirve una vez.",
        "cta": "Usa tu regalo",
        "sms": "un amigo ha comprado con tu codigo, gracias! Tu regalo en {{ shop_name }}: {{ reward_value }} "
        "con {{ reward_code }}" + _SMS_REWARD_EXPIRY["es"] + ".",
    },
    ("reward", "es", "formal"): {
        "subject": "{{ shop_name }}: su recompensa por recomendarnos",
        "title": "Su recompensa de {{ shop_name }}",
        "push": "Gracias por su recomendación: {{ reward_value }} con el código {{ reward_code }}.",
        "lead": "Un amigo al que recomendó ha realizado su primer pedido en {{ shop_name }}. Gracias por su "
        "recomendación. Su recompensa: {{ reward_value }} con el código {{ reward_code }}"
        + _REWARD_EXPIRY["es"]
        + ". El código es personal y puede usarse una vez.",
        "cta": "Usar su recompensa",
        "sms": "gracias por recomendar {{ shop_name }}. Su recompensa: {{ reward_value }} con el codigo "
        "{{ reward_code }}" + _SMS_REWARD_EXPIRY["es"] + ".",
    },
}


def _channels(step: str, language: str, voice: Copy, copy: Copy) -> dict[str, dict[str, str]]:
    """A referral step's texts: each channel's button, link or click goes to STEP_LINKS[step]."""
    link, offer = STEP_LINKS[step], voice["gift"]
    lead_html = copy["lead"].replace("\n\n", "</p>\n<p>")
    return {
        "email": {
            "subject": copy["subject"],
            "body": email_text(voice, copy["lead"], offer, copy["cta"], link),
            "html": email_html(voice, lead_html, offer, copy["cta"], link),
        },
        "push": {"subject": copy["title"], "body": copy["push"] + push_offer(language), "url": field(link)},
        "sms": {"body": sms(voice, copy["sms"], voice["sms_gift"], link)},
        "whatsapp": {"body": whatsapp(voice, copy["lead"], offer, copy["cta"], link)},
    }


#: (step, channel, language, tone) → the parts of its DefaultTemplate: subject, body, html, url.
REFERRAL_TEMPLATES: Table = build(_STEPS, _VOICE, _channels)
