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
  MAX_SOURCE_CHARS and output over MAX_OUTPUT_CHARS;
- for SMS, a text that renders with sample data to more than MAX_SMS_SEGMENTS segments.

Email HTML bodies render with autoescaping on (`html=True`); every other text renders raw.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from numbers import Number

from jinja2 import StrictUndefined, TemplateSyntaxError, meta, nodes
from jinja2.exceptions import SecurityError, TemplateError, UndefinedError
from jinja2.sandbox import SandboxedEnvironment

from shop_app.domain.models import Channel
from shop_app.domain.sms import MAX_SMS_SEGMENTS, SmsLength, check_sms_cap, sms_length

MAX_SOURCE_CHARS = 20_000
MAX_OUTPUT_CHARS = 50_000
MAX_SUMMARY_ITEMS = 3

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
    discount_expiry: str | None = None  # e.g. "June 14, 6 pm"
    unsubscribe_link: str | None = None
    referral_link: str | None = None

    @property
    def cart_summary(self) -> str:
        """'1 x Linen shirt, 2 x Straw hat' (+N for the rest): GSM-7 friendly, language neutral."""
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


_DATACLASS_FIELDS = tuple(TemplateFields.__dataclass_fields__)
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
    if len(source) > MAX_SOURCE_CHARS:
        raise TemplateRefused(f"template is too long ({len(source)} characters; the limit is {MAX_SOURCE_CHARS})")
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
    out: list[str] = []
    size = 0
    try:
        for chunk in compiled.generate(fields.context()):
            size += len(chunk)
            if size > MAX_OUTPUT_CHARS:
                raise TemplateRefused(f"the rendered text is longer than {MAX_OUTPUT_CHARS} characters")
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


# --- sample data, preview and validation -------------------------------------------------------

_SAMPLES = {
    "en": TemplateFields(
        first_name="Emma",
        shop_name="Casa Verde",
        cart_items=(CartItem("Linen shirt", 1, "49.00 EUR"), CartItem("Straw hat", 2, "20.00 EUR")),
        cart_total="89.00 EUR",
        recovery_link="https://app.reclaim.example/r/k7Qm2xPz9aT4",
        discount_code="SAVE15-K7QM",
        discount_value="15% off",
        discount_expiry="June 14, 6 pm",
        unsubscribe_link="https://app.reclaim.example/u/Xa91LmQ2vR8p",
        referral_link="https://app.reclaim.example/f/Emma-7Q2K",
    ),
    "es": TemplateFields(
        first_name="Marta",  # an accented name (Lucía) makes any SMS UCS-2
        shop_name="Casa Verde",
        cart_items=(CartItem("Camisa de lino", 1, "49.00 EUR"), CartItem("Sombrero de paja", 2, "20.00 EUR")),
        cart_total="89.00 EUR",
        recovery_link="https://app.reclaim.example/r/k7Qm2xPz9aT4",
        discount_code="SAVE15-K7QM",
        discount_value="15 % de descuento",
        discount_expiry="14 de junio, 18:00",
        unsubscribe_link="https://app.reclaim.example/u/Xa91LmQ2vR8p",
        referral_link="https://app.reclaim.example/f/Marta-7Q2K",
    ),
}


def sample_fields(language: str = "en", *, with_discount: bool = True) -> TemplateFields:
    sample = _SAMPLES.get(language, _SAMPLES["en"])
    if with_discount:
        return sample
    return replace(sample, discount_code=None, discount_value=None, discount_expiry=None)


@dataclass(frozen=True)
class Preview:
    text: str
    sms: SmsLength | None = None  # SMS only


def preview(source: str, channel: Channel | str, language: str = "en", tone: str = "informal", *,
            html: bool = False) -> Preview:  # fmt: skip
    """Render with realistic sample data (tone does not change the data; it is the template's choice)."""
    text = render(source, sample_fields(language), html=html)
    return Preview(text, sms_length(text) if Channel(channel) is Channel.SMS else None)


def validate_template(source: str, channel: Channel | str, *, html: bool = False,
                      language: str = "en") -> None:  # fmt: skip
    """Refuse (raise TemplateRefused) a template that would fail, escape the sandbox or be too long.

    Renders with sample data both with and without a discount, so both `{% if discount_code %}`
    branches are checked; SMS is measured on the longer rendering.
    """
    channel = Channel(channel)
    renderings = [render(source, sample_fields(language, with_discount=flag), html=html) for flag in (True, False)]
    if channel is Channel.SMS:
        for text in renderings:
            check = check_sms_cap(text, MAX_SMS_SEGMENTS)
            if check.over:
                raise TemplateRefused(f"the SMS is too long with sample data: {check.describe()}")
