"""The development server's reading of Shopify's search syntax: strict, so a malformed
query string built by the app fails a test instead of matching something else."""

from __future__ import annotations

from datetime import UTC

import pytest

from shop_app.devtools.search_syntax import Group, SearchSyntaxError, Term, evaluate, parse


def test_fields_comparators_and_quotes() -> None:
    assert parse('email:"a b@x.com"') == Term("email", ":", "a b@x.com")
    assert parse("created_at:>='2026-03-02T18:00:00Z'") == Term("created_at", ":>=", "2026-03-02T18:00:00Z")
    assert parse("total:<5") == Term("total", ":<", "5")
    assert parse(r'email:"say \"hi\""') == Term("email", ":", 'say "hi"')
    assert parse("John") == Term(None, ":", "John")


def test_and_binds_tighter_than_or_and_parentheses_group() -> None:
    assert parse("a:1 OR b:2 c:3") == Group(
        "OR", (Term("a", ":", "1"), Group("AND", (Term("b", ":", "2"), Term("c", ":", "3"))))
    )
    assert parse("(a:1 OR b:2) AND c:3") == Group(
        "AND", (Group("OR", (Term("a", ":", "1"), Term("b", ":", "2"))), Term("c", ":", "3"))
    )


def test_negation() -> None:
    assert parse("-a:1") == Term("a", ":", "1", negated=True)
    assert parse("NOT (a:1 OR b:2)").negated
    values = {"a": "1", "b": "0"}
    assert evaluate(parse("NOT a:2 AND -b:1"), lambda t: values[t.field] == t.value)
    assert not evaluate(parse("-(a:1 OR b:2)"), lambda t: values[t.field] == t.value)


@pytest.mark.parametrize("text", ['email:"open', "(a:1 OR b:2", "a:1 OR", "a:1)", "a:", ":x", "a:b(c", "- a:1", ""])
def test_malformed_queries_are_refused(text: str) -> None:
    with pytest.raises(SearchSyntaxError):
        parse(text)


def test_the_payment_check_query_means_what_it_says() -> None:
    from datetime import datetime

    from shop_app.adapters.shopify_admin_operations import payment_check_query

    query = payment_check_query("tok", "a@b.com", ("gid://shopify/Customer/7",), datetime(2026, 3, 2, tzinfo=UTC))

    def matches(order: dict) -> bool:
        def term(t: Term) -> bool:
            if t.comparator == ":>=":
                return order.get(t.field, "") >= t.value
            return order.get(t.field) == t.value

        return evaluate(parse(query), term)

    assert matches({"checkout_token": "tok", "created_at": "2020-01-01T00:00:00Z"})
    assert matches({"email": "a@b.com", "created_at": "2026-03-02T00:00:00Z"})
    assert matches({"customer_id": "7", "created_at": "2026-03-03T00:00:00Z"})
    assert not matches({"email": "a@b.com", "created_at": "2026-03-01T23:59:59Z"})
    assert not matches({"email": "c@d.com", "created_at": "2026-03-03T00:00:00Z"})
