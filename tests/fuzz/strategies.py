"""Hypothesis strategies for the fuzz tests: realistic documents, mutated, and bodies that are
not quite JSON.

`mutated(seeds)` starts from a document the app accepts and replaces, drops or adds a few
values anywhere in it, so most examples get past the first checks and reach the code behind
them; `bodies(documents)` encodes a document the way a careless or hostile client might
(raw UTF-8 with lone surrogates, a byte-order mark, UTF-16, cut short, nested thousands deep).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from tests.examples import examples


def fuzz_settings(factor: int) -> settings:
    """`factor` times the profile's examples (ci: 100 × factor, dev: 10 × factor) for one fuzz test.
    Examples share the test's database (that is the point), and some bodies are large on purpose."""
    return settings(
        max_examples=examples(factor),
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
    )


#: Strings that have broken parsers, databases and templates before.
AWKWARD_STRINGS = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\ud800",
    "x\udfffy",
    "\ufeff",
    "\u202egnp.exe",  # right-to-left override
    "\u200f\u05e9\u05dc\u05d5\u05dd",
    "🛒🛒",
    "null",
    "NaN",
    "-0",
    "1e309",
    "0x1F",
    "+34600111222",
    "0034 600 111 222",
    "ana@example.com",
    "a@b.example, c@d.example",
    "<script>alert(1)</script>",
    "{{ 7 * 7 }}",
    "{% for x in range(999999999) %}x{% endfor %}",
    "' OR 1=1 --",
    "2026-12-01T16:00:00Z",
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:59-23:59",
    "2026-02-30T10:00:00Z",
    "https://demo-shop.myshopify.com/1/checkouts/ac/x/recover?key=k",
    "javascript:alert(1)",
    "http://[::1",
]
AWKWARD_NUMBERS = [
    0,
    -1,
    1,
    2**31,
    2**63 - 1,
    2**63,
    -(2**63) - 1,
    10**40,
    -(10**40),
    10**400,
    1e308,
    -1e308,
    -0.0,
    5e-324,
]

#: About 10 kB (UTF-8) of one character: Hypothesis itself draws strings of a few dozen.
LONG_STRINGS = st.builds(
    lambda char, size: char * (size // len(char.encode("utf-8", "surrogatepass"))),
    st.sampled_from(["x", "é", "\x00", "🛒", "\ud800", "9"]),
    st.integers(10_000, 11_000),
)
STRINGS = st.one_of(
    st.sampled_from(AWKWARD_STRINGS),
    st.text(st.characters(exclude_categories=()), max_size=30),  # surrogates included
)
NUMBERS = st.one_of(
    st.sampled_from(AWKWARD_NUMBERS),
    st.integers(),
    st.floats(),  # NaN and ±Infinity too: Python's json writes and reads them
)
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, STRINGS)
#: Text a URL can carry (no lone surrogates: they have no UTF-8 to percent-encode).
PLAIN_TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=20)
KEYS = st.one_of(
    st.sampled_from(["id", "token", "email", "phone", "customer", "", "\x00", "\ud800"]), st.text(max_size=8)
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=4),
    max_leaves=12,
)


def paths(value: Any, prefix: tuple = ()) -> Iterator[tuple]:
    """Every place in a JSON document, the root `()` first."""
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from paths(child, (*prefix, index))


def _container(document: Any, path: tuple) -> Any:
    for step in path:
        document = document[step]
    return document


#: A value of the same JSON type as the one it replaces: gets past type checks to the range checks.
LIKE = {
    bool: st.booleans(),
    int: st.sampled_from(AWKWARD_NUMBERS) | NUMBERS,
    float: st.sampled_from(AWKWARD_NUMBERS) | NUMBERS,
    str: st.sampled_from(AWKWARD_STRINGS) | STRINGS,
}


@st.composite
def mutated(draw: st.DrawFn, seeds: st.SearchStrategy, values: st.SearchStrategy = JSON_VALUES) -> Any:
    """A document from `seeds` with up to four values replaced (by any value, or one of the same
    type), dropped, added or (text) extended, anywhere in it; one new value in ten or so is a
    10 kB string."""

    def value() -> Any:
        if draw(st.integers(0, 9)) == 0:
            return draw(LONG_STRINGS)
        return copy.deepcopy(draw(values))  # a later change must not alter what a strategy holds (st.just)

    document = copy.deepcopy(draw(seeds))
    for _ in range(draw(st.integers(0, 4))):
        path = draw(st.sampled_from(list(paths(document))))
        if not path:  # the root: only replacing makes sense
            document = value()
            continue
        parent, last = _container(document, path[:-1]), path[-1]
        target, action = parent[last], draw(st.sampled_from(["replace", "alike", "drop", "add"]))
        if action == "drop":
            del parent[last]
        elif action == "alike" and type(target) in LIKE:
            parent[last] = draw(LIKE[type(target)])
        elif action == "add" and isinstance(target, dict):
            target[draw(KEYS)] = value()
        elif action == "add" and isinstance(target, list):
            target.append(value())
        elif action == "add" and isinstance(target, str):
            parent[last] = target + str(value())
        else:
            parent[last] = value()
    return document


def _nested(depth: int) -> bytes:
    return b'{"customer":' + b"[" * depth + b"]" * depth + b"}"


#: How a document reaches the app: mostly as JSON, sometimes not quite.
ENCODINGS = ["json"] * 12 + ["raw-utf8", "bom", "utf16", "truncated", "trailing", "nested", "binary", "empty"]


@st.composite
def bodies(draw: st.DrawFn, documents: st.SearchStrategy) -> bytes:
    """A request body: a drawn document, encoded one of the ENCODINGS ways."""
    encoding = draw(st.sampled_from(ENCODINGS))
    if encoding == "nested":
        return _nested(draw(st.sampled_from([50, 999, 1_000, 20_000])))
    if encoding == "binary":
        return draw(st.binary(max_size=200))
    if encoding == "empty":
        return b""
    text = json.dumps(draw(documents), ensure_ascii=encoding != "raw-utf8")
    if encoding == "raw-utf8":  # a lone surrogate becomes bytes that are not UTF-8
        return text.encode("utf-8", "surrogatepass")
    if encoding == "utf16":
        return text.encode("utf-16")
    raw = text.encode()
    if encoding == "bom":
        return b"\xef\xbb\xbf" + raw
    if encoding == "truncated":
        return raw[: draw(st.integers(0, max(len(raw) - 1, 0)))]
    if encoding == "trailing":
        return raw + draw(st.sampled_from([b" x", b"\x00", b"}", b",{}"]))
    return raw
