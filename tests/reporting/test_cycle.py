"""The validation cycle's read model: what each figure counts, in which window and on which day."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from shop_app.reporting.cycle import Day, Figures, cycle
from shop_app.shopify.shops import install_shop
from shop_app.storage.database import transaction
from shop_app.storage.tables import Journey, Message, Shop
from tests.reporting.rows import Rows, at

DOMAIN = "cycle-shop.myshopify.com"
OTHER = "other-cycle-shop.myshopify.com"
NOW = at("2026-03-16T10:00:00+01:00")  # Madrid: the current 15 days are 2 … 16 March


def install(rt, domain: str = DOMAIN, timezone: str = "Europe/Madrid") -> int:
    with transaction(rt.sessions) as session:
        return install_shop(session, rt.box, domain, "shpat_x", timezone=timezone, currency="EUR").id


def report(rt, shop_id: int, days: int = 15, now: datetime = NOW):
    with transaction(rt.sessions) as session:
        return cycle(session, session.get(Shop, shop_id), days, now)


@pytest.fixture
def shops(rt):
    return install(rt), install(rt, OTHER)


def add(rt, shop_id: int, build) -> None:
    with transaction(rt.sessions) as session:
        build(Rows(session, session.get(Shop, shop_id)))


def test_an_empty_shop_has_zero_figures_and_a_day_for_every_day_of_the_range(rt, shops):
    result = report(rt, shops[0])
    assert result.current == Figures() and result.previous == Figures()
    assert result.current.recovery_rate is None
    assert [d.day for d in result.series] == [date(2026, 3, 2) + timedelta(days=n) for n in range(15)]
    assert all(d == Day(d.day) for d in result.series)
    assert (result.current_period.first_day, result.current_period.last_day) == (date(2026, 3, 2), date(2026, 3, 16))
    assert (result.previous_period.first_day, result.previous_period.last_day) == (date(2026, 2, 15), date(2026, 3, 1))
    assert (result.currency, result.days, result.shop_domain) == ("EUR", 15, DOMAIN)


def story(rows: Rows) -> None:
    """Journeys on both sides of the windows' edges (Madrid midnights), as the docstring of cycle.py defines them."""
    j1 = rows.journey(
        "2026-03-02T00:10:00+01:00", status="converted", paid_at="2026-03-03T09:00:00+01:00", revenue="80.00"
    )
    email = rows.message(j1, "first", "email", status="sent", sent_at="2026-03-02T01:10:00+01:00")
    rows.message(j1, "first", "push", status="sent", sent_at="2026-03-02T01:10:00+01:00")
    rows.message(j1, "prime", "sms", status="skipped")
    rows.click(email, "2026-03-02T02:00:00+01:00", clicks=3)
    rows.click(email, "2026-03-02T02:00:00+01:00", provider="sendgrid")  # SendGrid's own click tracking
    # Abandoned one minute before the window; its email was sent inside it; it paid before we reached it.
    j2 = rows.journey("2026-03-01T23:50:00+01:00", status="converted", paid_at="2026-03-01T23:55:00+01:00")
    rows.message(j2, "first", "email", status="sent", sent_at="2026-03-02T00:50:00+01:00")
    rows.journey("2026-03-10T12:00:00+01:00")  # no message planned: not reachable
    j4 = rows.journey("2026-03-16T09:00:00+01:00", status="stopped")
    rows.message(j4, "whatsapp", "whatsapp", status="cancelled")
    rows.journey("2026-03-05T12:00:00+01:00", flow="referral")  # not the recovery flow
    # The previous window's first minute, and the minute before it.
    j5 = rows.journey(
        "2026-02-15T00:00:00+01:00", status="converted", paid_at="2026-02-16T10:00:00+01:00", revenue="20.00"
    )
    rows.message(j5, "first", "email", status="sent", sent_at="2026-02-15T01:00:00+01:00")
    rows.journey("2026-02-14T23:59:00+01:00", status="converted", paid_at="2026-02-14T23:59:30+01:00", revenue="999.00")


def test_each_figure_counts_what_it_says_in_its_window(rt, shops):
    add(rt, shops[0], story)
    result = report(rt, shops[0])
    assert result.current == Figures(
        abandoned=3,
        reachable=2,
        active=1,
        converted=1,
        stopped=1,
        sent=(("first", "email", 2), ("first", "push", 1)),
        clicks=3,
        clicked_messages=1,
        recovered_orders=1,
        recovered_revenue=Decimal("80.00"),
    )
    assert result.current.messages_sent == 3
    assert result.current.recovery_rate == Decimal(1) / Decimal(3)
    assert result.previous == Figures(
        abandoned=2,
        reachable=2,
        converted=2,
        sent=(("first", "email", 1),),
        recovered_orders=1,
        recovered_revenue=Decimal("20.00"),
    )
    assert result.previous.recovery_rate == Decimal("0.5")


def test_the_daily_series_puts_each_count_on_the_shops_day(rt, shops):
    add(rt, shops[0], story)
    days = {d.day: d for d in report(rt, shops[0]).series}
    assert days[date(2026, 3, 2)] == Day(
        date(2026, 3, 2), abandoned=1, reachable=1, sent=3, clicks=3, clicked_messages=1
    )
    assert days[date(2026, 3, 3)] == Day(date(2026, 3, 3), recovered_orders=1, recovered_revenue=Decimal("80.00"))
    assert days[date(2026, 3, 10)] == Day(date(2026, 3, 10), abandoned=1)
    assert days[date(2026, 3, 16)] == Day(date(2026, 3, 16), abandoned=1, reachable=1)
    assert sum(d.abandoned for d in days.values()) == 3


def test_another_shops_rows_never_count(rt, shops):
    add(rt, shops[1], story)
    assert report(rt, shops[0]).current == Figures()
    assert report(rt, shops[1]).current.abandoned == 3


def test_the_range_moves_both_windows(rt, shops):
    add(rt, shops[0], story)
    week = report(rt, shops[0], days=7)  # 10 … 16 March against 3 … 9 March
    assert (week.current.abandoned, week.current.reachable, week.current.messages_sent) == (2, 1, 0)
    assert (week.previous.abandoned, week.previous.recovered_orders) == (0, 1)
    assert len(week.series) == 7
    quarter = report(rt, shops[0], days=90)
    assert (quarter.current.abandoned, quarter.current.recovered_revenue) == (6, Decimal("1099.00"))
    assert len(quarter.series) == 90


def test_days_follow_daylight_saving_time(rt):
    """Madrid moves to summer time on 29 March 2026: a day's midnight is 23:00 UTC before, 22:00 UTC after."""
    shop_id = install(rt)

    def build(rows: Rows) -> None:
        rows.journey("2026-03-28T22:30:00+00:00")  # 23:30 on the 28th in Madrid (UTC+1)
        rows.journey("2026-03-29T22:30:00+00:00")  # 00:30 on the 30th in Madrid (UTC+2)

    add(rt, shop_id, build)
    days = {d.day: d.abandoned for d in report(rt, shop_id, days=7, now=at("2026-04-02T12:00:00+02:00")).series}
    assert (days[date(2026, 3, 28)], days[date(2026, 3, 29)], days[date(2026, 3, 30)]) == (1, 0, 1)


def test_days_of_a_half_hour_time_zone_are_exact(rt):
    shop_id = install(rt, timezone="Asia/Kolkata")  # UTC+05:30

    def build(rows: Rows) -> None:
        rows.journey("2026-03-10T18:20:00+00:00")  # 23:50 on the 10th in Kolkata
        rows.journey("2026-03-10T18:40:00+00:00")  # 00:10 on the 11th

    add(rt, shop_id, build)
    days = {d.day: d.abandoned for d in report(rt, shop_id, days=7, now=at("2026-03-16T12:00:00+05:30")).series}
    assert (days[date(2026, 3, 10)], days[date(2026, 3, 11)]) == (1, 1)


def test_a_real_journey_through_webhooks_sends_clicks_and_orders_is_counted(store, client, rt):
    """The definitions hold for rows the app itself writes: ingest, send, the /c/ click, the order."""
    now = datetime.now(UTC).replace(microsecond=0)
    abandoned = now - timedelta(hours=3)
    store.deliver("checkouts/create", store.checkout("real-1", abandoned.isoformat()))
    store.tick(abandoned + timedelta(hours=1))  # the first reminder; the WhatsApp step is not due yet
    email = store.message(step="first", channel="email")
    assert email["status"] == "sent", email["reason"]
    [link] = [u for u in _tracked(store, email["body"]) if "/c/" in u]
    assert client.get(link.removeprefix(rt.settings.shopify_app_url)).status_code == 302
    store.deliver("orders/create", store.order("real-1", (now - timedelta(minutes=30)).isoformat()))

    with transaction(rt.sessions) as session:
        shop = session.scalar(select(Shop).where(Shop.domain == store.domain))
        figures = cycle(session, shop, 15, now).current
    assert (figures.abandoned, figures.reachable, figures.converted) == (1, 1, 1)
    assert ("first", "email", 1) in figures.sent
    assert (figures.clicks, figures.clicked_messages) == (1, 1)
    assert (figures.recovered_orders, figures.recovered_revenue) == (1, Decimal("84.90"))


def _tracked(store, body: str) -> list[str]:
    app = store.rt.settings.shopify_app_url
    return [word.strip("()<>\"'") for word in body.split() if word.strip("()<>\"'").startswith(app + "/c/")]


def test_a_range_outside_one_to_366_days_is_refused(rt, shops):
    for bad in (0, 367):
        with pytest.raises(ValueError):
            report(rt, shops[0], days=bad)


def test_sqlite_unixepoch_agrees_with_strftime_on_stored_times():
    """The day expression uses unixepoch() where SQLite has it (3.38+) and strftime('%s') before;
    both must read the stored "YYYY-MM-DD HH:MM:SS.ffffff" to the same second."""
    import sqlite3

    if sqlite3.sqlite_version_info < (3, 38, 0):
        return  # only strftime exists here: nothing to compare
    connection = sqlite3.connect(":memory:")
    for stored in ("2026-03-29 00:59:59.999999", "2026-10-25 01:00:00", "1999-12-31 23:59:59.5"):
        new, old = connection.execute(
            "SELECT unixepoch(?), CAST(strftime('%s', ?) AS INTEGER)", (stored, stored)
        ).fetchone()
        assert new == old, stored


def test_reachable_is_what_the_outbox_planned_through_the_webhook(store):
    """Through the real route and worker: a checkout we can write to counts as reachable (the outbox
    planned its messages and marked the journey); the journeys' `reached` agrees with their messages."""
    store.deliver("checkouts/create", store.checkout("e2e-1", "2026-03-02T19:00:00+01:00"))
    store.deliver("checkouts/create", store.checkout("e2e-2", "2026-03-03T19:00:00+01:00"))
    with transaction(store.rt.sessions) as session:
        shop = session.scalar(select(Shop).where(Shop.domain == store.domain))
        journeys = session.scalars(select(Journey).where(Journey.shop_id == shop.id)).all()
        planned = set(session.scalars(select(Message.journey_id).where(Message.shop_id == shop.id)))
        assert len(journeys) == 2 and {j.id for j in journeys if j.reached} == planned == {j.id for j in journeys}
        shop_id = shop.id
    figures = report(store.rt, shop_id).current
    assert (figures.abandoned, figures.reachable) == (2, 2)
