"""Merchant message templates: Jinja2 in a locked-down sandbox, and SMS bodies fitted to the segment cap.

A template may print the fields (FIELD_NAMES), loop once over `cart_items` (at most MAX_CART_ITEMS
lines; `more_items` counts the rest), use `{% if %}`, arithmetic on numbers and ALLOWED_FILTERS.
Everything else (unknown names, `_` attributes, any call, `**`, `*` or `%` on text, FORBIDDEN_BLOCKS,
loops over anything but `cart_items`, nested loops, oversized sources) is refused by
`validate_template` at save time and by `render`, so a bad template is never sent. A render is
held to a budget while it runs (template_limits: what it prints and what it builds on the way),
and any exception from the template is a TemplateRefused. Email HTML renders autoescaped.
`fit_sms` shortens an SMS at send time; `sms_report` measures it on sample carts.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from numbers import Number
from typing import Any, NoReturn

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, meta, nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment

from shop_app.domain.models import Channel
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
from shop_app.messaging.samples import CART_SIZES, SAMPLE_SHOP_DOMAIN, SAMPLE_SHOP_NAME, sample_fields
from shop_app.messaging.template_fields import (
    FIELD_NAMES,
    MAX_CART_ITEMS,
    MAX_SUMMARY_ITEMS,
    CartItem,
    TemplateFields,
)
from shop_app.messaging.template_limits import (
    RenderBudget,
    TemplateRefused,
    charge_text,
    current_budget,
    metered_filters,
    refusal,
    spending,
)

__all__ = [
    "ALLOWED_FILTERS",
    "CART_SIZES",
    "COMPACT_TITLE_CHARS",
    "FIELD_NAMES",
    "FORBIDDEN_BLOCKS",
    "MAX_CART_ITEMS",
    "MAX_HTML_OUTPUT_CHARS",
    "MAX_HTML_SOURCE_CHARS",
    "MAX_OUTPUT_CHARS",
    "MAX_SOURCE_CHARS",
    "MAX_SUMMARY_ITEMS",
    "SAMPLE_SHOP_DOMAIN",
    "SAMPLE_SHOP_NAME",
    "CartItem",
    "Preview",
    "SmsFit",
    "SmsOverCap",
    "SmsReport",
    "TemplateFields",
    "TemplateRefused",
    "compacted",
    "fit_sms",
    "gsm_folded",
    "preview",
    "render",
    "sample_fields",
    "sms_length",
    "sms_report",
    "validate_template",
]

MAX_SOURCE_CHARS = 20_000
MAX_HTML_SOURCE_CHARS = 100_000
MAX_OUTPUT_CHARS = 50_000
MAX_HTML_OUTPUT_CHARS = 200_000
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


class _ChargedConcat(CodeGenerator):
    """Compiles every `~` so that the text it makes is charged to the render's budget."""

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.charge_text(")
        super().visit_Concat(node, frame)
        self.write(")")


class _Sandbox(SandboxedEnvironment):
    code_generator_class = _ChargedConcat
    intercepted_binops = frozenset({"+", "*", "**", "%", "/", "//"})
    charge_text = staticmethod(charge_text)

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if callable(value):  # no methods: `"x".format`, `loop.cycle`, `dict.items`…
            return False
        return not str(attr).startswith("_") and super().is_safe_attribute(obj, attr, value)

    def is_safe_callable(self, obj: Any) -> bool:
        return False

    # Positional-only, like Jinja's own `call`: a keyword argument named `obj` lands in kwargs.
    def call(self, context: Context, obj: Any, /, *args: Any, **kwargs: Any) -> NoReturn:
        raise SecurityError("templates cannot call functions")

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "**":
            raise SecurityError("the ** operator is not allowed in templates")
        if operator == "+" and _is_sequence(left) and _is_sequence(right):  # "Hi " + first_name, list + list
            current_budget().build(len(left) + len(right))
            return left + right
        if not (_is_number(left) and _is_number(right)):
            also = ", or on two texts or two lists" if operator == "+" else ""
            raise SecurityError(f"the {operator} operator only works on numbers{also} in templates")
        return super().call_binop(context, operator, left, right)


def _is_number(value: object) -> bool:
    return isinstance(value, Number) and not isinstance(value, bool)


def _is_sequence(value: object) -> bool:
    return isinstance(value, str | list | tuple)


def _environment(*, autoescape: bool) -> _Sandbox:
    env = _Sandbox(autoescape=autoescape, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.globals.clear()  # no range, lipsum, cycler, dict…
    env.filters = metered_filters(env.filters, ALLOWED_FILTERS)
    return env


_TEXT = _environment(autoescape=False)
_HTML = _environment(autoescape=True)


def _check_tree(tree: nodes.Template) -> None:
    """Static refusals, with messages a merchant can act on."""
    for block in tree.find_all(tuple(FORBIDDEN_BLOCKS)):
        raise TemplateRefused(f"'{{% {FORBIDDEN_BLOCKS[type(block)]} %}}' is not allowed in templates")
    for loop in tree.find_all(nodes.For):
        if not _over_cart_items(loop.iter):
            raise TemplateRefused("loops can only go over cart_items: {% for item in cart_items %}")
        if any(isinstance(inner, nodes.For) or inner.find(nodes.For) for inner in loop.body):
            raise TemplateRefused("loops inside loops are not allowed in templates")
    for access in tree.find_all((nodes.Getattr, nodes.Getitem)):
        key = _accessed_key(access)
        if isinstance(key, str) and key.startswith("_"):
            raise TemplateRefused(f"'{key}' cannot be used in templates (names starting with _ are private)")
    if tree.find(nodes.Call):
        raise TemplateRefused("templates cannot call functions")
    if tree.find(nodes.Pow):
        raise TemplateRefused("the ** operator is not allowed in templates")
    for used in tree.find_all(nodes.Filter):
        if used.name not in ALLOWED_FILTERS:
            raise TemplateRefused(f"unknown filter '{used.name}'; allowed: {', '.join(sorted(ALLOWED_FILTERS))}")
    names = set(meta.find_undeclared_variables(tree))
    names |= {node.name for node in tree.find_all(nodes.Name) if node.name == "self"}
    unknown = sorted(names - FIELD_NAMES)
    if unknown:
        raise TemplateRefused(
            f"unknown field{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; "
            f"available: {', '.join(sorted(FIELD_NAMES))}"
        )


def _over_cart_items(iterated: nodes.Node) -> bool:
    """`cart_items`, or a slice of it (`cart_items[:3]`): at most MAX_CART_ITEMS rounds."""
    if isinstance(iterated, nodes.Getitem) and isinstance(iterated.arg, nodes.Slice):
        return _over_cart_items(iterated.node)
    return isinstance(iterated, nodes.Name) and iterated.name == "cart_items"


def _accessed_key(access: nodes.Expr) -> object:
    """The name in `x.name`, or the constant in `x['name']` (None for a computed key)."""
    if isinstance(access, nodes.Getattr):
        return access.attr
    if isinstance(access, nodes.Getitem):
        return getattr(access.arg, "value", None)
    return None


@functools.lru_cache(maxsize=256)
def _compile(source: str, html: bool) -> Template:
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
    except (RecursionError, SyntaxError):  # Jinja's parser, or Python's compiler on what Jinja made of it
        raise TemplateRefused("template is nested too deeply") from None
    except TemplateRefused:
        raise
    except Exception as exc:
        raise refusal(exc) from None


def render(template: str, fields: TemplateFields, *, html: bool = False) -> str:
    """Render a template within the output budget, counted while it renders; raises TemplateRefused
    for anything the sandbox does not allow and for any exception the template raises."""
    compiled = _compile(template, html)
    budget = RenderBudget(MAX_HTML_OUTPUT_CHARS if html else MAX_OUTPUT_CHARS)
    out: list[str] = []
    with spending(budget):
        try:
            for chunk in compiled.generate(fields.context()):
                budget.print(len(chunk))
                out.append(chunk)
        except Exception as exc:  # the merchant's template, whatever it raised: never the caller's problem
            raise refusal(exc) from None
    return "".join(out)


# --- shortening an SMS to fit the cap ----------------------------------------------------------

_ITEMS_WORD = {"en": ("item", "items"), "es": ("producto", "productos")}  # GSM-7 only: no "artículos"


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."


def compacted(fields: TemplateFields, language: str = "en") -> TemplateFields:
    """The cart said in few characters: `cart_summary` becomes a count ("12 items"), and a loop
    over `cart_items` sees the first MAX_SUMMARY_ITEMS items with their titles cut (`more_items`
    counts the others)."""
    count = sum(item.quantity for item in fields.cart_items)
    one, many = _ITEMS_WORD.get(language, _ITEMS_WORD["en"])
    shown = tuple(
        replace(item, title=_cut(item.title, COMPACT_TITLE_CHARS)) for item in fields.cart_items[:MAX_SUMMARY_ITEMS]
    )
    return replace(fields, cart_items=shown + fields.cart_items[MAX_SUMMARY_ITEMS:], items_shown=MAX_SUMMARY_ITEMS,
                   summary_override=f"{count} {one if count == 1 else many}")  # fmt: skip


def gsm_folded(fields: TemplateFields) -> TemplateFields:
    """The customer's and the shop's data spelled in GSM-7 where possible ("Lucía" → "Lucia").
    A first name with no GSM-7 spelling is left out (templates greet without a name); any other
    value without one is kept as it is."""

    return replace(
        fields,
        first_name=gsm_fold(fields.first_name) or "",
        shop_name=_fold(fields.shop_name),
        cart_items=tuple(replace(item, title=_fold(item.title), price=_fold(item.price)) for item in fields.cart_items),
        cart_total=_fold(fields.cart_total),
        discount_code=_fold_optional(fields.discount_code),
        discount_value=_fold_optional(fields.discount_value),
        discount_expiry=_fold_optional(fields.discount_expiry),
        friend_offer=_fold_optional(fields.friend_offer),
        reward_value=_fold_optional(fields.reward_value),
        reward_expiry=_fold_optional(fields.reward_expiry),
    )


def _fold(value: str) -> str:
    folded = gsm_fold(value)
    return value if folded is None else folded


def _fold_optional(value: str | None) -> str | None:
    return None if value is None else _fold(value)


@dataclass(frozen=True)
class SmsFit:
    text: str
    length: SmsLength
    changes: tuple[str, ...] = ()  # what was shortened to fit, in words (for the activity log)


def fit_sms(source: str, fields: TemplateFields, language: str = "en", *, cap: int = MAX_SMS_SEGMENTS,
            shorten_items: bool = True) -> SmsFit:  # fmt: skip
    """Render an SMS body within `cap` segments. Tried in order: the text as written; the data
    spelled in GSM-7 (`gsm_folded`) when that makes the whole text GSM-7; that with the cart
    shortened (`compacted`). `shorten_items=False` stops before the cart is shortened.

    Raises SmsOverCap with the count of the shortest rendering (the send is then skipped with
    that reason, never billed over the cap), and TemplateRefused when the template does not render."""
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


# --- save-time checks and previews on sample data ---------------------------------------------


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

    def to_json(self) -> dict[str, object]:
        def one(check: SmsCapCheck, changes: tuple[str, ...]) -> dict[str, object]:
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
    """The SMS as `fit_sms` sends it: the typical sample cart as written, the long cart once
    shortened, each with and without a discount. Raises TemplateRefused when it does not render."""
    samples, long_carts = [], []
    for with_discount in (True, False):
        typical = sample_fields(language, with_discount=with_discount, channel=Channel.SMS, shop_name=shop_name,
                                shop_domain=shop_domain)  # fmt: skip
        samples.append(_measure(source, typical, language, cap, shorten_items=False))
        long = sample_fields(language, with_discount=with_discount, cart="long", channel=Channel.SMS,
                             shop_name=shop_name, shop_domain=shop_domain)  # fmt: skip
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
    written and with the long cart once shortened (`sms_report`), else SmsOverCap.
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
