"""`/` Home: the setup guide and the results of the 15-day validation cycle (or 7 / 30 / 90 days: `?days=`).

Everything is rendered on the server: the guide's items with the action for each, the figures
against the previous range, the incremental results against the holdout, and the daily chart as an
SVG with the same numbers in a table beside it. The numbers are the report's
(shop_app/reporting/measurement.py) for the N local days ending today, the range
`GET /api/report?days=N` and `reclaim report --days N` cover: the same figures everywhere. The
per-step and referral figures are /flows' (Home does not ask for them: they read every message
sent in the range).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlencode

from flask import request
from flask.typing import ResponseReturnValue

from admin_ui.auth import app_runtime, current_shop
from admin_ui.layout import render_page
from admin_ui.pages import bp
from shop_app.reporting import setup
from shop_app.reporting.holdout_verdict import verdict
from shop_app.reporting.measurement import DayFigures, measure, parse_range, today_in
from shop_app.reporting.periods import RANGES, range_days
from shop_app.reporting.present import Line, day_label, lines, money, period_label
from shop_app.shopify.shops import load_settings
from shop_app.storage.database import transaction

#: The theme app extension's app embed: extensions/reclaim-push/blocks/reclaim-push.liquid.
APP_EMBED_HANDLE = "reclaim-push"
#: Query parameters of the admin's frame kept on links between pages (App Bridge reads them).
KEPT_PARAMETERS = ("shop", "host", "embedded", "locale")
#: Where each setup item is done: an admin page of the app, or (None) the theme editor.
ACTIONS: dict[str, tuple[str, str | None]] = {
    setup.EMAIL: ("Review email", "/settings/channels"),
    setup.TWILIO: ("Connect Twilio", "/settings/channels"),
    setup.WHATSAPP_TEMPLATES: ("Manage WhatsApp templates", "/settings/channels"),
    setup.PUSH_EMBED: ("Enable in the theme editor", None),
    setup.WINDOWS: ("Review delivery windows", "/settings/windows"),
    setup.PRIME_INCENTIVE: ("Choose the Prime incentive", "/flows/recovery"),
}


@bp.get("/")
def home() -> ResponseReturnValue:
    days = range_days(request.args.get("days"))
    rt = app_runtime()
    shop = current_shop()
    now = datetime.now(UTC)
    with transaction(rt.sessions) as session:
        # Home shows no per-step or referral figure (/flows does): their queries are not run.
        report = measure(session, shop, *parse_range(today_in(shop, now), days=days), now, steps=False, referrals=False)
        holdout = load_settings(session, shop).measurement.holdout_percent
        guide = setup.setup_guide(session, shop, rt.settings)
    figures = lines(report)
    return render_page(
        "home.html",
        title="Home",
        guide=[_with_action(item, shop.domain, rt.settings.shopify_api_key) for item in guide],
        report=report,
        days=days,
        lines=figures,
        flows_href=_link("/flows"),
        incremental=verdict(report, holdout, shop.installed_at, now),
        ranges=[(n, _link("/", days=n), n == days) for n in RANGES],
        periods=(
            period_label(report.period.first_day, report.period.last_day),
            period_label(report.previous_period.first_day, report.previous_period.last_day),
        ),
        key_figures=_key_figures(figures, report.currency),
        chart=chart(report.daily),
        table=[_day_row(day, report.currency) for day in report.daily],
    )


def theme_editor_url(shop_domain: str, api_key: str) -> str:
    """The theme editor with the app embed ready to switch on (Shopify's app-embed deep link)."""
    query = urlencode({"context": "apps", "activateAppId": f"{api_key}/{APP_EMBED_HANDLE}"}, safe="/")
    return f"https://{shop_domain}/admin/themes/current/editor?{query}"


@dataclass(frozen=True)
class GuideItem:
    item: setup.SetupItem
    action: str
    href: str
    #: Outside the app's frame (the theme editor): opened in the admin's top window.
    external: bool


def _with_action(item: setup.SetupItem, shop_domain: str, api_key: str) -> GuideItem:
    label, path = ACTIONS[item.key]
    if path is None:
        return GuideItem(item, label, theme_editor_url(shop_domain, api_key), external=True)
    return GuideItem(item, label, _link(path), external=False)


def _link(path: str, **extra: int) -> str:
    """`path` with the frame's parameters kept (shop, host…), so App Bridge loads on the next page."""
    kept = [(k, v) for k in KEPT_PARAMETERS if (v := request.args.get(k))]
    query = urlencode(kept + [(k, str(v)) for k, v in extra.items()])
    return f"{path}?{query}" if query else path


#: The four figures a merchant looks at first (keys of present.lines).
KEY_FIGURES = ("abandoned", "recovered_orders", "recovered_revenue", "recovery_rate")


def _key_figures(figures: list[Line], currency: str) -> list[tuple[str, str, str]]:
    """The four numbers a merchant looks at first: (label, value, the previous range's)."""
    by_key = {line.key: line for line in figures}
    shown = []
    for key in KEY_FIGURES:
        line = by_key[key]
        unit = f" {currency}" if key == "recovered_revenue" else ""
        label = line.label.split(" (")[0]
        shown.append((label, line.current + unit, line.previous + unit))
    return shown


def _day_row(day: DayFigures, currency: str) -> dict[str, str]:
    return {
        "date": day.day.isoformat(),
        "label": day_label(day.day),
        "abandoned": f"{day.abandoned:,}",
        "recovered": f"{day.recovered_orders:,}",
        "revenue": f"{money(day.recovered_revenue)} {currency}",
    }


# --- the chart ---------------------------------------------------------------------------------
WIDTH, HEIGHT = 720, 240
LEFT, RIGHT, TOP, BOTTOM = 44, 8, 28, 24


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class Slot:
    """One day: its two bars (abandoned, recovered), and its axis label when it has one."""

    title: str
    abandoned: Bar
    recovered: Bar
    label: str | None
    label_x: float


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    plot_left: int
    plot_right: int
    baseline: float
    ticks: list[tuple[float, str]]  # (y, value)
    slots: list[Slot]
    summary: str


def chart(series: tuple[DayFigures, ...]) -> Chart:
    """Abandoned checkouts and recovered orders per day, as bars on one scale."""
    top = nice_top(max([d.abandoned for d in series] + [d.recovered_orders for d in series] + [0]))
    plot_h = HEIGHT - TOP - BOTTOM
    plot_w = WIDTH - LEFT - RIGHT
    slot_w = plot_w / max(len(series), 1)
    every = math.ceil(len(series) / 10) or 1
    baseline = TOP + plot_h

    def bar(value: int, offset: float) -> Bar:
        height = plot_h * value / top
        return Bar(round(offset, 2), round(baseline - height, 2), round(slot_w * 0.4, 2), round(height, 2))

    slots = []
    for n, day in enumerate(series):
        x = LEFT + n * slot_w
        title = f"{day_label(day.day)}: {day.abandoned:,} abandoned, {day.recovered_orders:,} recovered"
        label = day_label(day.day) if n % every == 0 else None
        slots.append(
            Slot(
                title,
                bar(day.abandoned, x + slot_w * 0.1),
                bar(day.recovered_orders, x + slot_w * 0.5),
                label,
                round(x + slot_w / 2, 2),
            )
        )
    step = tick_step(top)
    ticks = [(round(baseline - plot_h * v / top, 2), f"{v:,}") for v in range(0, top + 1, step)]
    total_a = sum(d.abandoned for d in series)
    total_r = sum(d.recovered_orders for d in series)
    summary = f"{len(series)} days: {total_a:,} abandoned checkouts and {total_r:,} recovered orders in all."
    return Chart(WIDTH, HEIGHT, LEFT, WIDTH - RIGHT, baseline, ticks, slots, summary)


def tick_step(top: int) -> int:
    """The step between the axis's labelled values: 1, 2 or 5 × 10ⁿ, about four of them."""
    raw = max(top / 4, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    return next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)


def nice_top(largest: int) -> int:
    """The top of the scale: the smallest multiple of the tick step that holds `largest` (at least 1)."""
    largest = max(largest, 1)
    step = tick_step(largest)
    return math.ceil(largest / step) * step
