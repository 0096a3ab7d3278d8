"""The report's figures as a merchant reads them (shop_app/reporting/measurement.py): labels,
formatted values and the change against the previous range. The admin's Home page and
`reclaim report` print the same lines, formatted from `to_json`'s values, so they are the
numbers `GET /api/report` gives; holdout_verdict.py words the incremental results."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from shop_app.reporting.measurement import Measurement, to_json
from shop_app.reporting.referral import ReferralResults

if TYPE_CHECKING:  # holdout_verdict formats with this module's helpers
    from shop_app.reporting.holdout_verdict import Verdict

STAGES = {"first": "First reminder", "whatsapp": "WhatsApp step", "prime": "Prime"}
CHANNELS = {"email": "email", "push": "push", "sms": "SMS", "whatsapp": "WhatsApp"}
COLUMNS = f"{'':44}{'current':>12}{'previous':>12}{'change':>12}"


@dataclass(frozen=True)
class Line:
    key: str
    label: str
    current: str
    previous: str
    #: "+20 %", "−5 %", "+2.5 pts", "new", or "" when there is nothing to compare.
    change: str


@dataclass(frozen=True)
class StepLine:
    """One flow step and channel of the range's journeys: messages sent, delivered, clicked, and the
    orders credited to it (measurement.by_step, as the report document has it)."""

    key: str
    label: str
    sent: str
    delivered: str
    clicked: str
    recovered_orders: str
    recovered_revenue: str


def lines(m: Measurement) -> list[Line]:
    """The range's figures, current against previous, in reading order (keys as in the report document)."""
    doc, cur, prev = to_json(m), m.current, m.previous
    before = doc["previous"]
    return [
        _count("abandoned", "Abandoned checkouts", doc["abandoned"], before["abandoned"]),
        _count("reachable", "Reachable (a message planned)", cur.reachable, prev.reachable),
        Line(
            "journeys",
            "Journeys treated / control (held out)",
            f"{cur.treated:,} / {cur.control:,}",
            f"{prev.treated:,} / {prev.control:,}",
            "",
        ),
        _count("recovered_orders", "Recovered orders", doc["recovered"]["orders"], before["recovered"]["orders"]),
        Line(
            "recovered_revenue",
            f"Recovered revenue ({m.currency})",
            money_text(doc["recovered"]["revenue"]),
            money_text(before["recovered"]["revenue"]),
            _relative(Decimal(doc["recovered"]["revenue"]), Decimal(before["recovered"]["revenue"])),
        ),
        Line(
            "recovery_rate",
            "Recovery rate (recovered ÷ treated journeys)",
            share(doc["recovery_rate"]),
            share(before["recovery_rate"]),
            _points(doc["recovery_rate"], before["recovery_rate"]),
        ),
    ]


def step_lines(m: Measurement) -> list[StepLine]:
    """Every step and channel that sent a message of the range's journeys or was credited an order."""
    return [
        StepLine(
            f"{s['step']}.{s['channel']}",
            f"{STAGES.get(s['step'], s['step'])} by {CHANNELS.get(s['channel'], s['channel'])}",
            f"{s['sent']:,}",
            f"{s['delivered']:,}",
            f"{s['clicked']:,}",
            f"{s['recovered_orders']:,}",
            money_text(s["recovered_revenue"]),
        )
        for s in to_json(m)["by_step"]
    ]


def money(value: Decimal) -> str:
    return f"{value:,.2f}"


def money_text(amount: str) -> str:
    """A report document's amount ("1290.10") as a merchant reads it ("1,290.10")."""
    return money(Decimal(amount))


def share(rate: float | None) -> str:
    """A report document's rate (0.159) as a percentage ("15.9 %"); "–" when there is none."""
    return "–" if rate is None else f"{rate * 100:.1f} %"


def day_label(day: date) -> str:
    """ "2 Mar" """
    return f"{day.day} {day:%b}"


def period_label(first: date, last: date) -> str:
    """ "2 Mar – 16 Mar 2026" (the year once when both days share it)."""
    start = day_label(first) if first.year == last.year else f"{day_label(first)} {first.year}"
    return f"{start} – {day_label(last)} {last.year}"


def referral_lines(results: ReferralResults) -> list[Line]:
    """The Referral Generation flow's figures (reporting/referral.py), current against previous."""
    cur, prev = results.current, results.previous
    return [
        _count("referral.invites_sent", "Referral invites sent", cur.invites_sent, prev.invites_sent),
        _count("referral.codes_redeemed", "Referral codes redeemed", cur.codes_redeemed, prev.codes_redeemed),
        _count("referral.referred_orders", "Referred orders", cur.referred_orders, prev.referred_orders),
        Line(
            "referral.referred_revenue",
            f"Referred revenue ({results.currency})",
            money(cur.referred_revenue),
            money(prev.referred_revenue),
            _relative(cur.referred_revenue, prev.referred_revenue),
        ),
        _count("referral.rewards_issued", "Advocate rewards issued", cur.rewards_issued, prev.rewards_issued),
    ]


def referral_text(results: ReferralResults) -> str:
    """`reclaim report`'s Referral Generation block, current against previous, in the report's columns."""
    return "\n".join(["", "Referral Generation", *(_row(line) for line in referral_lines(results))])


def _row(line: Line) -> str:
    return f"{line.label:44}{line.current:>12}{line.previous:>12}{line.change:>12}".rstrip()


def _count(key: str, label: str, current: int, previous: int) -> Line:
    return Line(key, label, f"{current:,}", f"{previous:,}", _relative(Decimal(current), Decimal(previous)))


def _relative(current: Decimal, previous: Decimal) -> str:
    if not previous:
        return "new" if current else ""
    change = (current - previous) / previous * 100
    return f"{change:+.0f} %".replace("-", "−")


def _points(current: float | None, previous: float | None) -> str:
    if current is None or previous is None:
        return ""
    return f"{(Decimal(str(current)) - Decimal(str(previous))) * 100:+.1f} pts".replace("-", "−")


def measurement_text(m: Measurement, verdict: Verdict, *, with_referral: bool = True) -> str:
    """`reclaim report`: the figures Home shows (current against previous), the incremental results
    in Home's words, then per step and channel and per day abandoned; the referral flow's figures for
    the range last unless `with_referral` is false (the caller prints them against the range before)."""
    doc = to_json(m)
    cur, prev = m.period, m.previous_period
    days = (cur.last_day - cur.first_day).days + 1
    head = [
        f"{m.shop_domain}: checkouts abandoned {period_label(cur.first_day, cur.last_day)} ({m.timezone}),",
        f"against the {days} days before ({period_label(prev.first_day, prev.last_day)})",
        "",
        COLUMNS,
        *(_row(line) for line in lines(m)),
        "",
        f"Incremental results (against the holdout): {verdict.headline}",
        *(f"{label:48}{value:>20}" for label, value in verdict.figures),
        *(textwrap.fill(sentence, 100, initial_indent="  ", subsequent_indent="  ") for sentence in verdict.sentences),
    ]
    steps, daily = _measurement_tables(doc)
    referral = doc["referral"]
    tail = ["", "Referral Generation: off"] if with_referral else []
    if referral is not None and with_referral:
        tail = [
            "",
            "Referral Generation, the range",
            *(
                f"{label:44}{value:>12}"
                for label, value in (
                    ("Invites sent", f"{referral['invites_sent']:,}"),
                    ("Codes redeemed", f"{referral['codes_redeemed']:,}"),
                    ("Orders referred", f"{referral['referred_orders']:,}"),
                    (f"Revenue referred ({m.currency})", money_text(referral["referred_revenue"])),
                    ("Rewards issued to advocates", f"{referral['rewards_issued']:,}"),
                )
            ),
        ]
    return "\n".join(head + steps + daily + tail)


def _measurement_tables(doc: dict[str, Any]) -> tuple[list[str], list[str]]:
    """The results' two tables: per flow, step and channel, and per day abandoned."""
    steps = [
        "",
        f"  {'flow, step, channel':26}{'sent':>8}{'delivered':>10}{'clicked':>8}{'recovered':>10}{'revenue':>12}",
    ]
    steps += [
        f"  {s['flow'] + ' ' + s['step'] + ' ' + s['channel']:26}"
        f"{s['sent']:>8}{s['delivered']:>10}{s['clicked']:>8}{s['recovered_orders']:>10}"
        f"{money_text(s['recovered_revenue']):>12}"
        for s in doc["by_step"]
    ]
    days = ["", f"  {'day abandoned':14}{'abandoned':>10}{'recovered':>10}{'revenue':>12}"]
    days += [
        f"  {d['date']:14}{d['abandoned']:>10}{d['recovered_orders']:>10}{money_text(d['recovered_revenue']):>12}"
        for d in doc["daily"]
    ]
    return steps, days


def measurement_summary(m: Measurement) -> list[str]:
    """A few lines of the results, for the demo's end."""
    doc = to_json(m)
    inc = doc["incremental"]
    lines = [
        f"report {doc['from']} – {doc['to']}: {doc['abandoned']} abandoned, {doc['reachable']} reachable "
        f"({doc['journeys']['treated']} treated, {doc['journeys']['control']} control)",
        f"recovered {doc['recovered']['orders']} order(s), {money_text(doc['recovered']['revenue'])} {m.currency}, "
        f"recovery rate {share(doc['recovery_rate'])}, control group {share(doc['control_conversion_rate'])}",
    ]
    if inc["orders"] is None:
        lines.append("incremental: no control journey (holdout group) in the range to compare with")
    else:
        verdict = "conclusive" if inc["conclusive"] else "not conclusive"
        lines.append(
            f"incremental {inc['orders']:.2f} orders, {money_text(inc['revenue'])} {m.currency}, "
            f"rate {_signed(inc['rate_low'])} … {_signed(inc['rate_high'])} ({verdict})"
        )
    return lines


def _signed(rate: float) -> str:
    return f"{rate * 100:+.1f} %".replace("-", "−")
