"""A merchant's template cannot exhaust the worker: the output and what it builds on the way are
held to a budget while it renders, loops see a bounded cart, and whatever a template raises is a
TemplateRefused with a reason (issue 9, item 3)."""

from __future__ import annotations

import itertools
import time
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shop_app.domain.models import Channel
from shop_app.domain.payloads import MAX_LINE_ITEMS
from shop_app.messaging import sandbox
from shop_app.messaging.sandbox import (
    ALLOWED_FILTERS,
    MAX_CART_ITEMS,
    TemplateRefused,
    render,
    sample_fields,
    validate_template,
)
from shop_app.messaging.template_limits import RenderBudget, bounded_join, spending
from tests.examples import examples

LARGE = sample_fields(cart="large")
SMALL = sample_fields(cart="small")
NESTED_JOIN = "{{ cart_items|join(cart_items|join(cart_items|join(', '))) }}"
MORE = MAX_LINE_ITEMS - MAX_CART_ITEMS  # `more_items` with the large sample


def refused_quickly(source, fields=LARGE, *, html=False):
    started = time.perf_counter()
    with pytest.raises(TemplateRefused) as refused:
        render(source, fields, html=html)
    assert time.perf_counter() - started < 1, "refused, but only after building the text"
    return refused.value


def test_the_large_sample_is_the_largest_cart_a_checkout_can_bring():
    assert len(LARGE.cart_items) == MAX_LINE_ITEMS == 500
    assert render("{{ cart_items|length }} shown, {{ more_items }} more", LARGE) == f"20 shown, {MORE} more"
    assert render("{{ cart_items|length }} shown, {{ more_items }} more", sample_fields()) == "2 shown, 0 more"
    assert render("{% for item in cart_items %}.{% endfor %}", LARGE) == "." * MAX_CART_ITEMS


@pytest.mark.parametrize("html", [False, True])
def test_a_join_inside_a_join_over_a_large_cart_is_refused_quickly_within_the_budget(html):
    refused = refused_quickly(NESTED_JOIN, html=html)
    if html:  # may build 1,000,000 characters, print 200,000: built, then too long to print
        assert refused.reason == "the rendered text is longer than 200000 characters"
    else:  # may build 250,000: refused before the third join builds its ~530,000
        assert "builds more than 250000 characters" in refused.reason and "join inside a join" in refused.reason
    deeper = "{{ " + "cart_items|join(" * 6 + "'x'" + ")" * 6 + " }}"  # 20**6 items' worth of text
    assert "builds more than" in refused_quickly(deeper, html=html).reason


def test_the_nested_join_is_refused_at_save_though_the_typical_cart_renders_it():
    assert len(render(NESTED_JOIN, sample_fields())) < 10_000
    with pytest.raises(TemplateRefused, match="builds more than"):
        validate_template(NESTED_JOIN, Channel.EMAIL)


def test_join_stops_reading_once_the_budget_is_spent():
    """An endless sequence: a join that built first and measured after would never return."""
    with spending(RenderBudget(100)), pytest.raises(TemplateRefused, match="builds more than 500"):
        bounded_join(sandbox._TEXT.from_string("").new_context().eval_ctx, itertools.count(), ", ")


def measured(operator, times):
    """The length of `shop_name` put together `times` times: little to print, much to build."""
    return "{{ (" + f" {operator} ".join(["shop_name"] * times) + ")|length }}"


@pytest.mark.parametrize("operator", ["~", "+"])
def test_what_concatenation_builds_is_charged_even_when_little_is_printed(monkeypatch, operator):
    monkeypatch.setattr(sandbox, "MAX_OUTPUT_CHARS", 100)  # may build 500
    assert render(measured(operator, 5), sample_fields()) == "50"
    with pytest.raises(TemplateRefused, match="builds more than 500"):
        render(measured(operator, 60), sample_fields())


def test_the_sandbox_bounds_a_join_even_when_called_without_render():
    """Defence in depth: Jinja called directly, the filters still refuse to build without limit."""
    template = sandbox._environment(autoescape=False).from_string("{{ items|join(items|join(items|join(items))) }}")
    with pytest.raises(TemplateRefused, match="builds more than"):
        template.render(items=["x" * 200] * 500)


@pytest.mark.parametrize(
    "source, reason",
    [
        ("{{ first_name|truncate(-5) }}", "truncate needs a length of at least 3 (the length of its ending '...')"),
        ("{{ shop_name|truncate(2, end='....') }}", "truncate needs a length of at least 4"),
        ("{{ shop_name|truncate(5, false, '...', -1) }}", "truncate needs a leeway of 0 or more, not -1"),
        ("{{ cart_total|round }}", "the template fails to render: type str doesn't define __round__ method"),
        ("{{ 100 // (more_items - 480) }}", "the template fails to render: integer division or modulo by zero"),
        ("{{ (1e308 * 10)|round(0, 'floor') }}", "the template fails to render: cannot convert float infinity"),
        ("{{ cart_items[first_name] }}", "unknown field: 'list object' has no attribute 'Anne-Catherine'"),
        ("{{ cart_items[cart_items|length].title }}", "unknown field: list object has no element 20"),
        ("{{ shop_name|round(1, 'sideways') }}", "the template fails to render: method must be"),
        ("{{ cart_items|first|attr }}", "unknown filter 'attr'"),
    ],
)
def test_every_failure_is_a_refusal_with_a_readable_reason(source, reason):
    refused = refused_quickly(source)
    assert refused.reason.startswith(reason), refused.reason


def test_the_reason_a_send_records_quotes_no_customer_data():
    fields = replace(LARGE, first_name="Zoë Quartermaine")
    refused = refused_quickly("{{ cart_items[first_name] }}", fields)
    assert "Zoë Quartermaine" in refused.reason  # the merchant's reason, on sample data at save time
    assert "Zoë" not in refused.reason_without_data and "Zoë" not in str(refused)
    assert refused.reason_without_data == (
        "the template fails to render: a field, item or attribute that is not there (UndefinedError)"
    )
    budget = refused_quickly(NESTED_JOIN)
    assert budget.reason_without_data == budget.reason  # our own words carry no data


def test_failures_that_only_a_large_cart_shows_are_refused_at_save():
    for source in ("{% if more_items %}{{ cart_items[20].title }}{% endif %}", "{{ 1 // (more_items - 480) }}",
                   "{{ 9 / (cart_items|length - 20) }}"):  # fmt: skip
        render(source, sample_fields())
        with pytest.raises(TemplateRefused):
            validate_template(source, Channel.EMAIL)


@pytest.mark.parametrize(
    "source",
    ["{% for c in cart_summary %}{{ c }}{% endfor %}", "{% for n in [1, 2, 3] %}{{ n }}{% endfor %}",
     "{% for i in cart_items|join %}{{ i }}{% endfor %}", "{% for i in (cart_items + cart_items) %}x{% endfor %}"],
)  # fmt: skip
def test_loops_only_go_over_cart_items(source):
    with pytest.raises(TemplateRefused, match="loops can only go over cart_items"):
        validate_template(source, Channel.EMAIL)


def test_a_loop_over_a_slice_of_cart_items_is_allowed():
    assert render("{% for item in cart_items[:3] %}{{ item.title }};{% endfor %}", sample_fields()) == (
        "Linen shirt;Straw hat;"
    )


def test_a_shortened_sms_still_counts_the_items_it_leaves_out():
    source = "{% for item in cart_items %}{{ item.title }}, {% endfor %}and {{ more_items }} more"
    short = sandbox.compacted(LARGE)
    assert render(source, short).endswith(f", and {MAX_LINE_ITEMS - 3} more")
    assert render(source, short).count(",") == 3


# --- any template from a small grammar: a refusal or a text within the budget ------------------------

ATOMS = st.sampled_from([
    "first_name", "shop_name", "cart_items", "cart_summary", "cart_total", "more_items", "discount_code",
    "recovery_link", "cart_items|first", "(cart_items|last).title", "item", "loop.index", "'x'", "''", "', '",
    "'<b>&amp;'", "0", "1", "-5", "20", "3.5", "1e308", "10000000", "[cart_items, cart_items]", "none", "true",
])  # fmt: skip
ARGUMENT = st.one_of(ATOMS, st.integers(-10, 300).map(str))
OPERATORS = st.sampled_from(["+", "-", "*", "/", "//", "%", "~", "and", "or", "==", "<", "in"])


def _grow(inner):
    call = st.builds(lambda v, f, args: f"({v})|{f}({', '.join(args)})", inner, st.sampled_from(ALLOWED_FILTERS),
                     st.lists(st.one_of(inner, ARGUMENT), max_size=3))  # fmt: skip
    bare = st.builds(lambda v, f: f"({v})|{f}", inner, st.sampled_from(ALLOWED_FILTERS))
    binop = st.builds(lambda a, op, b: f"({a}) {op} ({b})", inner, OPERATORS, inner)
    index = st.builds(lambda a, i: f"({a})[{i}]", inner, st.one_of(inner, ARGUMENT))
    join = st.builds(lambda v, d: f"({v})|join({d})", inner, inner)  # what multiplies text: drawn more often
    return st.one_of(call, bare, binop, index, join)


EXPRESSIONS = st.recursive(ATOMS, _grow, max_leaves=10)
#: Joins nested n deep, printed whole or only measured (then only the work budget stands in the way).
NESTED_JOINS = st.builds(
    lambda n, inner, tail: "{{ (" + "cart_items|join(" * n + inner + ")" * n + ")" + tail + " }}",
    st.integers(1, 7), st.one_of(ATOMS, EXPRESSIONS), st.sampled_from(["", "|length", "|truncate(9)", "|wordcount"]),
)  # fmt: skip
TEMPLATES = st.one_of(
    NESTED_JOINS,
    EXPRESSIONS.map(lambda e: "{{ " + e + " }}"),
    st.builds(
        lambda e, f: "{% for item in cart_items %}{{ " + e + " }}{% if " + f + " %}!{% endif %}{% endfor %}",
        EXPRESSIONS,
        EXPRESSIONS,
    ),
    st.builds(lambda a, b: "{{ " + a + " }} and {{ " + b + " }}", EXPRESSIONS, EXPRESSIONS),
)


@settings(max_examples=examples(3), deadline=None)
@given(source=TEMPLATES, html=st.booleans(), cart=st.sampled_from(["large", "small"]))
def test_any_template_renders_within_the_budget_or_is_refused(source, html, cart):
    limit = sandbox.MAX_HTML_OUTPUT_CHARS if html else sandbox.MAX_OUTPUT_CHARS
    started = time.perf_counter()
    try:
        text = render(source, LARGE if cart == "large" else SMALL, html=html)
    except TemplateRefused as refused:
        assert refused.reason and refused.reason_without_data
        assert "MemoryError" not in refused.reason_without_data, source  # the budget stopped it long before
    else:
        assert len(text) <= limit
    assert time.perf_counter() - started < 2, source
