"""Merchant message templates: Jinja2 in a locked-down sandbox.

What a template may do: print the documented fields (FIELD_NAMES), loop over `cart_items`
(one level deep), use `{% if %}`, plain arithmetic on numbers and the filters in
ALLOWED_FILTERS. What it may not do, refused both by `validate_template` at save time and by
`render` (so a bad template can never be sent):

- syntax errors, unknown names (`{{ coupon }}`, `{{ config }}`, `{{ lipsum }}`, `{{ self }}`);
- attributes or keys starting with `_` (`''.__class__`, `cycler.__init__.__globals__`);
- any call at all (`range(…)`, `''.format(…)`, macros, `loop.cycle(…)`): there are no globals, the
  sandbox's `call` refuses everything, and only non-callable attributes are readable;
- `**`, and `*` / `%` on strings or lists (`'x' * 10**9`, `'%099999999d' % 1`);
- include / extends / import / macro / call / set / with blocks, nested loops, sources over
  MAX_SOURCE_CHARS (MAX_HTML_SOURCE_CHARS for HTML) and output over MAX_OUTPUT_CHARS;
- for SMS, a text over MAX_SMS_SEGMENTS segments (see "SMS length" below).

Email HTML bodies render with autoescaping on (`html=True`); every other text renders raw.

SMS length. What an SMS costs depends on data we only see at send time: an accented name
("Lucía") turns the whole text into UCS-2 (67 characters a part instead of 153), a cart can hold
long titles, and the recovery link with a discount is ~210 characters. So:

- at send time `fit_sms` tries, in order: the text as written; the data (name, titles, shop
  name, offer) spelled in GSM-7 ("Lucia", straight quotes) when that makes the whole text
  GSM-7; that and the cart
  summary shortened to a count ("12 items", product titles cut to COMPACT_TITLE_CHARS in loops).
  The shortened summary still says what is in the cart (product.md §1). If even that is over
  the cap it raises SmsOverCap, and the message is skipped with that reason.
- at save time `validate_template` refuses an SMS that `fit_sms` cannot bring under the cap
  with the typical sample without shortening the items (what the preview shows), or at all
  with the long sample: a 14-letter first name, four products with 23-31 character titles
  (12 units), a four-digit total, a fixed-amount offer and a real-length recovery link with
  the discount. The shop's own name and domain are used when known. A character outside GSM-7
  in the template itself cannot be spelled away, so with a real link it usually means a
  refusal that names it ("UCS-2: ó"). What stays unsafe is data longer than the long sample
  (a 40-letter name, a 64-character shared code) or a shop name with no GSM-7 spelling; those
  sends are skipped, with the reason, rather than billed over the cap.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from numbers import Number

from jinja2 import StrictUndefined, TemplateSyntaxError, meta, nodes
from jinja2.exceptions import SecurityError, TemplateError, UndefinedError
from jinja2.sandbox import SandboxedEnvironment

from shop_app.domain.content import recovery_link
from shop_app.domain.models import Channel, Checkout
from shop_app.domain.sms import (
    GSM7,
    MAX_SMS_SEGMENTS,
    UCS2,
    SmsCapCheck,
    SmsLength,
    check_sms_cap,
    gsm_fold,
    sms_length,
)

MAX_SOURCE_CHARS = 20_000
MAX_HTML_SOURCE_CHARS = 100_000
MAX_OUTPUT_CHARS = 50_000
MAX_HTML_OUTPUT_CHARS = 200_000
MAX_SUMMARY_ITEMS = 3
#: In the shortened SMS a loop over `cart_items` shows at most MAX_SUMMARY_ITEMS titles this long.
COMPACT_TITLE_CHARS = 24

ALLOWED_FILTERS = (
    "capitalize", "default", "d", "e", "escape", "first", "join", "last", "length", "count",
    "lower", "round", "title", "trim", "truncate", "upper", "urlencode", "wordcount",
)  # fmt: skip
#: Blocks a template may not use. `set` and `with` are out because re-binding a name lets a short
#: template double a string at every line (`{% set a = a ~ a %}`).
FORBIDDEN_BLOCKS = {
    nodes.Include: "include", nodes.Extends: "extends", nodes.Import: "import", nodes.FromImport: "from … import",
    nodes.Macro: "macro", nodes.CallBlock: "call", nodes.Assign: "set", nodes.AssignBlock: "set", nodes.With: "with",
}  # fmt: skip


class TemplateRefused(ValueError):
    """A template that may not be saved or sent; `reason` says why, in words for the merchant."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class SmsOverCap(TemplateRefused):
    """An SMS longer than the segment cap: at save time with sample data, at send time with the
    customer's data even after shortening. `check` has the count and the encoding."""

    def __init__(self, check: SmsCapCheck, context: str = ""):
        super().__init__(check.describe() + context)
        self.check = check
        self.context = context  # what the count was measured on, after describe()

    @property
    def segments(self) -> int:
        return self.check.length.segments


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
    #: set by `compacted` for an SMS that has to be shortened.
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


class _Sandbox(SandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "%", "/", "//"})

    def is_safe_attribute(self, obj, attr, value) -> bool:
        if callable(value):  # no methods: `"x".format`, `loop.cycle`, `dict.items`…
            return False
        return not str(attr).startswith("_") and super().is_safe_attribute(obj, attr, value)

    def is_safe_callable(self, obj) -> bool:
        return False

    def call(__self, __context, __obj, *args, **kwargs):  # noqa: N805 - Jinja's signature
        raise SecurityError("templates cannot call functions")

    def call_binop(self, context, operator, left, right):
        if operator == "**":
            raise SecurityError("the ** operator is not allowed in templates")
        if not (_is_number(left) and _is_number(right)):
            raise SecurityError(f"the {operator} operator only works on numbers in templates")
        return super().call_binop(context, operator, left, right)


def _is_number(value) -> bool:
    return isinstance(value, Number) and not isinstance(value, bool)


def _environment(*, autoescape: bool) -> _Sandbox:
    env = _Sandbox(autoescape=autoescape, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.globals.clear()
    env.filters = {name: env.filters[name] for name in ALLOWED_FILTERS}
    return env


_TEXT = _environment(autoescape=False)
_HTML = _environment(autoescape=True)


def _check_tree(tree: nodes.Template) -> None:
    """Static refusals, with messages a merchant can act on."""
    for node in tree.find_all(tuple(FORBIDDEN_BLOCKS)):
        raise TemplateRefused(f"'{{% {FORBIDDEN_BLOCKS[type(node)]} %}}' is not allowed in templates")
    for loop in tree.find_all(nodes.For):
        if any(isinstance(inner, nodes.For) or inner.find(nodes.For) for inner in loop.body):
            raise TemplateRefused("loops inside loops are not allowed in templates")
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        key = node.attr if isinstance(node, nodes.Getattr) else getattr(node.arg, "value", None)
        if isinstance(key, str) and key.startswith("_"):
            raise TemplateRefused(f"'{key}' cannot be used in templates (names starting with _ are private)")
    if tree.find(nodes.Call):
        raise TemplateRefused("templates cannot call functions")
    if tree.find(nodes.Pow):
        raise TemplateRefused("the ** operator is not allowed in templates")
    for node in tree.find_all(nodes.Filter):
        if node.name not in ALLOWED_FILTERS:
            raise TemplateRefused(f"unknown filter '{node.name}'; allowed: {', '.join(sorted(ALLOWED_FILTERS))}")
    names = set(meta.find_undeclared_variables(tree))
    names |= {node.name for node in tree.find_all(nodes.Name) if node.name == "self"}
    unknown = sorted(names - FIELD_NAMES)
    if unknown:
        raise TemplateRefused(
            f"unknown field{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; "
            f"available: {', '.join(sorted(FIELD_NAMES))}"
        )


@functools.lru_cache(maxsize=256)
def _compile(source: str, html: bool):
    limit = MAX_HTML_SOURCE_CHARS if html else MAX_SOURCE_CHARS
    if len(source) > limit:
        raise TemplateRefused(f"template is too long ({len(source)} characters; the limit is {limit})")
    env = _HTML if html else _TEXT
    try:
        tree = env.parse(source)
        _check_tree(tree)
        return env.from_string(tree)
    except TemplateSyntaxError as exc:
        raise TemplateRefused(f"syntax error on line {exc.lineno}: {exc.message}") from None
    except RecursionError:
        raise TemplateRefused("template is nested too deeply") from None


def render(template: str, fields: TemplateFields, *, html: bool = False) -> str:
    """Render a template; raises TemplateRefused for anything the sandbox does not allow."""
    compiled = _compile(template, html)
    limit = MAX_HTML_OUTPUT_CHARS if html else MAX_OUTPUT_CHARS
    out: list[str] = []
    size = 0
    try:
        for chunk in compiled.generate(fields.context()):
            size += len(chunk)
            if size > limit:
                raise TemplateRefused(f"the rendered text is longer than {limit} characters")
            out.append(chunk)
    except TemplateRefused:
        raise
    except SecurityError as exc:
        raise TemplateRefused(f"not allowed: {exc}") from None
    except UndefinedError as exc:
        raise TemplateRefused(f"unknown field: {exc}") from None
    except (TemplateError, TypeError, ValueError, ArithmeticError, RecursionError) as exc:
        raise TemplateRefused(f"the template fails to render: {exc}") from None
    return "".join(out)


# --- shortening an SMS to fit the cap ----------------------------------------------------------

_ITEMS_WORD = {"en": ("item", "items"), "es": ("producto", "productos")}  # GSM-7 only: no "artículos"


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."


def compacted(fields: TemplateFields, language: str = "en") -> TemplateFields:
    """The cart said in few characters: `cart_summary` becomes a count ("12 items"), and a loop
    over `cart_items` sees the first MAX_SUMMARY_ITEMS items with their titles cut."""
    count = sum(item.quantity for item in fields.cart_items)
    one, many = _ITEMS_WORD.get(language, _ITEMS_WORD["en"])
    items = tuple(
        replace(item, title=_cut(item.title, COMPACT_TITLE_CHARS)) for item in fields.cart_items[:MAX_SUMMARY_ITEMS]
    )
    return replace(fields, cart_items=items, summary_override=f"{count} {one if count == 1 else many}")


def gsm_folded(fields: TemplateFields) -> TemplateFields:
    """The customer's and the shop's data spelled in GSM-7 where possible ("Lucía" → "Lucia").
    A first name with no GSM-7 spelling is left out (templates greet without a name); any other
    value without one is kept as it is."""

    def fold(value: str | None) -> str | None:
        if value is None:
            return None
        folded = gsm_fold(value)
        return value if folded is None else folded

    return replace(
        fields,
        first_name=gsm_fold(fields.first_name) or "",
        shop_name=fold(fields.shop_name),
        cart_items=tuple(replace(item, title=fold(item.title), price=fold(item.price)) for item in fields.cart_items),
        cart_total=fold(fields.cart_total),
        discount_code=fold(fields.discount_code),
        discount_value=fold(fields.discount_value),
        discount_expiry=fold(fields.discount_expiry),
    )


@dataclass(frozen=True)
class SmsFit:
    text: str
    length: SmsLength
    changes: tuple[str, ...] = ()  # what was shortened to fit, in words (for the activity log)


def fit_sms(source: str, fields: TemplateFields, language: str = "en", *, cap: int = MAX_SMS_SEGMENTS,
            shorten_items: bool = True) -> SmsFit:  # fmt: skip
    """Render an SMS body within `cap` segments, shortening the data if needed (module docstring);
    `shorten_items=False` stops before the cart summary is shortened.

    Raises SmsOverCap with the count of the shortest rendering, and TemplateRefused when the
    template does not render."""
    text = render(source, fields).strip()
    check = check_sms_cap(text, cap)
    if not check.over:
        return SmsFit(text, check.length)
    changes: list[str] = []
    if check.length.encoding == UCS2:
        folded = gsm_folded(fields)
        folded_text = render(source, folded).strip()
        folded_check = check_sms_cap(folded_text, cap)
        if folded_check.length.encoding == GSM7:  # only worth changing a name if it changes the encoding
            fields, text, check = folded, folded_text, folded_check
            changes.append("names and titles were spelled without the accents SMS lacks")
            if not check.over:
                return SmsFit(text, check.length, tuple(changes))
    if not shorten_items:
        raise SmsOverCap(check)
    short = compacted(fields, language)
    text = render(source, short).strip()
    check = check_sms_cap(text, cap)
    if check.over:
        raise SmsOverCap(check, f', even with the items shortened to "{short.cart_summary}"')
    return SmsFit(text, check.length, (*changes, f'the items were shortened to "{short.cart_summary}"'))


# --- sample data, preview and validation -------------------------------------------------------

SAMPLE_SHOP_NAME = "Casa Verde"
SAMPLE_SHOP_DOMAIN = "casa-verde.myshopify.com"
#: Shaped like a real `abandoned_checkout_url` (shop id, 52-character checkout token, key, locale):
#: with a discount, `content.recovery_link` makes it ~210 characters, which an SMS must carry.
_CHECKOUT_URL = (
    "https://{domain}/71234567890/checkouts/ac/Z2NwLWV1cm9wZS13ZXN0NDowMUpGNFc3UDhYUTJLTVZSOUc1"
    "/recover?key=5d4c2f30b6b0b8a3e0a0c7b5f3c0d0e1&locale={language}"
)
_UNSUBSCRIBE_LINK = "https://app.reclaim.example/u/eyJzIjoxLCJjIjoiZW1haWwiLCJhIjoiZW1tYUBleGFtcGxlLmNvbSJ9.Xa91LmQ2"
_REFERRAL_LINK = "https://app.reclaim.example/f/{name}-7Q2K"
_NOW = datetime(2026, 6, 11, tzinfo=UTC)


@dataclass(frozen=True)
class _Cart:
    first_name: str
    items: tuple[CartItem, ...]
    total: str
    code: str
    value: str
    expiry: str


#: typical: what the preview shows. long: the send-time worst case an SMS must fit once shortened.
#: small: one item, no name, no offer, so `cart_items[1]` or a division by the item count fails at save.
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
CART_SIZES = ("typical", "long", "small")


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
        referral_link=_REFERRAL_LINK.format(name=sample.first_name or "friend"),
    )


@dataclass(frozen=True)
class SmsReport:
    """What the admin shows next to an SMS, as `fit_sms` sends it: the typical sample cart (the
    preview; the items are never shortened for it) and the long cart (after the send-time
    shortening). With and without a discount; the longer of the two is reported."""

    sample: SmsCapCheck
    sample_changes: tuple[str, ...]  # e.g. the shop's name spelled in GSM-7
    long_cart: SmsCapCheck
    long_cart_changes: tuple[str, ...]

    @property
    def over(self) -> bool:
        return self.sample.over or self.long_cart.over

    def refusal(self) -> SmsOverCap | None:
        """Why a save would be refused, or None."""
        if self.sample.over:
            return SmsOverCap(self.sample, ", with the sample data")
        if self.long_cart.over:
            return SmsOverCap(self.long_cart, ", with a long cart (4 products, 12 units, a long name), even with the "
                                              "items shortened to a count")  # fmt: skip
        return None

    def to_json(self) -> dict:
        def one(check: SmsCapCheck, changes: tuple[str, ...]) -> dict:
            return {
                "segments": check.length.segments,
                "encoding": check.length.encoding,
                "characters": check.length.characters,
                "non_gsm": list(check.non_gsm),
                "over": check.over,
                "shortened": list(changes),
            }

        return {"cap": self.sample.cap, **one(self.sample, self.sample_changes), "over": self.over,
                "long_cart": one(self.long_cart, self.long_cart_changes)}  # fmt: skip


def _measure(source: str, fields: TemplateFields, language: str, cap: int, *,
             shorten_items: bool) -> tuple[SmsCapCheck, tuple[str, ...]]:  # fmt: skip
    try:
        fit = fit_sms(source, fields, language, cap=cap, shorten_items=shorten_items)
    except SmsOverCap as over:
        return over.check, ()
    return check_sms_cap(fit.text, cap), fit.changes


def sms_report(source: str, language: str = "en", *, shop_name: str | None = None,
               shop_domain: str | None = None, cap: int = MAX_SMS_SEGMENTS) -> SmsReport:  # fmt: skip
    """Raises TemplateRefused when the template does not render."""
    shop = {"shop_name": shop_name, "shop_domain": shop_domain, "channel": Channel.SMS}
    samples, long_carts = [], []
    for with_discount in (True, False):
        typical = sample_fields(language, with_discount=with_discount, **shop)
        samples.append(_measure(source, typical, language, cap, shorten_items=False))
        long = sample_fields(language, with_discount=with_discount, cart="long", **shop)
        long_carts.append(_measure(source, long, language, cap, shorten_items=True))

    def size(measured: tuple[SmsCapCheck, tuple[str, ...]]) -> tuple[int, int]:
        return measured[0].length.segments, measured[0].length.characters

    sample, long_cart = max(samples, key=size), max(long_carts, key=size)
    return SmsReport(sample[0], sample[1], long_cart[0], long_cart[1])


@dataclass(frozen=True)
class Preview:
    text: str
    sms: SmsLength | None = None  # SMS only: the length of `text`
    report: SmsReport | None = None  # SMS only: sample and long-cart lengths, as checked at save


def preview(source: str, channel: Channel | str, language: str = "en", tone: str = "informal", *,
            html: bool = False, with_discount: bool = True, shop_name: str | None = None,
            shop_domain: str | None = None) -> Preview:  # fmt: skip
    """Render with realistic sample data (tone does not change the data; it is the template's choice).
    An SMS is shown as it would be sent (`fit_sms` without shortening the items)."""
    channel = Channel(channel)
    fields = sample_fields(language, with_discount=with_discount, channel=channel, shop_name=shop_name,
                           shop_domain=shop_domain)  # fmt: skip
    text = render(source, fields, html=html)
    if channel is not Channel.SMS or html:
        return Preview(text)
    try:
        text = fit_sms(source, fields, language, shorten_items=False).text
    except SmsOverCap:
        text = text.strip()
    return Preview(text, sms_length(text), sms_report(source, language, shop_name=shop_name, shop_domain=shop_domain))


def validate_template(source: str, channel: Channel | str, *, html: bool = False, language: str = "en",
                      shop_name: str | None = None, shop_domain: str | None = None) -> None:  # fmt: skip
    """Refuse (raise TemplateRefused) a template that would fail, escape the sandbox or be too long.

    Renders with every sample cart, with and without a discount, so both `{% if discount_code %}`
    branches and carts of one item are checked; an SMS must fit the cap with the typical cart as
    written and with the long cart once shortened (module docstring), else SmsOverCap.
    """
    channel = Channel(channel)
    for cart in CART_SIZES:
        for with_discount in (True, False):
            fields = sample_fields(language, with_discount=with_discount, cart=cart, channel=channel,
                                   shop_name=shop_name, shop_domain=shop_domain)  # fmt: skip
            render(source, fields, html=html)
    if channel is Channel.SMS and not html:
        refusal = sms_report(source, language, shop_name=shop_name, shop_domain=shop_domain).refusal()
        if refusal is not None:
            raise refusal
