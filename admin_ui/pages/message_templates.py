"""/templates and /templates/<step>/<channel>/<language>: the shop's message texts and their editor.

The list shows every editable step × channel × language (merchant_templates.EDITABLE, LANGUAGES) with
whether the shop's own text or the default is in effect. The editor renders the text in effect, its
preview on the sample cart and, for SMS, the segment count and encoding, all on the server; then
static/templates.js keeps the preview live (POST /api/templates/preview), saves (PUT) and resets to
the default (DELETE) through the JSON API (admin_ui/api.py), which checks every save.
"""

from __future__ import annotations

from typing import Any

from flask import abort
from flask.typing import ResponseReturnValue

from admin_ui.auth import app_runtime, current_shop
from admin_ui.layout import render_page
from admin_ui.pages import bp
from shop_app.domain.models import Channel
from shop_app.domain.settings import TONES
from shop_app.messaging.defaults import LANGUAGES, default_template
from shop_app.messaging.merchant_templates import (
    PARTS,
    TemplateEntry,
    UnknownTemplate,
    check_template,
    template_entry,
    template_key,
    templates_for,
)
from shop_app.messaging.sandbox import FIELD_NAMES, TemplateRefused, preview
from shop_app.messaging.texts import text_to_html
from shop_app.shopify.shops import load_settings
from shop_app.storage.database import transaction
from shop_app.storage.tables import Shop

STEP_NAMES = {
    "first": "First reminder",
    "whatsapp": "WhatsApp",
    "prime": "Revenue Recovery Prime",
    "review": "Referral: thank-you and review request",
    "social": "Referral: social mention",
    "invite": "Referral: invite friends",
    "reward": "Referral: advocate reward",
}
CHANNEL_NAMES = {"email": "Email", "push": "Browser push", "sms": "SMS", "whatsapp": "WhatsApp"}
LANGUAGE_NAMES = {"en": "English", "es": "Spanish"}
#: What each dynamic field prints (template_fields.py); a test keeps it in step with FIELD_NAMES.
FIELD_HELP = {
    "first_name": "The customer's first name; may be empty, so greet without relying on it.",
    "shop_name": "Your shop's name. Every message must name the shop.",
    "cart_summary": '"1 x Linen shirt, 2 x Straw hat", the first three lines then "+N".',
    "cart_items": "The cart's lines (up to 20), for a loop: {% for item in cart_items %}{{ item.quantity }} x "
    "{{ item.title }} {{ item.price }}{% endfor %}.",
    "more_items": 'How many cart lines cart_items leaves out (for "and 3 more").',
    "cart_total": "The cart's total in the checkout's currency, e.g. 89.00 EUR.",
    "recovery_link": "The link that restores the checkout, with the discount applied.",
    "discount_code": "The step's discount code when it offers one: {% if discount_code %}…{% endif %}.",
    "discount_value": 'What the discount is worth, e.g. "15% off".',
    "discount_expiry": "When the code expires, in the shop's time zone.",
    "unsubscribe_link": "Email only: the one-click unsubscribe link every email must show.",
    "referral_link": "Referral messages: the advocate's personal link, https://your-shop/discount/CODE (it applies "
    "their code); set from the invite step on.",
    "referral_code": "Referral messages: the advocate's personal referral code; set from the invite step on.",
    "friend_offer": 'Referral messages: what a friend gets with the code, e.g. "10% off their first order".',
    "reward_code": "Reward step: the advocate's single-use reward code, for them alone.",
    "reward_value": 'Reward step: what the reward is worth, e.g. "10% off".',
    "reward_expiry": "Reward step: when the reward code expires, in the shop's time zone.",
    "review_link": "Referral messages: where to leave a review: your review page when set in the referral settings, "
    "else the order's status page.",
    "shop_url": "Referral messages: your storefront's home page.",
}
#: What the body and subject are called on each channel.
LABELS = {
    Channel.EMAIL: ("Subject", "Text"),
    Channel.PUSH: ("Notification title", "Notification text"),
    Channel.SMS: (None, "Message"),
}


def _names(entry: dict[str, Any]) -> dict[str, str]:
    return {
        "step_name": STEP_NAMES.get(entry["step"], entry["step"]),
        "channel_name": CHANNEL_NAMES.get(entry["channel"], entry["channel"]),
        "language_name": LANGUAGE_NAMES.get(entry["language"], entry["language"]),
    }


@bp.get("/templates")
def templates_list() -> ResponseReturnValue:
    with transaction(app_runtime().sessions) as session:
        shop = session.get_one(Shop, current_shop().id)
        entries = [entry.to_json() for entry in templates_for(session, shop.id)]
        tone = load_settings(session, shop).tone
    rows = [{**entry, **_names(entry)} for entry in entries]
    return render_page("message_templates/index.html", title="Templates", rows=rows, tone=tone)


@bp.get("/templates/<step>/<channel>/<language>")
def template_editor(step: str, channel: str, language: str) -> ResponseReturnValue:
    try:
        key = template_key(step, channel, language)
    except UnknownTemplate as exc:
        abort(404, description=str(exc))
    with transaction(app_runtime().sessions) as session:
        shop = session.get_one(Shop, current_shop().id)
        tone = load_settings(session, shop).tone
        entry = template_entry(session, shop.id, key.step, key.channel, key.language, tone)
        shop_name, shop_domain = shop.name, shop.domain
    document = entry.to_json()
    subject_label, body_label = LABELS[key.channel]
    defaults = {t: _parts(default_template(key.step, key.channel, key.language, t)) for t in TONES}
    return render_page(
        "message_templates/editor.html",
        title=f"{STEP_NAMES[key.step.value]} · {CHANNEL_NAMES[key.channel.value]} · "
        f"{LANGUAGE_NAMES.get(key.language, key.language)}",
        entry=document,
        subject_label=subject_label,
        body_label=body_label,
        defaults=defaults,
        tone=tone,
        tones=TONES,
        shown=_first_preview(entry, tone, shop_name, shop_domain),
        fields=[(name, FIELD_HELP.get(name, "")) for name in sorted(FIELD_NAMES)],
        api_url=f"/api/templates/{key.step.value}/{key.channel.value}/{key.language}",
        translations=[(code, LANGUAGE_NAMES.get(code, code)) for code in LANGUAGES if code != key.language],
    )


def _parts(template: Any) -> dict[str, str | None]:
    return {name: getattr(template, name) for name in PARTS}


def _first_preview(entry: TemplateEntry, tone: str, shop_name: str, shop_domain: str) -> dict[str, Any]:
    """What the live preview shows before the first keystroke: the text in effect on the sample cart
    (with a discount), what a save would refuse, and for SMS the length as sent (as the API answers)."""
    channel, language = entry.key.channel, entry.key.language
    shown: dict[str, Any] = {"subject": None, "body": None, "html": None, "sms": None, "errors": {}}
    for name, source in _parts(entry.template).items():
        if source is None:
            continue
        try:
            result = preview(source, channel, language, tone, html=name == "html", with_discount=True,
                             shop_name=shop_name, shop_domain=shop_domain)  # fmt: skip
        except TemplateRefused as refused:  # a saved text the sandbox no longer takes
            shown["errors"][name] = refused.reason
            continue
        shown[name] = {"subject": " ".join(result.text.split()), "body": result.text.strip()}.get(name, result.text)
        if result.report is not None:
            shown["sms"] = result.report.to_json()
    if channel is Channel.EMAIL and shown["html"] is None and shown["body"] is not None:
        shown["html"] = text_to_html(shown["body"])
    problems = check_template(entry.key, **_parts(entry.template), shop_name=shop_name, shop_domain=shop_domain)
    shown["problems"] = [{"field": p.field, "message": p.message} for p in problems]
    return shown
