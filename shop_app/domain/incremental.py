"""Incremental results (issue 12, product.md §8): what the messages *caused*, measured against the
holdout's control group, with a 95 % interval.

Attributed results (domain/attribution.py) credit every recovered order to a message, which
overstates what the messages caused: some of those people would have come back anyway. The holdout
group says how many: its journeys are planned like the others but never send.

**When a journey converts** (the same rule for a treated and a control journey, so the difference
is fair): the journey's *anchor* is when its first message was planned to go (the earliest `due_at`
of its messages: for a control journey, when its first message would have gone; a treated journey
is measured from the same planned moment, not from when the send happened). The journey converts
when, at or after its anchor,

- its own checkout is paid (an order with the journey's checkout token), or
- the same person (customer id, email or phone) orders within `attribution_days` of the anchor;

an order refunded in full does not count (a cancelled paid order is refunded; the order row has no
other mark of cancellation, so a refund is what both groups are judged by). An order before the
anchor converts neither group: nothing could have been sent yet. Unlike attribution, one order may
convert two journeys of the same person; it does so alike in both groups.

**The estimate**: with `x_t` of `n_t` treated and `x_c` of `n_c` control journeys converted, the
lift is `d = x_t/n_t − x_c/n_c`; incremental orders are `d × n_t` (what the treated journeys gained
over what they would have done unmessaged), and incremental revenue is those orders at the average
attributed order's value (recovered revenue ÷ recovered orders).

**The interval**: Newcombe's hybrid score interval for a difference of two independent proportions
(Newcombe 1998, method 10): each proportion's Wilson score interval (l, u), then

    low  = d − √((p_t − l_t)² + (u_c − p_c)²)
    high = d + √((u_t − p_t)² + (p_c − l_c)²)

with z = 1.959964 (95 %). Unlike the Wald interval it stays inside [−1, 1] and behaves with small
groups and rates near 0, as a 10 % holdout of a small shop's abandonments has. The result is
*conclusive* when the interval leaves out 0.

Pure: standard library only; every time is passed in.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

#: The normal quantile of a two-sided 95 % interval.
Z95 = 1.959963984540054
CENT = Decimal("0.01")


def converts(anchor: datetime, ordered_at: datetime, *, same_checkout: bool, same_person: bool, days: int) -> bool:
    """Whether an order placed at `ordered_at` converts a journey anchored at `anchor` (see the
    module's docstring). The report's query (reporting/measurement.py) asks the same in SQL."""
    if ordered_at < anchor:
        return False
    return same_checkout or (same_person and ordered_at <= anchor + timedelta(days=days))


def conversion_days(anchor: datetime, orders: Iterable[tuple[datetime, bool]], most: int) -> int | None:
    """The fewest whole `attribution_days` under which a journey anchored at `anchor` converts, from
    its candidate orders (when each was placed, and whether it pays the journey's own checkout; the
    others are the same person's): 0 when its own checkout is paid at or after the anchor (any window
    converts it), else the days from the anchor to the first same-person order, rounded up; None when
    nothing converts it within `most` days. So `converts(anchor, o, …, days=d)` holds for one of the
    orders exactly when the result is not None and ≤ d, for every d from 1 to `most`: the journeys
    keep it (recovery/conversion.py) and the report counts `conversion_days <= d` in SQL."""
    fewest: int | None = None
    for ordered_at, same_checkout in orders:
        if ordered_at < anchor:
            continue
        days = 0 if same_checkout else -((anchor - ordered_at) // timedelta(days=1))  # rounded up, exactly
        if days <= most and (fewest is None or days < fewest):
            fewest = days
    return fewest


def wilson(successes: int, trials: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a proportion `successes / trials` (trials > 0)."""
    if not 0 <= successes <= trials or trials <= 0:
        raise ValueError(f"no proportion {successes}/{trials}")
    n, z2 = float(trials), z * z
    center = (successes + z2 / 2) / (n + z2)
    half = z * math.sqrt(successes * (trials - successes) / n + z2 / 4) / (n + z2)
    return max(0.0, center - half), min(1.0, center + half)


@dataclass(frozen=True)
class Difference:
    """`treated rate − control rate` with its 95 % interval."""

    value: float
    low: float
    high: float

    @property
    def conclusive(self) -> bool:
        """The interval leaves out 0: the messages made a difference (up or down)."""
        return self.low > 0 or self.high < 0


def difference(treated: int, treated_n: int, control: int, control_n: int, z: float = Z95) -> Difference:
    """Newcombe's hybrid score interval (method 10) of `treated/treated_n − control/control_n`."""
    p_t, p_c = treated / treated_n, control / control_n
    l_t, u_t = wilson(treated, treated_n, z)
    l_c, u_c = wilson(control, control_n, z)
    d = p_t - p_c
    low = d - math.sqrt((p_t - l_t) ** 2 + (u_c - p_c) ** 2)
    high = d + math.sqrt((u_t - p_t) ** 2 + (p_c - l_c) ** 2)
    return Difference(d, max(-1.0, low), min(1.0, high))


@dataclass(frozen=True)
class Incremental:
    """What the messages caused in a range: orders (fractional: an estimate), revenue, the interval."""

    orders: float
    revenue: Decimal
    rate_low: float
    rate_high: float
    conclusive: bool


def incremental(
    treated: int,
    treated_n: int,
    control: int,
    control_n: int,
    recovered_orders: int,
    recovered_revenue: Decimal,
) -> Incremental | None:
    """The incremental results, or None without a treated or a control journey to compare.
    `recovered_orders`/`recovered_revenue` are the attributed ones: their average prices an order."""
    if treated_n <= 0 or control_n <= 0:
        return None
    lift = difference(treated, treated_n, control, control_n)
    orders = treated - Fraction(control * treated_n, control_n)  # (x_t/n_t − x_c/n_c) × n_t, exactly
    average = Fraction(recovered_revenue) / recovered_orders if recovered_orders else Fraction(0)
    value = orders * average
    revenue = (Decimal(value.numerator) / Decimal(value.denominator)).quantize(CENT, rounding=ROUND_HALF_UP)
    return Incremental(float(orders), revenue, lift.low, lift.high, lift.conclusive)
