"""What a recovery message says. Pure; sandboxed merchant templates replace the bodies later.

Every message carries the shop's name, a link that restores the checkout (with the
discount applied when there is one) and a short summary of the cart (product.md §1).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from html import escape
from urllib.parse import quote, urlsplit

from shop_app.domain.models import Channel, Checkout, Step

MAX_SUMMARY_ITEMS = 3


@dataclass(frozen=True)
class Content:
    subject: str | None
    body: str


def money(amount: Decimal, currency: str) -> str:
    return f"{amount.quantize(Decimal('0.01')):,} {currency}"


def cart_summary(checkout: Checkout) -> str:
    parts = []
    for item in checkout.line_items[:MAX_SUMMARY_ITEMS]:
        variant = f" ({item.variant_title})" if item.variant_title else ""
        parts.append(f"{item.quantity} × {item.title}{variant}")
    hidden = len(checkout.line_items) - MAX_SUMMARY_ITEMS
    if hidden > 0:
        parts.append(f"and {hidden} more")
    items = ", ".join(parts) or "your cart"
    return f"{items} — total {money(checkout.total_price, checkout.currency)}"


def recovery_link(checkout: Checkout, shop_domain: str, code: str | None) -> str:
    """The checkout's own recovery URL; with a code, Shopify's /discount/{code} applies it first."""
    url = checkout.abandoned_checkout_url or f"https://{shop_domain}/cart"
    if not code:
        return url
    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    return f"https://{shop_domain}/discount/{quote(code, safe='')}?redirect={quote(target, safe='')}"


def compose(
    step: Step,
    channel: Channel,
    checkout: Checkout,
    *,
    shop_name: str,
    link: str,
    offer: str | None,
    code: str | None,
) -> Content:
    name = checkout.first_name or "there"
    summary = cart_summary(checkout)
    incentive = f" Use code {code} for {offer}." if code and offer else ""
    if step is Step.FIRST:
        subject = f"{shop_name}: you left something in your cart"
        lead = f"Hi {name}, your cart at {shop_name} is still waiting: {summary}."
    elif step is Step.WHATSAPP:
        subject = None
        lead = f"Hi {name}, this is {shop_name}. Your cart is saved: {summary}."
    else:
        subject = f"{shop_name}: a better offer for your cart"
        lead = f"Hi {name}, {shop_name} kept your cart ({summary}) and has something extra for you."
    body = f"{lead}{incentive} Complete your order: {link}"
    if channel is Channel.EMAIL:
        return Content(subject, body)
    if channel is Channel.PUSH:
        return Content(subject, f"{summary}.{incentive} {link}")
    return Content(None, body)


def with_unsubscribe(text: str, unsubscribe_url: str) -> str:
    """The visible unsubscribe link every email carries (next to the List-Unsubscribe header)."""
    return f"{text}\n\nDon't want these reminders? Unsubscribe: {unsubscribe_url}"


def email_html(text: str, links: tuple[str, ...]) -> str:
    """The HTML part: the text escaped, its paragraphs kept, and the given links clickable."""
    html = escape(text)
    for link in links:
        safe = escape(link)
        html = html.replace(safe, f'<a href="{safe}">{safe}</a>')
    paragraphs = "".join(f"<p>{part.replace(chr(10), '<br>')}</p>" for part in html.split("\n\n"))
    return f'<!doctype html><html><body style="font-family:sans-serif;line-height:1.5">{paragraphs}</body></html>'
