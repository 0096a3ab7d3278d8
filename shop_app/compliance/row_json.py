"""A stored row as a JSON object: what a privacy export (privacy.py) and the privacy page
(privacy_admin.py) show of it. Times become ISO 8601 text and amounts decimal text, so the
object can go into a JSON column or an API answer as it is."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal


def row_json(row: object, names: Iterable[str], columns: Mapping[str, str] | None = None) -> dict[str, object]:
    """{name: value} for each of `names`, in that order; the value is the row's attribute of that
    name, or of the one `columns` gives for it (a column the JSON shows under another name)."""
    renamed = columns or {}
    return {name: _plain(getattr(row, renamed.get(name, name))) for name in names}


def _plain(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value
