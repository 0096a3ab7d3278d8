"""The fields a message template sees (FIELD_NAMES): the customer's cart, the shop and the links."""

from __future__ import annotations

from dataclasses import dataclass, field

#: How many cart lines `cart_summary` names before it says "+N".
MAX_SUMMARY_ITEMS = 3


@dataclass(frozen=True)
class CartItem:
    title: str
    quantity: int
    price: str  # formatted in the checkout's currency, e.g. "49.00 EUR"


@dataclass(frozen=True)
class TemplateFields:
    """The documented fields. Money and dates arrive formatted, in the message's language."""

    first_name: str
    shop_name: str
    cart_items: tuple[CartItem, ...]
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
        context["cart_items"] = list(self.cart_items)
        context["cart_summary"] = self.cart_summary
        return context


_DATACLASS_FIELDS = tuple(name for name in TemplateFields.__dataclass_fields__ if name != "summary_override")
FIELD_NAMES = frozenset(_DATACLASS_FIELDS) | {"cart_summary"}
