"""Shopify's search query syntax (https://shopify.dev/docs/api/usage/search-syntax), parsed
strictly for the development Admin API server.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from shop_app.errors import ReclaimError

SPECIAL = set("():\\\"'")
COMPARATORS = (":<=", ":>=", ":<", ":>", ":")


class SearchSyntaxError(ReclaimError, ValueError):
    pass


@dataclass(frozen=True)
class Term:
    field: str | None  # None: the default (free-text) field
    comparator: str  # ":", ":<", ":>", ":<=", ":>="
    value: str
    negated: bool = False


@dataclass(frozen=True)
class Group:
    connective: str  # "AND" | "OR"
    items: tuple[Term | Group, ...]
    negated: bool = False


Node = Term | Group


def parse(text: str) -> Node:
    """The query's tree; raises SearchSyntaxError for anything outside this grammar:

        Query      = Term { [ whitespace Connective ] whitespace Term }
        Connective = "AND" | "OR"            (no connective means AND)
        Term       = [ Modifier ] ( "(" Query ")" | [ name Comparator ] value )
        Modifier   = "-" | "NOT" whitespace
        Comparator = ":" | ":<" | ":>" | ":<=" | ":>="
        value      = a name, or a single- or double-quoted string (backslash escapes)

    AND binds tighter than OR. Shopify shrugs off what it cannot parse; this parser refuses it,
    so a malformed query string from the app fails a test instead.
    """
    parser = _Parser(text)
    node = parser.query(nested=False)
    parser.skip_space()
    if not parser.at_end():
        raise SearchSyntaxError(f"unexpected {parser.text[parser.pos]!r} at {parser.pos} in {text!r}")
    return node


def evaluate(node: Node, match: Callable[[Term], bool]) -> bool:
    """Whether a record matches, `match` deciding each term (ignoring its negation)."""
    if isinstance(node, Term):
        result = match(node)
    elif node.connective == "AND":
        result = all(evaluate(item, match) for item in node.items)
    else:
        result = any(evaluate(item, match) for item in node.items)
    return not result if node.negated else result


class _Parser:
    def __init__(self, text: str):
        self.text, self.pos = text, 0

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def peek(self, count: int = 1) -> str:
        return self.text[self.pos : self.pos + count]

    def skip_space(self) -> bool:
        start = self.pos
        while not self.at_end() and self.text[self.pos].isspace():
            self.pos += 1
        return self.pos > start

    def query(self, nested: bool) -> Node:
        alternatives: list[list[Node]] = [[]]
        self.skip_space()
        while True:
            if self.at_end() or (nested and self.peek() == ")"):
                break
            if alternatives[-1]:
                connective = self._connective()
                if connective == "OR":
                    alternatives.append([])
            alternatives[-1].append(self.term())
            self.skip_space()
        if not alternatives[-1]:
            raise SearchSyntaxError(f"empty query or dangling connective at {self.pos} in {self.text!r}")
        groups = [items[0] if len(items) == 1 else Group("AND", tuple(items)) for items in alternatives]
        return groups[0] if len(groups) == 1 else Group("OR", tuple(groups))

    def _connective(self) -> str | None:
        for word in ("AND", "OR"):
            end = self.pos + len(word)
            if self.text[self.pos : end] == word and (end == len(self.text) or self.text[end].isspace()):
                self.pos = end
                self.skip_space()
                return word
        return None

    def term(self) -> Node:
        negated = False
        if self.peek() == "-":
            self.pos += 1
            negated = True
            if self.at_end() or self.text[self.pos].isspace():
                raise SearchSyntaxError(f"'-' must be followed by a term at {self.pos}")
        elif self.peek(4) == "NOT " or self.peek(4) == "NOT\t":
            self.pos += 3
            self.skip_space()
            negated = True
        if self.peek() == "(":
            self.pos += 1
            inner = self.query(nested=True)
            if self.peek() != ")":
                raise SearchSyntaxError(f"unclosed '(' in {self.text!r}")
            self.pos += 1
            if isinstance(inner, Term):
                return Term(inner.field, inner.comparator, inner.value, inner.negated != negated)
            return Group(inner.connective, inner.items, inner.negated != negated)
        if self.peek() in ("'", '"'):
            return Term(None, ":", self.quoted(), negated)
        name = self.name()
        comparator = next((c for c in COMPARATORS if self.text.startswith(c, self.pos)), None)
        if comparator is None:
            if not name:
                raise SearchSyntaxError(f"unexpected {self.peek()!r} at {self.pos} in {self.text!r}")
            return Term(None, ":", name, negated)
        if not name:
            raise SearchSyntaxError(f"comparator without a field name at {self.pos}")
        self.pos += len(comparator)
        value = self.quoted() if self.peek() in ("'", '"') else self.bare()
        if value == "":
            raise SearchSyntaxError(f"{name}{comparator} has no value")
        return Term(name, comparator, value, negated)

    def name(self) -> str:
        start = self.pos
        while not self.at_end() and not self.text[self.pos].isspace() and self.text[self.pos] not in SPECIAL:
            self.pos += 1
        return self.text[start : self.pos]

    def bare(self) -> str:
        out = []
        while not self.at_end() and not self.text[self.pos].isspace() and self.text[self.pos] != ")":
            char = self.text[self.pos]
            if char == "\\":
                self.pos += 1
                if self.at_end():
                    raise SearchSyntaxError("dangling backslash")
                char = self.text[self.pos]
            elif char in "(\"'":
                raise SearchSyntaxError(f"unescaped {char!r} inside a value at {self.pos} in {self.text!r}")
            out.append(char)
            self.pos += 1
        return "".join(out)

    def quoted(self) -> str:
        quote = self.text[self.pos]
        self.pos += 1
        out = []
        while True:
            if self.at_end():
                raise SearchSyntaxError(f"unterminated {quote} string in {self.text!r}")
            char = self.text[self.pos]
            if char == "\\":
                self.pos += 1
                if self.at_end():
                    raise SearchSyntaxError("dangling backslash")
                out.append(self.text[self.pos])
            elif char == quote:
                self.pos += 1
                return "".join(out)
            else:
                out.append(char)
            self.pos += 1
