"""The fields a message template sees (FIELD_NAMES): the customer's cart, the shop and the links.

`cart_items` holds the first MAX_CART_ITEMS lines of the cart, so a loop over it is bounded
whatever the cart; `more_items` says how many lines it leaves out, for "and 480 more":

    {% for item in cart_items %}{{ item.quantity }} x {{ item.title }}
    {% endfor %}{% if more_items %}and {{ more_items }} more{% endif %}

The Referral Generation flow's messages (steps review, social, invite, reward) also see:

- `referral_code`, `referral_link`: the advocate's personal code and `https://{shop}/discount/{CODE}`
  (the storefront applies the code and opens the shop); set from the invite step on.
- `friend_offer`: what a friend gets with the code, said about the friend ("10% off their first order").
- `reward_code`, `reward_value`, `reward_expiry`: the advocate's single-use reward (reward step).
- `review_link`: where to leave a review. The shop's review page when the merchant set one in the
  referral settings, else the order's status page (Shopify's `order_status_url`), which shows the
  order and is where review apps put their "write a review" form; never empty in a referral message.
- `shop_url`: the storefront's home page, `https://{shop}` (social and reward link to it).

Every one of them is "" in a Revenue Recovery message.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: How many cart lines `cart_summary` names before it says "+N".
MAX_SUMMARY_ITEMS = 3
#: How many cart lines a template's `cart_items` holds; `more_items` counts the others.
MAX_CART_ITEMS = 20


@dataclass(frozen=True)
class CartItem:
    title: str
    quantity: int
    price: str  # formatted in the checkout's currency, e.g. "49.00 EUR"


@dataclass(frozen=True)
class TemplateFields:
    """The documented fields (module docstring). Money and dates arrive formatted, in the message's language."""

    first_name: str
    shop_name: str
    cart_items: tuple[CartItem, ...]  # every line; a template sees the first `items_shown`
    cart_total: str  # in the checkout's currency, e.g. "89.00 EUR"
    recovery_link: str
    discount_code: str | None = None
    discount_value: str | None = None  # e.g. "15% off" / "15 % de descuento"
    discount_expiry: str | None = None  # e.g. "Jun 14, 18:00"
    unsubscribe_link: str | None = None
    referral_link: str | None = None  # https://{shop}/discount/{CODE}
    referral_code: str | None = None
    friend_offer: str | None = None  # e.g. "10% off their first order"
    reward_code: str | None = None
    reward_value: str | None = None  # e.g. "10% off"
    reward_expiry: str | None = None  # e.g. "Aug 10, 2026"
    review_link: str | None = None  # the shop's review page, else the order status URL
    shop_url: str | None = None  # https://{shop}
    #: Not a template field: what `cart_summary` prints instead of the titles ("12 items"),
    #: set by `sandbox.compacted` for an SMS that has to be shortened.
    summary_override: str | None = field(default=None, repr=False)
    #: Not a template field: how many lines the template's `cart_items` holds (fewer in a shortened SMS).
    items_shown: int = field(default=MAX_CART_ITEMS, repr=False)

    @property
    def cart_summary(self) -> str:
        """'1 x Linen shirt, 2 x Straw hat' (+N for the rest): GSM-7 friendly, language neutral."""
        if self.summary_override is not None:
            return self.summary_override
        parts = [f"{item.quantity} x {item.title}" for item in self.cart_items[:MAX_SUMMARY_ITEMS]]
        hidden = len(self.cart_items) - MAX_SUMMARY_ITEMS
        if hidden > 0:
            parts.append(f"+{hidden}")
        return ", ".join(parts)

    def context(self) -> dict[str, object]:
        """Missing optional fields become "" so `{% if discount_code %}` works and nothing prints "None"."""
        context: dict[str, object] = {
            name: "" if getattr(self, name) is None else getattr(self, name) for name in _DATACLASS_FIELDS
        }
        shown = self.cart_items[: self.items_shown]
        context["cart_items"] = list(shown)
        context["more_items"] = len(self.cart_items) - len(shown)
        context["cart_summary"] = self.cart_summary
        return context


_DATACLASS_FIELDS = tuple(
    name for name in TemplateFields.__dataclass_fields__ if name not in {"summary_override", "items_shown"}
)
FIELD_NAMES = frozenset(_DATACLASS_FIELDS) | {"cart_summary", "more_items"}
