"""The cycle's figures as a merchant reads them: labels, formatted values and the change against the
previous window. The admin's Home page and `reclaim report` print the same lines."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from shop_app.reporting.cycle import Cycle, Figures, stage_channel_rank
from shop_app.reporting.measurement import Measurement, to_json
from shop_app.reporting.referral import ReferralResults

STAGES = {"first": "First reminder", "whatsapp": "WhatsApp step", "prime": "Prime"}
CHANNELS = {"email": "email", "push": "push", "sms": "SMS", "whatsapp": "WhatsApp"}


@dataclass(frozen=True)
class Line:
    key: str
    label: str
    current: str
    previous: str
    #: "+20 %", "−5 %", "+2.5 pts", "new", or "" when there is nothing to compare.
    change: str
    #: A breakdown of the line above it (messages per stage and channel).
    detail: bool = False


def lines(report: Cycle) -> list[Line]:
    """Every figure of the report, current against previous, in reading order."""
    cur, prev = report.current, report.previous
    out = [
        _count("abandoned", "Abandoned checkouts", cur.abandoned, prev.abandoned),
        _count("reachable", "Reachable (a message planned)", cur.reachable, prev.reachable),
        Line(
            "journeys",
            "Journeys now active / converted / stopped",
            _states(cur),
            _states(prev),
            "",
        ),
        _count("messages_sent", "Messages sent", cur.messages_sent, prev.messages_sent),
    ]
    for step, channel in _pairs(cur, prev):
        label = f"{STAGES.get(step, step)} by {CHANNELS.get(channel, channel)}"
        line = _count(f"sent.{step}.{channel}", label, _sent(cur, step, channel), _sent(prev, step, channel))
        out.append(Line(line.key, line.label, line.current, line.previous, line.change, detail=True))
    out += [
        _count("clicks", "Clicks", cur.clicks, prev.clicks),
        _count("clicked_messages", "Messages clicked", cur.clicked_messages, prev.clicked_messages),
        _count("recovered_orders", "Recovered orders", cur.recovered_orders, prev.recovered_orders),
        Line(
            "recovered_revenue",
            f"Recovered revenue ({report.currency})",
            money(cur.recovered_revenue),
            money(prev.recovered_revenue),
            _relative(cur.recovered_revenue, prev.recovered_revenue),
        ),
        Line(
            "recovery_rate",
            "Recovery rate (recovered ÷ abandoned)",
            percent(cur.recovery_rate),
            percent(prev.recovery_rate),
            _points(cur.recovery_rate, prev.recovery_rate),
        ),
    ]
    return out


def money(value: Decimal) -> str:
    return f"{value:,.2f}"


def percent(rate: Decimal | None) -> str:
    return "–" if rate is None else f"{rate * 100:.1f} %"


def day_label(day: date) -> str:
    """ "2 Mar" """
    return f"{day.day} {day:%b}"


def period_label(first: date, last: date) -> str:
    """ "2 Mar – 16 Mar 2026" (the year once when both days share it)."""
    start = day_label(first) if first.year == last.year else f"{day_label(first)} {first.year}"
    return f"{start} – {day_label(last)} {last.year}"


def text_report(report: Cycle) -> str:
    """`reclaim report`: the comparison, then the days."""
    cur, prev = report.current_period, report.previous_period
    head = [
        f"{report.shop_domain}: {report.days} days, {period_label(cur.first_day, cur.last_day)} ({report.timezone}),",
        f"against the {report.days} days before ({period_label(prev.first_day, prev.last_day)})",
        "",
        f"{'':44}{'current':>12}{'previous':>12}{'change':>12}",
    ]
    rows = [
        f"{('  ' if line.detail else '') + line.label:44}{line.current:>12}{line.previous:>12}{line.change:>12}"
        for line in lines(report)
    ]
    days = [
        "",
        f"{'day':10}{'abandoned':>10}{'reachable':>10}{'sent':>8}{'clicks':>8}{'recovered':>10}{'revenue':>12}",
    ]
    days += [
        f"{d.day.isoformat():10}{d.abandoned:>10}{d.reachable:>10}{d.sent:>8}{d.clicks:>8}"
        f"{d.recovered_orders:>10}{money(d.recovered_revenue):>12}"
        for d in report.series
    ]
    return "\n".join(head + rows + days)


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
    """`reclaim report`'s Referral Generation block, in the columns of the cycle's."""
    rows = [
        f"{line.label:44}{line.current:>12}{line.previous:>12}{line.change:>12}" for line in referral_lines(results)
    ]
    return "\n".join(["", "Referral Generation", *rows])


def _count(key: str, label: str, current: int, previous: int) -> Line:
    return Line(key, label, f"{current:,}", f"{previous:,}", _relative(Decimal(current), Decimal(previous)))


def _relative(current: Decimal, previous: Decimal) -> str:
    if not previous:
        return "new" if current else ""
    change = (current - previous) / previous * 100
    return f"{change:+.0f} %".replace("-", "−")


def _points(current: Decimal | None, previous: Decimal | None) -> str:
    if current is None or previous is None:
        return ""
    return f"{(current - previous) * 100:+.1f} pts".replace("-", "−")


def _states(figures: Figures) -> str:
    return f"{figures.active:,} / {figures.converted:,} / {figures.stopped:,}"


def _pairs(*windows: Figures) -> list[tuple[str, str]]:
    """Every (stage, channel) that sent in either window, in the flow's order."""
    return sorted({(step, channel) for figures in windows for step, channel, _ in figures.sent}, key=stage_channel_rank)


def _sent(figures: Figures, step: str, channel: str) -> int:
    return next((count for s, c, count in figures.sent if (s, c) == (step, channel)), 0)


def measurement_text(m: Measurement, *, with_referral: bool = True) -> str:
    """`reclaim report`'s results (issue 12): attributed and incremental, for the range's journeys; the
    referral flow's figures last unless `with_referral` is false (the cycle's referral block follows)."""
    doc = to_json(m)
    cur, prev, inc, cc = doc, doc["previous"], doc["incremental"], m.currency

    def row(label: str, current: object, previous: object = "") -> str:
        return f"{label:44}{current!s:>12}{previous!s:>12}".rstrip()

    head = [
        "",
        f"Results: journeys abandoned {period_label(m.period.first_day, m.period.last_day)} ({m.timezone}), "
        f"against {period_label(m.previous_period.first_day, m.previous_period.last_day)}",
        f"{'':44}{'current':>12}{'previous':>12}",
        row("Journeys abandoned in the range", f"{cur['abandoned']:,}", f"{prev['abandoned']:,}"),
        row("Journeys reachable (a message planned)", f"{cur['reachable']:,}"),
        row("Journeys treated / control", f"{cur['journeys']['treated']:,} / {cur['journeys']['control']:,}"),
        row("Orders credited to a journey", f"{cur['recovered']['orders']:,}", f"{prev['recovered']['orders']:,}"),
        row(
            f"Revenue credited ({cc})",
            _money_text(cur["recovered"]["revenue"]),
            _money_text(prev["recovered"]["revenue"]),
        ),  # fmt: skip
        row("Treated journeys recovered (rate)", _share(cur["recovery_rate"]), _share(prev["recovery_rate"])),
        row("Control journeys converted (rate)", _share(cur["control_conversion_rate"])),
    ]
    if inc["orders"] is None:
        head.append("Incremental results: no control journey in the range to compare with")
    else:
        verdict = "conclusive" if inc["conclusive"] else "not conclusive"
        head += [
            row("Incremental orders", f"{inc['orders']:.2f}"),
            row(f"Incremental revenue ({cc})", _money_text(inc["revenue"])),
            f"{'Incremental rate, 95 % interval':44}{_signed(inc['rate_low'])} … {_signed(inc['rate_high'])}"
            f" ({verdict})",
        ]
    steps, days = _measurement_tables(doc)
    referral = doc["referral"]
    tail = ["", "Referral Generation: off"] if with_referral else []
    if referral is not None and with_referral:
        tail = [
            "",
            "Referral Generation, the range",
            row("Invites sent", f"{referral['invites_sent']:,}"),
            row("Codes redeemed", f"{referral['codes_redeemed']:,}"),
            row("Orders referred", f"{referral['referred_orders']:,}"),
            row(f"Revenue referred ({cc})", _money_text(referral["referred_revenue"])),
            row("Rewards issued to advocates", f"{referral['rewards_issued']:,}"),
        ]
    return "\n".join(head + steps + days + tail)


def _measurement_tables(doc: dict[str, Any]) -> tuple[list[str], list[str]]:
    """The results' two tables: per flow, step and channel, and per day abandoned."""
    steps = [
        "",
        f"  {'flow, step, channel':26}{'sent':>8}{'delivered':>10}{'clicked':>8}{'recovered':>10}{'revenue':>12}",
    ]
    steps += [
        f"  {s['flow'] + ' ' + s['step'] + ' ' + s['channel']:26}"
        f"{s['sent']:>8}{s['delivered']:>10}{s['clicked']:>8}{s['recovered_orders']:>10}"
        f"{_money_text(s['recovered_revenue']):>12}"
        for s in doc["by_step"]
    ]
    days = ["", f"  {'day abandoned':14}{'abandoned':>10}{'recovered':>10}{'revenue':>12}"]
    days += [
        f"  {d['date']:14}{d['abandoned']:>10}{d['recovered_orders']:>10}{_money_text(d['recovered_revenue']):>12}"
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
        f"recovered {doc['recovered']['orders']} order(s), {_money_text(doc['recovered']['revenue'])} {m.currency}, "
        f"recovery rate {_share(doc['recovery_rate'])}, control group {_share(doc['control_conversion_rate'])}",
    ]
    if inc["orders"] is None:
        lines.append("incremental: no control journey (holdout group) in the range to compare with")
    else:
        verdict = "conclusive" if inc["conclusive"] else "not conclusive"
        lines.append(
            f"incremental {inc['orders']:.2f} orders, {_money_text(inc['revenue'])} {m.currency}, "
            f"rate {_signed(inc['rate_low'])} … {_signed(inc['rate_high'])} ({verdict})"
        )
    return lines


def _money_text(amount: str) -> str:
    return money(Decimal(amount))


def _share(rate: float | None) -> str:
    return "–" if rate is None else f"{rate * 100:.1f} %"


def _signed(rate: float) -> str:
    return f"{rate * 100:+.1f} %".replace("-", "−")
