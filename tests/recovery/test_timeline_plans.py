"""A journey's timeline reads its rows by the journey, whatever the planner knows.

SQLite keeps no statistics until ANALYZE, so between an index on (shop_id, …) and one on
journey_id it may take the shop's: with 100,000 messages that walked them all, 90 ms a page
(bench/admin_pages.py's /activity/<id>). Each statement journey_timeline runs is explained on a fresh
SQLite database of the current schema: none may look up a journey's messages, events or discounts by
the shop alone. The database is SQLite whatever DATABASE_URL says: the plan is SQLite's question.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import event

from shop_app.recovery.timeline import journey_timeline
from shop_app.storage.database import make_engine, session_factory, transaction, upgrade
from shop_app.storage.tables import Journey, Shop

CHILDREN = ("messages", "message_events", "discounts")


def test_no_statement_of_the_timeline_finds_a_journeys_rows_by_the_shop_alone(tmp_path):
    url = f"sqlite:///{tmp_path / 'plans.db'}"
    upgrade(url)
    engine = make_engine(url)
    statements: list[tuple[str, object]] = []
    try:
        sessions = session_factory(engine)
        with transaction(sessions) as session:
            shop = Shop(domain="plans.myshopify.com", name="Plans")
            session.add(shop)
            session.flush()
            journey = Journey(shop_id=shop.id, abandoned_at=datetime(2026, 11, 30, 9, tzinfo=UTC))
            session.add(journey)
            session.flush()
            shop_id, journey_id = shop.id, journey.id

        def record(conn, cursor, statement, parameters, context, executemany):  # noqa: ARG001 (SQLAlchemy's signature)
            statements.append((statement, parameters))

        event.listen(engine, "before_cursor_execute", record)
        with transaction(sessions) as session:
            assert journey_timeline(session, shop_id, journey_id) is not None
        event.remove(engine, "before_cursor_execute", record)

        by_shop = []
        with engine.connect() as connection:
            for statement, parameters in statements:
                plan = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
                steps = [row[-1] for row in plan]
                by_shop += [s for s in steps if any(f" {t} " in f" {s} " for t in CHILDREN) and "(shop_id=?)" in s]
        assert len(statements) >= 4, statements  # the journey, its messages, events and discounts
        assert by_shop == []
    finally:
        engine.dispose()
