"""`/` Home: the setup guide and the results of the validation cycle, rendered on the server for the
signed-in shop: the same figures as `GET /api/report?days=N` (hand-computed here), and the incremental
card's words when there is no control group, when the effect is not conclusive yet, and when it is."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html import unescape
from zoneinfo import ZoneInfo

import pytest

from admin_ui.pages.home import chart, nice_top, tick_step
from shop_app.channels.accounts import save_twilio
from shop_app.domain.holdout import REASON as HOLDOUT
from shop_app.reporting.measurement import DayFigures
from shop_app.shopify.shops import get_shop, save_settings
from shop_app.storage.database import transaction
from tests.admin_ui.conftest import SHOP_A, SHOP_B
from tests.reporting.rows import Rows
from tests.reporting.test_setup import ACCOUNT
from tests.support import ShopifyStore

BROWSER = {"Accept": "text/html"}


def page(client, sign_in, query: str = "", shop: str = SHOP_A) -> str:
    response = client.get(f"/?shop={shop}&id_token={sign_in(shop)}{query}", headers=BROWSER)
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def cells(html: str, attribute: str, value: str) -> list[str]:
    """The texts of the cells of the table row with `attribute="value"`."""
    row = re.search(rf'<s-table-row {attribute}="{re.escape(value)}">(.*?)</s-table-row>', html, re.S)
    assert row, f"no row {attribute}={value}"
    texts = re.findall(r"<s-table-cell>(.*?)</s-table-cell>", row.group(1), re.S)
    return [unescape(re.sub(r"<[^>]+>", "", t)).strip() for t in texts]


def ago(**delta) -> str:
    return (datetime.now(UTC) - timedelta(**delta)).isoformat()


def add_rows(rt, domain: str, build) -> None:
    with transaction(rt.sessions) as session:
        build(Rows(session, get_shop(session, domain)))


def api(client, sign_in, days: int = 15, shop: str = SHOP_A) -> dict:
    """`GET /api/report?days=N`: the document Home must agree with."""
    response = client.get(f"/api/report?days={days}", headers={"Authorization": f"Bearer {sign_in(shop)}"})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def treated(rows: Rows, days_ago: int, step: str = "first", channel: str = "email", **journey) -> tuple:
    """A messaged journey abandoned `days_ago` days ago, its message sent an hour later."""
    j = rows.journey(ago(days=days_ago), **journey)
    return j, rows.message(j, step, channel, status="sent", sent_at=ago(days=days_ago, hours=-1))


def control(rows: Rows, days_ago: int, **journey):
    """A holdout journey: its first message skipped an hour after the abandonment."""
    j = rows.journey(ago(days=days_ago), holdout=True, **journey)
    rows.message(j, "first", "email", status="skipped", due_at=ago(days=days_ago, hours=-1), reason=HOLDOUT)
    return j


def story(rows: Rows) -> None:
    """Six journeys abandoned in the last 15 days (four treated, two control), one in the 15 days before.

    T1 pays its own checkout after its email: credited 80.00 to the email. T2's email address orders
    two days after its email: credited 20.00. T3 pays its checkout after the SMS, then is refunded in
    full: its credit is removed (and it does not convert). T4 gets an email and nothing else. Control
    C1 pays its own checkout after its first message would have gone; C2 does nothing. P1 (20 days
    ago) is credited 50.00. So: 6 abandoned (1 before), 2 recovered orders, 100.00 EUR (1, 50.00
    before), recovery rate 2 of 4 treated (1 of 1 before), control 1 of 2: no measurable effect.
    """
    t1, t1_email = treated(rows, 3, token="home-t1")
    rows.credit(rows.order(ago(days=3, hours=-2), "80.00", checkout_token="home-t1"), t1, t1_email)
    t2, t2_email = treated(rows, 4, token="home-t2", email="t2@example.com")
    rows.credit(rows.order(ago(days=2), "20.00", email="t2@example.com"), t2, t2_email)
    t3, t3_sms = treated(rows, 5, "prime", "sms", token="home-t3")
    refunded = rows.order(ago(days=5, hours=-3), "40.00", checkout_token="home-t3", refunded="40.00")
    rows.credit(refunded, t3, t3_sms, status="removed")
    treated(rows, 6, token="home-t4")
    control(rows, 3, token="home-c1")
    rows.order(ago(days=3, hours=-5), "55.00", checkout_token="home-c1")
    control(rows, 5, token="home-c2")
    p1, p1_email = treated(rows, 20, token="home-p1")
    rows.credit(rows.order(ago(days=20, hours=-2), "50.00", checkout_token="home-p1"), p1, p1_email)


@pytest.fixture
def two_shops(rt, client, store):
    """Shop A (the `store` fixture, Europe/Madrid, EUR) and shop B, both installed."""
    return store, ShopifyStore.install(rt, client, SHOP_B)


def points(rate: float) -> str:
    return f"{rate * 100:+.1f}".replace("-", "−")


def test_home_shows_the_reports_figures_for_its_range(rt, client, sign_in, two_shops):
    add_rows(rt, SHOP_A, story)
    doc = api(client, sign_in)
    # The hand-computed figures (story's docstring) are the report's…
    assert (doc["abandoned"], doc["reachable"], doc["journeys"]) == (6, 6, {"treated": 4, "control": 2})
    assert (doc["recovered"], doc["recovery_rate"]) == ({"orders": 2, "revenue": "100.00"}, 0.5)
    assert doc["previous"] == {"abandoned": 1, "recovered": {"orders": 1, "revenue": "50.00"}, "recovery_rate": 1.0}
    assert doc["control_conversion_rate"] == 0.5 and doc["incremental"]["orders"] == 0.0
    # …and Home shows exactly them, against the 15 days before.
    html = page(client, sign_in)
    assert cells(html, "data-figure", "abandoned") == ["Abandoned checkouts", "6", "1", "+500 %"]
    assert cells(html, "data-figure", "reachable") == ["Reachable (a message planned)", "6", "1", "+500 %"]
    assert cells(html, "data-figure", "journeys") == ["Journeys treated / control (held out)", "4 / 2", "1 / 0", ""]
    assert cells(html, "data-figure", "recovered_orders") == ["Recovered orders", "2", "1", "+100 %"]
    assert cells(html, "data-figure", "recovered_revenue") == ["Recovered revenue (EUR)", "100.00", "50.00", "+100 %"]
    assert cells(html, "data-figure", "recovery_rate") == [
        "Recovery rate (recovered ÷ treated journeys)", "50.0 %", "100.0 %", "−50.0 pts"
    ]  # fmt: skip
    assert key_figures(html) == [
        ("Abandoned checkouts", "6", "1"),
        ("Recovered orders", "2", "1"),
        ("Recovered revenue", "100.00 EUR", "50.00 EUR"),
        ("Recovery rate", "50.0 %", "100.0 %"),
    ]
    # The days are the report's days, and the chart draws the same numbers.
    for day in doc["daily"]:
        shown = cells(html, "data-day", day["date"])
        assert shown[1:] == [str(day["abandoned"]), str(day["recovered_orders"]), f"{day['recovered_revenue']} EUR"]
    assert sum(int(cells(html, "data-day", d["date"])[2]) for d in doc["daily"]) == 2
    assert re.search(r'<svg [^>]*role="img" aria-labelledby="daily-chart-title daily-chart-desc"', html)
    assert len(re.findall(r"<s-table-row data-day=", html)) == 15
    assert html.count("<title>") == 1 + 15  # the document's, and one per day's bars
    assert "15 days: 6 abandoned checkouts and 2 recovered orders in all." in html


def test_home_agrees_with_the_report_in_each_range(rt, client, sign_in, two_shops):
    add_rows(rt, SHOP_A, story)
    for days in (7, 30, 90):
        doc, html = api(client, sign_in, days), page(client, sign_in, f"&days={days}")
        assert cells(html, "data-figure", "abandoned")[1:3] == [
            str(doc["abandoned"]),
            str(doc["previous"]["abandoned"]),
        ]
        assert cells(html, "data-figure", "recovered_revenue")[1] == doc["recovered"]["revenue"]
        assert [d["date"] for d in doc["daily"]] == re.findall(r'<s-table-row data-day="([\d-]+)"', html)
    week = cells(page(client, sign_in, "&days=7"), "data-figure", "abandoned")
    assert week == ["Abandoned checkouts", "6", "0", "new"]  # P1, 20 days ago, is in no 7-day range shown
    assert cells(page(client, sign_in, "&days=30"), "data-figure", "abandoned")[1:3] == ["7", "0"]


def key_figures(html: str) -> list[tuple[str, str, str]]:
    found = re.findall(
        r'<s-text color="subdued">([^<]+)</s-text>\s*<s-heading>([^<]+)</s-heading>\s*'
        r'<s-text color="subdued">Before: ([^<]+)</s-text>',
        html,
    )
    return [tuple(unescape(v) for v in f) for f in found]


def incremental(html: str) -> tuple[str, list[tuple[str, str]], list[str]]:
    """The card's state, its (label, value) figures and its sentences."""
    card = re.search(r'<s-section heading="Incremental results: [^"]*" id="incremental" data-state="(\w+)">(.*?)'
                     r"</s-section>", html, re.S)  # fmt: skip
    assert card, "no incremental card"
    figures = re.findall(r'<s-text color="subdued">([^<]+)</s-text>\s*<s-text type="strong">([^<]+)</s-text>',
                         card.group(2))  # fmt: skip
    sentences = re.findall(r"<s-paragraph[^>]*>(.*?)</s-paragraph>", card.group(2), re.S)
    return card.group(1), [(unescape(a), unescape(b)) for a, b in figures], [unescape(t) for t in sentences]


def test_the_incremental_card_says_it_is_not_conclusive_yet(rt, client, sign_in, two_shops):
    add_rows(rt, SHOP_A, story)
    inc = api(client, sign_in)["incremental"]
    assert inc["conclusive"] is False and inc["rate_low"] < 0 < inc["rate_high"]
    state, figures, sentences = incremental(page(client, sign_in))
    assert state == "inconclusive"
    assert figures == [
        ("Treated journeys converted", "50.0 % (2 of 4)"),
        ("Control group converted", "50.0 % (1 of 2)"),
        ("Incremental orders (estimate)", "0.00"),
        ("Incremental revenue (EUR)", "0.00"),
        ("Effect on the conversion rate, 95 % interval", f"{points(inc['rate_low'])} … {points(inc['rate_high'])} pts"),
    ]
    assert sentences[0] == (
        f"Not conclusive yet: the messages' effect on the conversion rate lies between {points(inc['rate_low'])} "
        f"and {points(inc['rate_high'])} percentage points (95 % interval), so it may still be none. The interval "
        "narrows as more journeys come in."
    )


def many(rows: Rows) -> None:
    """Eight treated journeys, each paying its checkout after its email (50.00 each), and eight control
    journeys that never come back: 8/8 against 0/8."""
    for n in range(8):
        j, email = treated(rows, 2 + n % 5, token=f"many-t{n}")
        rows.credit(rows.order(ago(days=2 + n % 5, hours=-2), "50.00", checkout_token=f"many-t{n}"), j, email)
        control(rows, 2 + n % 5, token=f"many-c{n}")


def test_the_incremental_card_says_when_the_effect_is_conclusive(rt, client, sign_in, two_shops):
    add_rows(rt, SHOP_B, many)
    inc = api(client, sign_in, shop=SHOP_B)["incremental"]
    assert inc["conclusive"] is True and inc["rate_low"] > 0 and (inc["orders"], inc["revenue"]) == (8.0, "400.00")
    state, figures, sentences = incremental(page(client, sign_in, shop=SHOP_B))
    assert state == "conclusive"
    assert figures[:2] == [
        ("Treated journeys converted", "100.0 % (8 of 8)"),
        ("Control group converted", "0.0 % (0 of 8)"),
    ]
    assert sentences[0] == (
        f"Conclusive: the messages raised the conversion rate by {points(inc['rate_low'])} to "
        f"{points(inc['rate_high'])} percentage points (95 % interval): about 8.00 orders and 400.00 EUR that would "
        "not have come back without them."
    )
    # Shop A has no journey at all: no control group, and the page says what the holdout setting holds out.
    state, figures, sentences = incremental(page(client, sign_in))
    assert state == "no_control" and figures == [("Treated journeys converted", "–"), ("Control group converted", "–")]


def test_without_a_control_group_the_card_says_so_and_what_the_holdout_is(rt, client, sign_in, two_shops):
    add_rows(rt, SHOP_A, lambda rows: treated(rows, 2))
    assert api(client, sign_in)["incremental"]["orders"] is None
    with transaction(rt.sessions) as session:
        shop = get_shop(session, SHOP_A)
        ends = (shop.installed_at + timedelta(days=15)).astimezone(ZoneInfo("Europe/Madrid")).date()
    state, figures, sentences = incremental(page(client, sign_in))
    assert state == "no_control"
    assert figures == [("Treated journeys converted", "0.0 % (0 of 1)"), ("Control group converted", "–")]
    assert sentences == [
        "No journey abandoned in this range was held out from the messages, so there is no control group to compare "
        "with: the recovered figures count every credited order, also those that would have come back without a "
        "message.",
        "Holdout setting: the default, 10 % of new abandoned checkouts held out during the validation cycle (the "
        f"first 15 days after install, until {ends.day} {ends:%b} {ends.year}), none after it.",
    ]
    with transaction(rt.sessions) as session:
        save_settings(session, get_shop(session, SHOP_A), {"measurement": {"holdout_percent": 0}})
    assert incremental(page(client, sign_in))[2][1] == (
        "Holdout setting: 0 %, no checkout is held out. Set measurement.holdout_percent (1 to 50) to measure the "
        "incremental results."
    )


def test_another_shops_figures_never_show(rt, client, sign_in, two_shops):
    add_rows(rt, SHOP_B, story)
    assert cells(page(client, sign_in), "data-figure", "abandoned")[1:] == ["0", "0", ""]
    assert cells(page(client, sign_in, shop=SHOP_B), "data-figure", "abandoned")[1:] == ["6", "1", "+500 %"]
    # Shop A's token asking for shop B is refused before anything is read.
    response = client.get(f"/?shop={SHOP_B}&id_token={sign_in(SHOP_A)}", headers=BROWSER)
    assert response.status_code == 403 and "Abandoned checkouts" not in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("query", "days"),
    [
        ("&days=7", 7),
        ("&days=30", 30),
        ("&days=90", 90),
        ("", 15),
        ("&days=500", 15),
        ("&days=abc", 15),
        ("&days=", 15),
        ("&days=-7", 15),
        ("&days=7.0", 15),
        ("&days=" + "9" * 5000, 15),
    ],
)
def test_the_range_is_one_of_four_and_anything_else_is_the_15_day_cycle(client, sign_in, two_shops, query, days):
    html = page(client, sign_in, query)
    assert f"the last {days} days" in html
    assert len(re.findall(r"<s-table-row data-day=", html)) == days
    current = re.findall(r'<s-button href="([^"]*)" variant="primary" aria-current="page" data-range="(\d+)"', html)
    assert [int(n) for _, n in current] == [days]
    assert unescape(current[0][0]) == f"/?shop={SHOP_A}&days={days}"  # keeps the frame's shop, drops the token


def test_the_setup_guide_shows_each_items_state_and_action(rt, client, sign_in, two_shops):
    html = page(client, sign_in)
    assert "0 of 6 steps done" in html
    assert re.findall(r'data-setup-item="(\w+)" data-done="(\w+)"', html) == [
        ("email_sender", "false"),
        ("twilio", "false"),
        ("whatsapp_templates", "false"),
        ("push_embed", "false"),
        ("delivery_windows", "false"),
        ("prime_incentive", "false"),
    ]
    api_key = rt.settings.shopify_api_key
    editor = f"https://{SHOP_A}/admin/themes/current/editor?context=apps&amp;activateAppId={api_key}/reclaim-push"
    assert f'<s-button href="{editor}" target="_top" variant="primary">Enable in the theme editor</s-button>' in html
    assert f'href="/settings/channels?shop={SHOP_A}"' in html and f'href="/flows/recovery?shop={SHOP_A}"' in html

    with transaction(rt.sessions) as session:
        shop = get_shop(session, SHOP_A)
        save_twilio(session, rt.box, shop.id, ACCOUNT)
        save_settings(
            session, shop, {"recovery": {"prime": {"incentive": {"type": "free_shipping", "code_mode": "unique"}}}}
        )
    html = page(client, sign_in)
    assert "3 of 6 steps done" in html
    assert 'data-setup-item="twilio" data-done="true"' in html
    assert "Free shipping, 16 h after abandonment, by SMS and WhatsApp." in html
    assert 'data-setup-item="twilio" data-done="true"' not in page(client, sign_in, shop=SHOP_B)


def test_the_chart_scales_to_the_busiest_day():
    series = tuple(
        DayFigures(datetime(2026, 3, d, tzinfo=UTC).date(), abandoned=d, recovered_orders=d // 3) for d in range(1, 8)
    )
    drawn = chart(series)
    assert [value for _, value in drawn.ticks] == ["0", "2", "4", "6", "8"]
    tallest = drawn.slots[-1].abandoned  # 7 of a scale of 8
    assert tallest.height == round((drawn.baseline - 28) * 7 / 8, 2) and tallest.y + tallest.height == drawn.baseline
    assert drawn.slots[0].recovered.height == 0
    assert drawn.slots[2].title == "3 Mar: 3 abandoned, 1 recovered"
    assert [s.label for s in drawn.slots] == ["1 Mar", "2 Mar", "3 Mar", "4 Mar", "5 Mar", "6 Mar", "7 Mar"]
    assert sum(1 for s in chart(series * 13).slots if s.label) == 10  # 91 days: every tenth labelled
    assert chart(()).ticks == [(216.0, "0"), (28.0, "1")]  # the plot runs from y=28 to y=240-24


@pytest.mark.parametrize(
    ("largest", "top", "step"), [(0, 1, 1), (3, 3, 1), (9, 10, 5), (41, 60, 20), (1234, 1500, 500)]
)
def test_the_scale_ends_on_a_round_number(largest, top, step):
    assert (nice_top(largest), tick_step(nice_top(largest))) == (top, step)
