"""The sent messages' indexes hold sent rows only (0028: partial, `sent_at IS NOT NULL`, so a
message's versions before it is sent write no entry there). The report's queries still read them:
EXPLAIN of the statements the report really ran, on PostgreSQL, finds the by-step figures and the
referral invites in one of the two."""

from __future__ import annotations

from sqlalchemy import event

from shop_app.reporting.measurement import measure
from shop_app.shopify.shops import install_shop
from shop_app.storage.database import transaction
from shop_app.storage.tables import Shop
from tests.reporting.rows import Rows
from tests.reporting.test_measurement import FROM, NOW, TO, story
from tests.support import postgres_only


def ran_by_the_report(rt) -> list[tuple[str, object]]:
    with transaction(rt.sessions) as session:
        shop = install_shop(session, rt.box, "sent-indexes.myshopify.com", "shpat_x", timezone="UTC", currency="USD")
        other = install_shop(session, rt.box, "sent-other.myshopify.com", "shpat_x", timezone="UTC", currency="USD")
        story(Rows(session, shop), Rows(session, other))
        shop_id = shop.id
    seen: list[tuple[str, object]] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if "FROM messages" in statement:
            seen.append((statement, parameters))

    event.listen(rt.engine, "before_cursor_execute", record)
    try:
        with transaction(rt.sessions) as session:
            measure(session, session.get_one(Shop, shop_id), FROM, TO, NOW)
    finally:
        event.remove(rt.engine, "before_cursor_execute", record)
    return seen


SENT_INDEXES = ("ix_messages_shop_status_abandoned", "ix_messages_shop_sent")


def plan_of(rt, statement: str, parameters: object) -> str:
    """The statement's plan with the sent indexes the only ones on messages: every other index (the
    constraints' too, with what depends on them) is dropped inside a transaction that is rolled back,
    the table analysed afresh there, and sequential scans priced out. What is tested is that the
    partial indexes can serve the report (its statements imply their predicate); a statement that
    did not would be a Seq Scan. Which index the planner prefers among several on a tiny table, with
    the statistics whatever tests ran before left (in whatever order, on however many xdist workers),
    is not tested: it took the dispatcher's index one run and the unique one another."""
    with rt.engine.connect() as connection:
        cursor = connection.connection.cursor()
        cursor.execute(
            "SELECT c.conname, i.indexrelid::regclass::text FROM pg_index i"
            " LEFT JOIN pg_constraint c ON c.conindid = i.indexrelid AND c.conrelid = i.indrelid"
            " WHERE i.indrelid = 'messages'::regclass"
        )
        for constraint, index in cursor.fetchall():
            if index in SENT_INDEXES:
                continue
            if constraint:  # transactional, as the DROP INDEX: the rollback below restores both
                cursor.execute(f'ALTER TABLE messages DROP CONSTRAINT "{constraint}" CASCADE')
            else:
                cursor.execute(f'DROP INDEX "{index}"')
        cursor.execute("ANALYZE messages")  # this test's rows, not earlier tests'
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + statement, parameters)
        plan = "\n".join(row[0] for row in cursor.fetchall())
        connection.rollback()
    return plan


def test_the_report_reads_the_sent_messages_partial_indexes_on_postgresql(rt):
    postgres_only(rt, "the plans are PostgreSQL's")
    seen = ran_by_the_report(rt)
    by_step = [(s, p) for s, p in seen if "GROUP BY messages.flow, messages.step, messages.channel" in s]
    invites = [(s, p) for s, p in seen if "messages.sent_at >=" in s and "GROUP BY" in s]
    assert len(by_step) == 1 and len(invites) == 1, [s for s, _ in seen]
    # Either sent index (both partial: the statements imply their predicate); on a few rows the planner
    # may take either (ix_messages_shop_status_abandoned covers the by-step figures, index only).
    for statement, parameters in (by_step[0], invites[0]):
        plan = plan_of(rt, statement, parameters)
        assert any(index in plan for index in SENT_INDEXES) and "Seq Scan" not in plan, plan
