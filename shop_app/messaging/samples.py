"""Sample template fields for previews and save-time checks, one set per cart size and language."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from shop_app.domain.content import recovery_link
from shop_app.domain.models import Channel, Checkout
from shop_app.domain.payloads import MAX_LINE_ITEMS
from shop_app.messaging.template_fields import CartItem, TemplateFields

SAMPLE_SHOP_NAME = "Casa Verde"
SAMPLE_SHOP_DOMAIN = "casa-verde.myshopify.com"
#: Shaped like a real `abandoned_checkout_url` (shop id, 52-character checkout token, key, locale):
#: with a discount, `content.recovery_link` makes it ~210 characters, which an SMS must carry.
_CHECKOUT_URL = (
    "https://{domain}/71234567890/checkouts/ac/Z2NwLWV1cm9wZS13ZXN0NDowMUpGNFc3UDhYUTJLTVZSOUc1"
    "/recover?key=5d4c2f30b6b0b8a3e0a0c7b5f3c0d0e1&locale={language}"
)
_UNSUBSCRIBE_LINK = "https://app.reclaim.example/u/eyJzIjoxLCJjIjoiZW1haWwiLCJhIjoiZW1tYUBleGFtcGxlLmNvbSJ9.Xa91LmQ2"
#: A real order status URL's shape (shop id, 32-character order token, key): the default review link.
_ORDER_STATUS_URL = (
    "https://{domain}/71234567890/orders/5d4c2f30b6b0b8a3e0a0c7b5f3c0d0e1"
    "/authenticate?key=9f8e7d6c5b4a39281706f5e4d3c2b1a0"
)
_NOW = datetime(2026, 6, 11, tzinfo=UTC)


@dataclass(frozen=True)
class _Cart:
    first_name: str
    items: tuple[CartItem, ...]
    total: str
    code: str
    value: str
    expiry: str


#: typical: what the preview shows. long: the send-time worst case an SMS must fit once shortened
#: (a 14-letter name, four products with 23-31 character titles and 12 units, a four-digit total,
#: a fixed-amount offer). small: one item, no name, no offer, so `cart_items[1]` or a division by
#: the item count fails at save. large: the most lines a checkout can bring (MAX_LINE_ITEMS), so
#: what grows with the cart (a join inside a join, `cart_items[20]`) fails at save, not at send.
_CARTS = {
    ("typical", "en"): _Cart(
        "Emma",
        (CartItem("Linen shirt", 1, "49.00 EUR"), CartItem("Straw hat", 2, "20.00 EUR")),
        "89.00 EUR",
        "SAVE15-K7QM",
        "15% off",
        "Jun 14, 18:00",
    ),
    ("typical", "es"): _Cart(
        "Marta",
        (CartItem("Camisa de lino", 1, "49.00 EUR"), CartItem("Sombrero de paja", 2, "20.00 EUR")),
        "89.00 EUR",
        "SAVE15-K7QM",
        "15 % de descuento",
        "14/06 18:00",
    ),
    ("long", "en"): _Cart(
        "Anne-Catherine",
        (
            CartItem("Relaxed linen button-down shirt", 1, "129.00 EUR"),
            CartItem("Organic cotton crew socks", 6, "14.90 EUR"),
            CartItem("Handwoven straw sun hat", 1, "59.00 EUR"),
            CartItem("Waxed canvas weekender bag", 4, "249.00 EUR"),
        ),
        "1,273.40 EUR",
        "PRIME-7KQ4M2XHW9TB",
        "12.50 EUR off",
        "Jun 14, 18:00",
    ),
    ("long", "es"): _Cart(
        "Maria Fernanda",
        (
            CartItem("Camisa de lino con botones", 1, "129.00 EUR"),
            CartItem("Calcetines de algodon bio", 6, "14.90 EUR"),
            CartItem("Sombrero de paja trenzada", 1, "59.00 EUR"),
            CartItem("Bolsa de viaje de lona", 4, "249.00 EUR"),
        ),
        "1,273.40 EUR",
        "PRIME-7KQ4M2XHW9TB",
        "12.50 EUR de descuento",
        "14/06 18:00",
    ),
    ("small", "en"): _Cart("", (CartItem("Gift card", 1, "25.00 EUR"),), "25.00 EUR", "", "", ""),
    ("small", "es"): _Cart("", (CartItem("Tarjeta regalo", 1, "25.00 EUR"),), "25.00 EUR", "", "", ""),
}


def _large(first_name: str, title: str, value: str, expiry: str) -> _Cart:
    items = tuple(CartItem(f"{title} {n}", 1, "18.00 EUR") for n in range(1, MAX_LINE_ITEMS + 1))
    return _Cart(first_name, items, f"{18 * MAX_LINE_ITEMS:,}.00 EUR", "PRIME-7KQ4M2XHW9TB", value, expiry)


_CARTS[("large", "en")] = _large("Anne-Catherine", "Hand-thrown stoneware mug no.", "15% off", "Jun 14, 18:00")
_CARTS[("large", "es")] = _large("Maria Fernanda", "Taza de gres hecha a mano n.", "15 % de descuento", "14/06 18:00")
CART_SIZES = ("typical", "long", "small", "large")


@dataclass(frozen=True)
class _Referral:
    code: str
    friend_offer: str
    reward_code: str
    reward_value: str
    reward_expiry: str


#: The Referral Generation fields per sample (template_fields.py); long: the longest code, offer and
#: reward an SMS must still carry within the cap.
_REFERRALS = {
    ("typical", "en"): _Referral("EMMA-7Q2K", "10% off their first order", "THANKS-4K9PQ2", "10% off", "Aug 10, 2026"),
    ("typical", "es"): _Referral("MARTA-7Q2K", "un 10 % de descuento en su primer pedido", "GRACIAS-4K9PQ2",
                                 "10 % de descuento", "10/08/2026"),
    ("long", "en"): _Referral("ANNECATHERINE-7Q2K9XHW", "12.50 EUR off their first order of 50.00 EUR or more",
                              "REWARD-7KQ4M2XHW9TB4NPZ", "12.50 EUR off", "Aug 10, 2026, 23:59"),
    ("long", "es"): _Referral("MARIAFERNANDA-7Q2K9XHW", "12.50 EUR de descuento en su primer pedido desde 50.00 EUR",
                              "REWARD-7KQ4M2XHW9TB4NPZ", "12.50 EUR de descuento", "10/08/2026 23:59"),
    ("small", "en"): _Referral("REF-7Q2K", "10% off their first order", "THANKS-4K9PQ2", "10% off", "Aug 10, 2026"),
    ("small", "es"): _Referral("REF-7Q2K", "un 10 % de descuento en su primer pedido", "GRACIAS-4K9PQ2",
                               "10 % de descuento", "10/08/2026"),
}  # fmt: skip
_REFERRALS[("large", "en")] = _REFERRALS[("long", "en")]
_REFERRALS[("large", "es")] = _REFERRALS[("long", "es")]


def sample_fields(
    language: str = "en",
    *,
    with_discount: bool = True,
    cart: str = "typical",
    channel: Channel | str | None = None,
    shop_name: str | None = None,
    shop_domain: str | None = None,
) -> TemplateFields:
    """Realistic sample data for previews and save-time checks; the shop's own name and domain
    when given. Only email gets an unsubscribe link (as at send time); the small cart never
    has a discount."""
    language = language if ("typical", language) in _CARTS else "en"
    sample = _CARTS[(cart, language)]
    domain = shop_domain or SAMPLE_SHOP_DOMAIN
    with_discount = with_discount and bool(sample.code)
    code = sample.code if with_discount else None
    checkout = Checkout(token="sample", updated_at=_NOW,
                        abandoned_checkout_url=_CHECKOUT_URL.format(domain=domain, language=language))  # fmt: skip
    email = channel is None or Channel(channel) is Channel.EMAIL
    referral = _REFERRALS[(cart, language)]
    return TemplateFields(
        first_name=sample.first_name,
        shop_name=shop_name or SAMPLE_SHOP_NAME,
        cart_items=sample.items,
        cart_total=sample.total,
        recovery_link=recovery_link(checkout, domain, code),
        discount_code=code,
        discount_value=sample.value if with_discount else None,
        discount_expiry=sample.expiry if with_discount else None,
        unsubscribe_link=_UNSUBSCRIBE_LINK if email else None,
        referral_link=f"https://{domain}/discount/{referral.code}",
        referral_code=referral.code,
        friend_offer=referral.friend_offer,
        reward_code=referral.reward_code,
        reward_value=referral.reward_value,
        reward_expiry=referral.reward_expiry,
        review_link=_ORDER_STATUS_URL.format(domain=domain),
        shop_url=f"https://{domain}",
    )
