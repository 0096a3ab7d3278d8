"""The fields a message template sees (FIELD_NAMES): the customer's cart, the shop and the links.

`cart_items` holds the first MAX_CART_ITEMS lines of the cart, so a loop over it is bounded
whatever the cart; `more_items` says how many lines it leaves out, for "and 480 more":

    {% for item in cart_items %}{{ item.quantity }} x {{ item.title }}
    {% endfor %}{% if more_items %}and {{ more_items }} more{% endif %}
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
    referral_link: str | None = None
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
