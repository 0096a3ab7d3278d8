"""How the read models group and order what they count: the shop's local day of a stored time (an
SQL expression, so the database groups by it), the flow's order of steps and channels, and money
to the cent. Shared by the report (measurement.py), the referral figures (referral.py) and the
validation cycle (cycle.py)."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, Integer, case, cast, func, literal_column
from sqlalchemy.orm import Session

from shop_app.domain.models import Channel, Step
from shop_app.reporting.periods import DAY_SECONDS

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
#: The order stages and channels are listed in: the flow's, then any other by name.
STEPS = tuple(s.value for s in Step)
CHANNELS = tuple(c.value for c in Channel)


def stage_channel_rank(pair: tuple[str, str]) -> tuple[int, str, int, str]:
    """Sort key of a (stage, channel) pair: the flow's order of stages, then of channels."""
    step, channel = pair
    return (
        STEPS.index(step) if step in STEPS else len(STEPS),
        step,
        CHANNELS.index(channel) if channel in CHANNELS else len(CHANNELS),
        channel,
    )


def local_day(session: Session, column: Any, zone_offsets: tuple[tuple[datetime | None, int], ...]) -> Any:
    """The shop's day number of a stored (naive UTC) time, labelled "day": (seconds since the epoch + the
    zone's offset at that instant) // a day, computed by the database (periods.offsets)."""
    seconds: ColumnElement[int]
    if session.get_bind().dialect.name == "postgresql":
        # date_part is double precision; EXTRACT is numeric since PostgreSQL 14, several times slower.
        seconds = cast(func.floor(func.date_part("epoch", column)), BigInteger)
    elif sqlite3.sqlite_version_info >= (3, 38, 0):  # SQLite keeps "YYYY-MM-DD HH:MM:SS.ffffff"
        seconds = func.unixepoch(column)  # a third quicker than strftime('%s') over 100,000 rows
    else:
        seconds = cast(func.strftime("%s", column), Integer)
    *changes, (_, last) = zone_offsets
    offset: ColumnElement[int] = _constant(last)
    if changes:
        offset = case(*((column < until, _constant(value)) for until, value in changes), else_=offset)
    return ((seconds + offset) // _constant(DAY_SECONDS)).label("day")


def _constant(value: int) -> ColumnElement[int]:
    """An integer written into the statement (a day's seconds, a zone's offset), not a parameter."""
    return literal_column(str(int(value)), Integer)
