"""What a recovery message says: the step's template, rendered in the sandbox with the
documented fields, in the customer's language (product.md §1: shop name, recovery link,
cart summary always; the code, its value and expiry when the step offers one)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from shop_app.default_templates import default_template
from shop_app.domain.content import money
from shop_app.domain.models import Channel, Checkout, Step
from shop_app.domain.settings import Incentive
from shop_app.templating import CartItem, TemplateFields, render

LANGUAGES = ("en", "es")
DEFAULT_TONE = "informal"


@dataclass(frozen=True)
class Rendered:
    subject: str | None
    body: str
    html: str | None = None


def language_of(checkout: Checkout) -> str:
    """The checkout's language when we have texts for it, else English."""
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
) -> Rendered:
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
    template = default_template(step, channel, language, DEFAULT_TONE)
    subject = render(template.subject, fields) if template.subject else None
    html = render(template.html, fields, html=True) if template.html and channel is Channel.EMAIL else None
    return Rendered(subject, render(template.body, fields).strip(), html)
