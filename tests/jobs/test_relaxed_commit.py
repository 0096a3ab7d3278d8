"""The record of a sent message commits without waiting for the disk (issue 13: `synchronous_commit`
off for that transaction only, outbox.mark_first_sent), while every other transaction of the send,
the claim first of all, stays synchronous: a database crash can cost the record of a message that
went out (it becomes `unknown`), never the claim that keeps it from going out twice. PostgreSQL's."""

from __future__ import annotations

from sqlalchemy import event

from tests.jobs.test_send_statements import ABANDONED, EMAIL_ONLY, FIRST_DUE, person
from tests.support import postgres_only


def test_only_the_sent_records_commit_without_waiting_for_the_disk(rt, store):
    postgres_only(rt, "synchronous_commit is PostgreSQL's")
    store.set_settings(EMAIL_ONLY)
    for n in (1, 2):
        store.deliver("checkouts/create", store.checkout(f"c{n}", ABANDONED, **person(n)))
    commits: list[tuple[str, list[str]]] = []  # each commit: the setting it ran with, its statements
    statements: list[str] = []

    def on_statement(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    def on_commit(conn):
        setting = conn.exec_driver_sql("SHOW synchronous_commit").scalar()
        commits.append((setting, [s for s in statements if not s.startswith("SHOW")]))
        statements.clear()

    event.listen(rt.engine, "before_cursor_execute", on_statement)
    event.listen(rt.engine, "commit", on_commit)
    try:
        store.tick(FIRST_DUE)
    finally:
        event.remove(rt.engine, "before_cursor_execute", on_statement)
        event.remove(rt.engine, "commit", on_commit)
    sent = [m for m in store.messages() if m["status"] == "sent"]
    assert len(sent) >= 2  # the two first emails (and their push messages when there are any)
    relaxed = [work for setting, work in commits if setting == "off"]
    assert len(relaxed) == len(sent)
    assert all(any("set_config" in s for s in work) for work in relaxed)
    # The claim (outbox.claim_send) is the one UPDATE that sets sending_at.
    claimed = [
        setting
        for setting, work in commits
        if any(s.startswith("UPDATE messages SET") and "sending_at=" in s for s in work)
    ]
    assert claimed == ["on"] * len(sent)  # each claim (queued → sending) committed synchronously
    assert all(setting == "on" for setting, work in commits if not any("set_config" in s for s in work))
