"""The batch send job (issue 13): one RQ job for up to jobs.dispatch.SEND_BATCH messages of one shop,
every row of the group held by this job's id.

Each message still goes the single send job's way (jobs/send.py) and keeps its guarantees: its gates'
outcome in its own transaction, its own guarded claim (`queued → sending`) committed before its
provider call, its own outcome and reason, and a run that breaks goes through `failed` alone while
the others go on. What the batch shares is its reads, every message's facts in one transaction (the
held rows with their journeys, shops, settings and checkouts in one statement), and Shopify: once
every message's gates have spoken, one payment check per shop covers all the batch's recovery
messages (live_check.check_payments), asked just before their sends, then one request per shop
makes the unique discount codes of those found unpaid (live_check.make_codes), each still its own
single-use discount.

While it runs, the job renews a beat in Redis every second (JobQueue.beating). A batch killed half-way
leaves its other rows `queued` for this job, which RQ still calls `started`: the reconciler, seeing
no beat for BEAT_TTL seconds, re-enqueues each of them alone; the one in flight stays `sending` (the
lease makes it `unknown`). No message is sent twice: every claim checks the row's job id.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime

from sqlalchemy.orm import sessionmaker

from jobs import attempts
from jobs.send import Ready, finish, judge
from jobs.send_failures import failed
from shop_app import runtime
from shop_app.adapters.shopify_admin import AdminClient
from shop_app.recovery import gate_facts, live_check, outcomes
from shop_app.recovery.gate_facts import Candidate, Collected
from shop_app.runtime import Runtime
from shop_app.storage.database import transaction

log = logging.getLogger(__name__)


def send_batch(message_ids: list[int], job_id: str, now_iso: str | None = None) -> str:
    """Send each of `message_ids` (held by `job_id`); a count of the outcomes by status. With
    `now_iso` every step acts as of that time; otherwise each send reads the clock when it claims."""
    rt = runtime.current()
    fixed = datetime.fromisoformat(now_iso) if now_iso else None
    clock: Callable[[], datetime] = (lambda: fixed) if fixed else (lambda: datetime.now(UTC))
    batch = _Batch(rt, job_id)
    clients: dict[int, AdminClient] = {}
    with rt.queue.beating(job_id), _one_connection(rt) as on_it:  # the beat: the reconciler's sign it runs
        now = clock()
        facts = batch.collect(on_it, message_ids, now)
        ready = [found for message_id in facts if (found := batch.judge(on_it, message_id, facts, now))]
        ready = batch.reserve(on_it, ready, now)
        try:
            checked = batch.check(ready, now, clients)
            made = batch.record(on_it, ready, batch.codes(ready, checked, clients, now))
            for item in ready:
                batch.finish(on_it, item, checked, made, clients, clock())
        finally:
            for client in clients.values():
                client.close()
    if batch.broken is not None:  # recording a failure failed too (the database is down): RQ keeps the job
        raise batch.broken
    return ", ".join(f"{status} {count}" for status, count in sorted(batch.outcomes.items())) or "nothing to do"


@contextmanager
def _one_connection(rt: Runtime) -> Iterator[Runtime]:
    """`rt` with sessions on one connection for the whole batch: each transaction still its own,
    committed or rolled back alone, without a pool checkout and pre-ping each (two a message before).
    The connection is never idle for longer than one provider call, which its timeouts bound; one
    lost meanwhile is replaced for the provider's answer (outcomes.delivered), and a statement it
    breaks otherwise breaks that message's run alone (recorded by `failed` on a pooled connection)."""
    with rt.engine.connect() as connection:
        yield replace(rt, sessions=sessionmaker(bind=connection, expire_on_commit=False))


class _Batch:
    """The runs of one batch job: each message's outcome counted, a failure recorded alone."""

    def __init__(self, rt: Runtime, job_id: str):
        self.rt, self.job_id = rt, job_id
        self.outcomes: Counter[str] = Counter()
        self.broken: attempts.JobFailed | None = None
        self.seen: dict[int, list[Candidate]] = {}

    def collect(self, rt: Runtime, message_ids: list[int], now: datetime) -> dict[int, Collected | None]:
        """Phase 1a (on `rt`'s sessions): every message's facts, read in one transaction, the held rows in one
        statement (None: no longer held by this job). Facts are kept only once their transaction committed
        (a rollback expires what it loaded). A message whose reads break is recorded alone and the others
        read again; if the rows' read (or the commit) breaks, each message still to read is recorded."""
        facts: dict[int, Collected | None] = {}
        todo = list(message_ids)
        while todo:
            rows, read = None, {}
            try:
                with transaction(rt.sessions) as session:
                    rows = gate_facts.read_held_many(session, todo, self.job_id)
                    for message_id in todo:
                        held = rows.get(message_id)
                        found = gate_facts.collect(rt, session, message_id, self.job_id, now, held) if held else None
                        read[message_id] = found
                facts |= read
                todo = []
            except Exception as error:
                if rows is not None and len(read) < len(todo):  # that message's reads broke: the rest again
                    self._failed(todo.pop(len(read)), now, error)
                else:  # the rows' read or the commit broke: every message still to read
                    for message_id in todo:
                        self._failed(message_id, now, error)
                    todo = []
        return facts

    def judge(self, rt: Runtime, message_id: int, facts: dict[int, Collected | None], now: datetime) -> Ready | None:
        """Phase 1b of one message (on `rt`'s sessions): the gates on its facts, their outcome recorded in a
        transaction of its own; None when that settled it."""
        seen = self.seen[message_id] = []
        try:
            with transaction(rt.sessions) as session:
                found = judge(session, facts[message_id], now, seen)
        except Exception as error:  # this message's run broke: the others go on
            self._failed(message_id, now, error)
            return None
        if isinstance(found, str):
            self._done(message_id, found)
            return None
        return found

    def reserve(self, rt: Runtime, ready: list[Ready], now: datetime) -> list[Ready]:
        """Phase 1c (on `rt`'s sessions): the step codes of the messages the gates let through, reserved
        in one transaction, one statement. If that breaks, each message reserves in a transaction of its
        own, and one whose reservation breaks too is recorded alone."""
        try:
            with transaction(rt.sessions) as session:
                reserved = live_check.reserve_many(session, [item.candidate for item in ready], now)
            return [replace(item, reserved=code) for item, code in zip(ready, reserved, strict=True)]
        except Exception:  # noqa: BLE001 -- each message's own reservation says whose it was
            pass
        kept = []
        for item in ready:
            try:
                with transaction(rt.sessions) as session:
                    kept.append(replace(item, reserved=live_check.reserve(session, item.candidate, now)))
            except Exception as error:
                self._failed(item.candidate.message_id, now, error)
        return kept

    def check(
        self, ready: list[Ready], now: datetime, clients: dict[int, AdminClient]
    ) -> dict[int, live_check.Checked]:
        """One payment check per shop for the messages the gates let through, just before their sends.
        A bug in it breaks each of those messages' runs, each recorded alone."""
        try:
            return live_check.check_payments(self.rt, [item.candidate for item in ready], now, clients)
        except Exception as error:
            for item in ready:
                self._failed(item.candidate.message_id, now, error)
            ready.clear()
            return {}

    def codes(
        self, ready: list[Ready], checked: dict[int, live_check.Checked], clients: dict[int, AdminClient],
        now: datetime,
    ) -> dict[int, live_check.Made]:  # fmt: skip
        """The unique codes of the messages the payment check found unpaid, one request per shop. A bug
        in it breaks each of those messages' runs, each recorded alone."""
        try:
            return live_check.make_codes([(item.candidate, item.reserved) for item in ready], checked, clients, now)
        except Exception as error:
            for item in ready:
                self._failed(item.candidate.message_id, now, error)
            ready.clear()
            return {}

    def record(self, rt: Runtime, ready: list[Ready], made: dict[int, live_check.Made]) -> dict[int, live_check.Made]:
        """The made codes' Shopify ids, recorded in one transaction (on `rt`'s sessions). If that breaks, each
        message's claim records its own, as a single send does."""
        try:
            with transaction(rt.sessions) as session:
                return live_check.record_codes(session, [item.candidate for item in ready], made)
        except Exception as error:  # its class only: a driver's message may quote the statement's values
            log.warning("batch %s: the codes' Shopify ids were not recorded together (%s); each claim records its own",
                        self.job_id, type(error).__name__)  # fmt: skip
            return made

    def finish(
        self, rt: Runtime, item: Ready, checked: dict[int, live_check.Checked], made: dict[int, live_check.Made],
        clients: dict[int, AdminClient], now: datetime,
    ) -> None:  # fmt: skip
        """Phases 2–4 of one message (on `rt`'s sessions), with the batch's answers on its payment and code."""
        candidate = item.candidate
        try:
            answer = live_check.ask(self.rt, candidate, now, item.reserved, checked.get(candidate.message_id),
                                    clients.get(candidate.shop.id), made.get(candidate.message_id))  # fmt: skip
            self._done(candidate.message_id, finish(rt, item, answer, now))
        except Exception as error:  # this message's run broke: the others go on
            self._failed(candidate.message_id, now, error)

    def _done(self, message_id: int, result: str) -> None:
        outcomes.log_outcome(self._candidate(message_id), self.job_id, result)
        self.outcomes[result.partition(":")[0]] += 1

    def _candidate(self, message_id: int) -> Candidate | None:
        seen = self.seen.get(message_id)
        return seen[0] if seen else None

    def _failed(self, message_id: int, now: datetime, error: Exception) -> None:
        try:
            failed(self.rt, message_id, self.job_id, now, error, self._candidate(message_id))
            self.outcomes["broken"] += 1
        except attempts.JobFailed as second:
            self.broken = self.broken or second
            self.outcomes["unrecorded"] += 1
