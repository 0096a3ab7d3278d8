"""`/` Home: the setup guide and the validation cycle, rendered on the server for the signed-in shop."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest

from admin_ui.pages.home import chart, nice_top, tick_step
from shop_app.channels.accounts import save_twilio
from shop_app.reporting.cycle import Day
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


def recent_story(rows: Rows) -> None:
    """Two abandonments in the last 15 days (one recovered for 80.00), one in the 15 days before."""
    recovered = rows.journey(ago(days=2), status="converted", paid_at=ago(days=1), revenue="80.00")
    email = rows.message(recovered, "first", "email", status="sent", sent_at=ago(days=2, minutes=-60))
    rows.click(email, ago(days=2, minutes=-90), clicks=2)
    rows.journey(ago(days=3))
    before = rows.journey(ago(days=20))
    rows.message(before, "prime", "sms", status="sent", sent_at=ago(days=20, minutes=-5))


@pytest.fixture
def two_shops(rt, client, store):
    """Shop A (the `store` fixture, Europe/Madrid, EUR) and shop B, both installed."""
    return store, ShopifyStore.install(rt, client, SHOP_B)


def test_home_shows_the_cycle_of_the_signed_in_shop(rt, client, sign_in, two_shops):
    add_rows(rt, SHOP_A, recent_story)
    html = page(client, sign_in)
    assert cells(html, "data-figure", "abandoned") == ["Abandoned checkouts", "2", "1", "+100 %"]
    assert cells(html, "data-figure", "reachable") == ["Reachable (a message planned)", "1", "1", "+0 %"]
    assert cells(html, "data-figure", "sent.first.email") == ["· First reminder by email", "1", "0", "new"]
    assert cells(html, "data-figure", "sent.prime.sms") == ["· Prime by SMS", "0", "1", "−100 %"]
    assert cells(html, "data-figure", "clicks") == ["Clicks", "2", "0", "new"]
    assert cells(html, "data-figure", "recovered_revenue") == ["Recovered revenue (EUR)", "80.00", "0.00", "new"]
    assert cells(html, "data-figure", "recovery_rate")[1:3] == ["50.0 %", "0.0 %"]
    assert "80.00 EUR" in html and "the last 15 days" in html
    # The chart is drawn on the server, and the same days are in the table beside it.
    assert re.search(r'<svg [^>]*role="img" aria-labelledby="daily-chart-title daily-chart-desc"', html)
    assert len(re.findall(r"<s-table-row data-day=", html)) == 15
    assert html.count("<title>") == 1 + 15  # the document's, and one per day's bars


def test_another_shops_figures_never_show(rt, client, sign_in, two_shops):
    add_rows(rt, SHOP_B, recent_story)
    assert cells(page(client, sign_in), "data-figure", "abandoned")[1:] == ["0", "0", ""]
    assert cells(page(client, sign_in, shop=SHOP_B), "data-figure", "abandoned")[1:] == ["2", "1", "+100 %"]
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
        Day(datetime(2026, 3, d, tzinfo=UTC).date(), abandoned=d, recovered_orders=d // 3) for d in range(1, 8)
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
