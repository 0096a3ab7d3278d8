"""The report's days are the shop's local days (reporting/grouping.local_day, computed by the
database): across a daylight-saving change, in a half-hour time zone, and alike on both databases."""

from __future__ import annotations

import sqlite3
from datetime import date

from sqlalchemy import select

from shop_app.reporting.measurement import measure
from shop_app.shopify.shops import install_shop
from shop_app.storage.database import transaction
from shop_app.storage.tables import Journey, Message, Shop
from tests.reporting.rows import Rows, at

DOMAIN = "days-shop.myshopify.com"


def abandoned_per_day(rt, timezone: str, abandonments: list[str], first: date, last: date) -> dict[date, int]:
    """Install a shop in `timezone`, abandon a checkout at each time, and read the report's daily counts."""
    with transaction(rt.sessions) as session:
        shop = install_shop(session, rt.box, DOMAIN, "shpat_x", timezone=timezone, currency="EUR")
        rows = Rows(session, shop)
        for when in abandonments:
            rows.journey(when)
    with transaction(rt.sessions) as session:
        shop = session.scalars(select(Shop).where(Shop.domain == DOMAIN)).one()
        report = measure(session, shop, first, last, at("2026-04-02T12:00:00+00:00"))
    return {d.day: d.abandoned for d in report.daily}


def test_days_follow_daylight_saving_time(rt):
    """Madrid moves to summer time on 29 March 2026: a day's midnight is 23:00 UTC before, 22:00 UTC after."""
    days = abandoned_per_day(
        rt,
        "Europe/Madrid",
        ["2026-03-28T22:30:00+00:00", "2026-03-29T22:30:00+00:00"],  # 23:30 on the 28th (UTC+1), 00:30 on the 30th
        date(2026, 3, 27),
        date(2026, 4, 2),
    )
    assert (days[date(2026, 3, 28)], days[date(2026, 3, 29)], days[date(2026, 3, 30)]) == (1, 0, 1)


def test_days_of_a_half_hour_time_zone_are_exact(rt):
    days = abandoned_per_day(
        rt,
        "Asia/Kolkata",  # UTC+05:30
        ["2026-03-10T18:20:00+00:00", "2026-03-10T18:40:00+00:00"],  # 23:50 on the 10th, 00:10 on the 11th
        date(2026, 3, 10),
        date(2026, 3, 16),
    )
    assert (days[date(2026, 3, 10)], days[date(2026, 3, 11)]) == (1, 1)


def test_sqlite_unixepoch_agrees_with_strftime_on_stored_times():
    """The day expression uses unixepoch() where SQLite has it (3.38+) and strftime('%s') before;
    both must read the stored "YYYY-MM-DD HH:MM:SS.ffffff" to the same second."""
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
        report = measure(session, shop, date(2026, 3, 2), date(2026, 3, 3), at("2026-03-04T12:00:00+00:00"))
    assert (report.current.abandoned, report.current.reachable) == (2, 2)
