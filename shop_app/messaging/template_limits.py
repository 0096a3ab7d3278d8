"""What rendering a merchant's template may cost, enforced while it renders, and how a failure reads.

Each render gets a RenderBudget: the characters it may print (counted chunk by chunk as
`Template.generate` yields them) and the characters it may build on the way there, WORK_PER_OUTPUT
times as many (every text a filter returns, and every `+` and `~`, is charged as it is made).
`join` measures what it would build before building it, so `{{ cart_items|join(cart_items|join(…)) }}`
is refused before the big string exists. `truncate` refuses a length shorter than its ending
instead of failing an assertion.

Any exception a template raises becomes TemplateRefused (`refusal`): a reason for the merchant,
and one that quotes none of the data the template was rendered with, which a send records.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from jinja2 import pass_environment, pass_eval_context
from jinja2.environment import Environment
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.filters import do_truncate, make_attrgetter, sync_do_join
from jinja2.nodes import EvalContext

from shop_app.errors import ReclaimError

#: A render may build this many times the characters it may print (filters, `+`, `~`).
WORK_PER_OUTPUT = 5
#: Outside a render (constant folding at compile time, Jinja called directly) each step may build this much.
UNMETERED_STEP_CHARS = 1_000_000


class TemplateRefused(ReclaimError, ValueError):
    """A template that may not be saved or sent. `reason` says why, in words for the merchant,
    and may quote the values it was rendered with (sample data at save time). `reason_without_data`
    (also the exception's message) quotes none: what a send records when a customer's data made
    the shop's template fail."""

    def __init__(self, reason: str, reason_without_data: str | None = None):
        self.reason = reason
        self.reason_without_data = reason if reason_without_data is None else reason_without_data
        super().__init__(self.reason_without_data)


class RenderBudget:
    """The characters one render may print and build; over either, TemplateRefused."""

    def __init__(self, output_limit: int):
        self.output_limit = output_limit
        self.work_limit = output_limit * WORK_PER_OUTPUT
        self.printed = 0
        self.built = 0

    def print(self, chars: int) -> None:
        self.printed += chars
        if self.printed > self.output_limit:
            raise TemplateRefused(f"the rendered text is longer than {self.output_limit} characters")

    def build(self, chars: int) -> None:
        self.built += chars
        if self.built > self.work_limit:
            raise self.over()

    def room(self) -> int:
        return self.work_limit - self.built

    def over(self) -> TemplateRefused:
        return TemplateRefused(f"the template builds more than {self.work_limit} characters of text while it "
                               "renders (a join inside a join, or a text repeated many times?)")  # fmt: skip


_ACTIVE: ContextVar[RenderBudget | None] = ContextVar("render_budget", default=None)


@contextmanager
def spending(budget: RenderBudget) -> Iterator[RenderBudget]:
    """Charge what filters, `+` and `~` build to `budget` until the block ends."""
    token = _ACTIVE.set(budget)
    try:
        yield budget
    finally:
        _ACTIVE.reset(token)


def current_budget() -> RenderBudget:
    """The budget of the render under way; outside one, a fresh budget for this step alone."""
    return _ACTIVE.get() or RenderBudget(UNMETERED_STEP_CHARS // WORK_PER_OUTPUT)


def charge_text(value: Any) -> Any:
    """`value`, charged to the render's budget when it is text."""
    if isinstance(value, str):
        current_budget().build(len(value))
    return value


# --- filters --------------------------------------------------------------------------------------


def charged(filter_: Callable[..., Any]) -> Callable[..., Any]:
    """`filter_` with the text it returns charged to the render's budget. Jinja's markers (which
    context the filter takes) are copied with the rest of its attributes."""

    @functools.wraps(filter_)
    def run(*args: Any, **kwargs: Any) -> Any:
        return charge_text(filter_(*args, **kwargs))

    return run


@pass_eval_context
def bounded_join(eval_ctx: EvalContext, value: Any, d: Any = "", attribute: str | int | None = None) -> str:
    """Jinja's `join`, refused before it builds more text than the render has room for."""
    if attribute is not None:
        value = map(make_attrgetter(eval_ctx.environment, attribute), value)
    budget = current_budget()
    items: list[Any] = []
    size, separator = 0, len(str(d))
    for item in value:
        size += len(str(item)) + (separator if items else 0)
        if size > budget.room():
            raise budget.over()
        items.append(item)
    return sync_do_join(eval_ctx, items, d)


@pass_environment
def checked_truncate(env: Environment, s: str, length: int = 255, killwords: bool = False, end: str = "...",
                     leeway: int | None = None) -> str:  # fmt: skip
    """Jinja's `truncate`, with a reason instead of an assertion for arguments it cannot use."""
    if isinstance(length, int | float) and isinstance(end, str) and length < len(end):
        raise TemplateRefused(f"truncate needs a length of at least {len(end)} (the length of its ending "
                              f"{end!r}), not {length}")  # fmt: skip
    if isinstance(leeway, int | float) and leeway < 0:
        raise TemplateRefused(f"truncate needs a leeway of 0 or more, not {leeway}")
    return do_truncate(env, s, length, killwords, end, leeway)


#: Filters replaced by bounded versions; every other allowed filter is only `charged`.
BOUNDED_FILTERS: dict[str, Callable[..., Any]] = {"join": bounded_join, "truncate": checked_truncate}


def metered_filters(filters: dict[str, Callable[..., Any]], allowed: tuple[str, ...]) -> dict[str, Callable[..., Any]]:
    """The `allowed` filters, each charging the text it returns (join and truncate bounded first)."""
    return {name: charged(BOUNDED_FILTERS.get(name, filters[name])) for name in allowed}


# --- any failure as a refusal ---------------------------------------------------------------------

#: What went wrong, in words that quote no value (the first class that matches is used).
_FAILURES: tuple[tuple[type[BaseException], str], ...] = (
    (SecurityError, "something templates may not do"),
    (UndefinedError, "a field, item or attribute that is not there"),
    (ZeroDivisionError, "a division by zero"),
    (OverflowError, "a number too large"),
    (RecursionError, "nesting too deep"),
    (MemoryError, "too much text"),
    (LookupError, "an item that is not there"),
    (TypeError, "a value of the wrong type"),
    (ValueError, "a value it cannot use"),
    (ArithmeticError, "a calculation that fails"),
    (AssertionError, "a filter argument it cannot use"),
)


def refusal(error: Exception) -> TemplateRefused:
    """The TemplateRefused for anything raised while a template rendered. The merchant's reason
    keeps Jinja's or Python's words; the reason without data names only the kind of failure."""
    if isinstance(error, TemplateRefused):
        return error
    kind = next((words for cls, words in _FAILURES if isinstance(error, cls)), "an error")
    without_data = f"the template fails to render: {kind} ({type(error).__name__})"
    if isinstance(error, SecurityError):
        return TemplateRefused(f"not allowed: {error}", without_data)
    if isinstance(error, UndefinedError):
        return TemplateRefused(f"unknown field: {error}", without_data)
    if isinstance(error, MemoryError):
        return TemplateRefused("the template builds too much text while it renders", without_data)
    return TemplateRefused(f"the template fails to render: {error}", without_data)
