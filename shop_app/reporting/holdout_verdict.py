"""What the holdout comparison says, in a merchant's words (issue 12: the incremental results).

The treated journeys' conversion against the control group's (domain/incremental.py's rule, as the
report counts it), the incremental orders and revenue, the 95 % interval of the difference of the
two rates, and whether it is conclusive yet (the interval leaves out 0). Without a control group
(or without a treated journey) it says so, and what the holdout setting holds out
(`measurement.holdout_percent`, domain/holdout.py). Home's card and `reclaim report` print it.
Every value is formatted from the report document (`to_json`), as `GET /api/report` gives it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from shop_app.domain.holdout import MAX_PERCENT, VALIDATION_DAYS, VALIDATION_PERCENT
from shop_app.reporting.measurement import RATE_PLACES, Measurement, to_json
from shop_app.reporting.periods import zone
from shop_app.reporting.present import money_text, share

NO_CONTROL, NO_TREATED, INCONCLUSIVE, CONCLUSIVE = "no_control", "no_treated", "inconclusive", "conclusive"
SETTING = f"measurement.holdout_percent (1 to {MAX_PERCENT})"


@dataclass(frozen=True)
class Verdict:
    #: NO_CONTROL, NO_TREATED, INCONCLUSIVE or CONCLUSIVE.
    state: str
    headline: str
    #: (label, value): the two conversion rates, then the estimate and its interval when there is one.
    figures: tuple[tuple[str, str], ...]
    #: What it means, then what the holdout setting is.
    sentences: tuple[str, ...]


def verdict(m: Measurement, holdout_setting: int | None, installed_at: datetime, now: datetime) -> Verdict:
    """The incremental results of `m`; `holdout_setting` is the shop's `measurement.holdout_percent`
    (None: the default), `installed_at` when the shop installed the app (its validation cycle)."""
    doc = to_json(m)
    treated, control = m.current.treated, m.current.control
    treated_rate = round(m.treated_converted / treated, RATE_PLACES) if treated else None
    figures: list[tuple[str, str]] = [
        ("Treated journeys converted", _rate(treated_rate, m.treated_converted, treated)),
        ("Control group converted", _rate(doc["control_conversion_rate"], m.control_converted, control)),
    ]
    setting = _setting(holdout_setting, installed_at, now, m.timezone)
    if not control:
        return Verdict(
            NO_CONTROL,
            "no control group yet",
            tuple(figures),
            (
                "No journey abandoned in this range was held out from the messages, so there is no control "
                "group to compare with: the recovered figures count every credited order, also those that "
                "would have come back without a message.",
                setting,
            ),
        )
    if not treated:
        return Verdict(
            NO_TREATED,
            "no treated journey yet",
            tuple(figures),
            (
                f"Every reachable journey of this range ({control:,}) was held out: none got a message to compare.",
                setting,
            ),
        )
    inc = doc["incremental"]
    low, high = inc["rate_low"], inc["rate_high"]
    figures += [
        ("Incremental orders (estimate)", f"{inc['orders']:,.2f}"),
        (f"Incremental revenue ({m.currency})", money_text(inc["revenue"])),
        ("Effect on the conversion rate, 95 % interval", f"{_points(low)} … {_points(high)} pts"),
    ]
    meaning = _meaning(inc, m.currency)
    if inc["conclusive"]:
        return Verdict(CONCLUSIVE, "conclusive", tuple(figures), (meaning, setting))
    return Verdict(INCONCLUSIVE, "not conclusive yet", tuple(figures), (meaning, setting))


def _meaning(inc: dict[str, Any], currency: str) -> str:
    """What the interval says: not conclusive yet, or conclusive up or down."""
    low, high = inc["rate_low"], inc["rate_high"]
    if not inc["conclusive"]:
        return (
            f"Not conclusive yet: the messages' effect on the conversion rate lies between {_points(low)} and "
            f"{_points(high)} percentage points (95 % interval), so it may still be none. The interval narrows "
            "as more journeys come in."
        )
    if low > 0:
        return (
            f"Conclusive: the messages raised the conversion rate by {_points(low)} to {_points(high)} percentage "
            f"points (95 % interval): about {inc['orders']:,.2f} orders and {money_text(inc['revenue'])} "
            f"{currency} that would not have come back without them."
        )
    return (
        f"Conclusive: treated journeys converted less than the control group, by {_points(-high, sign=False)} "
        f"to {_points(-low, sign=False)} percentage points (95 % interval): review the messages' timing and "
        "content."
    )


def _setting(percent: int | None, installed_at: datetime, now: datetime, timezone: str) -> str:
    """What the holdout setting holds out, now."""
    if percent is None:
        ends = installed_at + timedelta(days=VALIDATION_DAYS)
        day = ends.astimezone(zone(timezone)).date()
        until = f"{day.day} {day:%b} {day.year}"
        cycle = (
            f"Holdout setting: the default, {VALIDATION_PERCENT} % of new abandoned checkouts held out during the "
            f"validation cycle (the first {VALIDATION_DAYS} days after install, until {until})"
        )
        if now < ends:
            return cycle + ", none after it."
        return cycle + f"; none is held out now. Set {SETTING} to keep measuring."
    if percent == 0:
        return f"Holdout setting: 0 %, no checkout is held out. Set {SETTING} to measure the incremental results."
    return f"Holdout setting: {percent} % of new abandoned checkouts are held out from the messages."


def _rate(rate: float | None, converted: int, journeys: int) -> str:
    return "–" if rate is None else f"{share(rate)} ({converted:,} of {journeys:,})"


def _points(rate: float, *, sign: bool = True) -> str:
    """A difference of rates (0.0525) in percentage points: "+5.2" (or "5.2" with `sign` false)."""
    return (f"{rate * 100:+.1f}" if sign else f"{rate * 100:.1f}").replace("-", "−")
