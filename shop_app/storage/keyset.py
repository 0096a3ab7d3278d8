"""Keyset pagination, newest first: pages of rows ordered by id descending, never OFFSET.

A page is asked for with an opaque cursor: `after` (older rows than the cursor's) or `before`
(newer ones). Each page is one indexed range scan of at most `limit + 1` rows, plus at most one
EXISTS for the other side, however deep into the list the page is; a row added or removed
meanwhile never makes a page repeat or skip another's rows.

The cursor is the boundary row's id, wrapped (`base64url("k1:<id>")`) so that callers pass it back
as they got it instead of building their own. A cursor that does not unwrap is a `BadCursor`.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from shop_app.errors import ReclaimError

#: Rows per page unless asked otherwise, and the most a caller may ask for.
DEFAULT_LIMIT = 50
MAX_LIMIT = 100
MAX_CURSOR_CHARS = 64
_KEY = re.compile(r"k1:([1-9][0-9]{0,18})")
_BIGGEST_ID = 2**63 - 1

Row = TypeVar("Row")


class BadCursor(ReclaimError):
    """A cursor or page size the caller changed, truncated or made up."""


@dataclass(frozen=True)
class Page(Generic[Row]):
    rows: list[Row]
    #: The cursor for the next, older page (`after=`), or None on the last page.
    older: str | None
    #: The cursor for the previous, newer page (`before=`), or None on the first page.
    newer: str | None


def encode(key: int) -> str:
    return base64.urlsafe_b64encode(f"k1:{key}".encode("ascii")).decode("ascii").rstrip("=")


def decode(cursor: str) -> int:
    """The id a cursor stands for; BadCursor when it is not one this module made."""
    if not cursor or len(cursor) > MAX_CURSOR_CHARS:
        raise BadCursor("the page cursor is empty or too long")
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, ValueError):
        raise BadCursor("the page cursor is not one this app gave out") from None
    match = _KEY.fullmatch(text)
    if match is None or int(match.group(1)) > _BIGGEST_ID:
        raise BadCursor("the page cursor is not one this app gave out")
    return int(match.group(1))


def page_size(raw: str | None) -> int:
    """`?limit=`: DEFAULT_LIMIT when absent, capped at MAX_LIMIT; BadCursor unless a whole number ≥ 1."""
    if raw is None or raw == "":
        return DEFAULT_LIMIT
    if not raw.isascii() or not raw.isdigit() or len(raw) > 6 or int(raw) < 1:
        raise BadCursor(f"limit must be a whole number from 1 to {MAX_LIMIT}")
    return min(int(raw), MAX_LIMIT)


def fetch_page(
    session: Session,
    query: Any,
    key_column: Any,
    key_of: Callable[[Any], int],
    *,
    after: str | None = None,
    before: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> Page[Any]:
    """One page of `query` (a filtered, unordered Select) by `key_column` descending. `key_of(row)`
    is a row's key. Give `after` or `before`, or neither for the newest page."""
    if after is not None and before is not None:
        raise BadCursor("give either after or before, not both")
    limit = max(1, min(limit, MAX_LIMIT))
    query = query.order_by(None)
    if before is not None:
        rows, more_newer, more_older = _newer_than(session, query, key_column, key_of, decode(before), limit)
    else:
        rows, more_older, more_newer = _older_than(
            session, query, key_column, key_of, decode(after) if after is not None else None, limit
        )
    return Page(
        rows=rows,
        older=encode(key_of(rows[-1])) if rows and more_older else None,
        newer=encode(key_of(rows[0])) if rows and more_newer else None,
    )


def _newer_than(
    session: Session, query: Any, key_column: Any, key_of: Callable[[Any], int], pivot: int, limit: int
) -> tuple[list[Any], bool, bool]:
    """The `limit` rows just newer than `pivot`, newest first; whether more newer and older ones exist."""
    found = list(session.execute(query.where(key_column > pivot).order_by(key_column.asc()).limit(limit + 1)))
    rows = list(reversed(found[:limit]))
    # Without rows, anything up to the pivot is older: `pivot + 1` overflows a 64-bit id.
    older = key_column < key_of(rows[-1]) if rows else key_column <= pivot
    return rows, len(found) > limit, _any(session, query.where(older))


def _older_than(
    session: Session, query: Any, key_column: Any, key_of: Callable[[Any], int], pivot: int | None, limit: int
) -> tuple[list[Any], bool, bool]:
    """The `limit` rows just older than `pivot` (the newest when None), newest first; whether
    more older and newer ones exist."""
    ranged = query if pivot is None else query.where(key_column < pivot)
    found = list(session.execute(ranged.order_by(key_column.desc()).limit(limit + 1)))
    rows = found[:limit]
    if pivot is None:
        return rows, len(found) > limit, False
    newest = key_of(rows[0]) if rows else pivot - 1
    return rows, len(found) > limit, _any(session, query.where(key_column > newest))


def _any(session: Session, query: Any) -> bool:
    return bool(session.scalar(select(exists(query.limit(1).subquery()))))


def mapped(page: Page[Any], convert: Callable[[Any], Row]) -> Page[Row]:
    return Page([convert(row) for row in page.rows], page.older, page.newer)
