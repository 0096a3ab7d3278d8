"""Batched send jobs (issue 13, points 2 and 3), through the real dispatcher, real Redis and a real RQ
worker (the burst worker of `store.drain`): one job per shop-group holding its rows, no result kept,
one payment check per shop per batch in the development Admin API, a paid customer skipped while the
others send, a message that breaks failing alone, and a batch that dies half-way sending nothing twice."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from rq.job import Job
from sqlalchemy import inspect, select, text

import jobs.dispatch
import jobs.send
from jobs.dispatch import dispatch, reconcile
from jobs.send_batch import send_batch
from shop_app.adapters.outgoing import OutboxFileTransport
from shop_app.adapters.queue import BATCH_FUNC, BEAT_TTL, SEND, beat_key
from shop_app.config import SENDING_LEASE_SECONDS
from shop_app.recovery import gate_facts, outbox
from shop_app.storage.database import transaction
from shop_app.storage.tables import Message
from tests.jobs.test_send_statements import ABANDONED as STATEMENTS_ABANDONED
from tests.jobs.test_send_statements import (
    EMAIL_ONLY,
    FIRST_DUE,
    MAX_STATEMENTS,
    MAX_TRANSACTIONS,
    counting,
    person,
)
from tests.support import ShopifyStore

ABANDONED = "2026-03-02T19:00:00+01:00"  # first emails due at 19:00 UTC
DUE = datetime(2026, 3, 2, 19, 0, tzinfo=UTC)
PHONES = ("+34600111222", "+34600333444")


@pytest.fixture
def second(rt, client, admin_api) -> ShopifyStore:
    return ShopifyStore.install(rt, client, "second-shop.myshopify.com", timezone="Europe/Madrid", admin_api=admin_api)


def plan(shop: ShopifyStore, tokens: list[str], **fields) -> None:
    for token in tokens:
        shop.deliver("checkouts/create", shop.checkout(token, ABANDONED, email=f"{token}@example.com", **fields))


def first_steps(shop: ShopifyStore) -> dict[str, dict]:
    """The first step's row of each checkout, by checkout token."""
    return {m["checkout_token"]: m for m in shop.messages(step="first")}


def job_ids(rt) -> dict[int, str | None]:
    with transaction(rt.sessions) as session:
        return dict(session.execute(select(Message.id, Message.job_id)).all())


def send_jobs(rt) -> list[Job]:
    return rt.queue.queues[SEND].get_jobs()


def test_one_job_per_shop_one_payment_check_each_and_no_result_kept(rt, store, second, admin_api):
    plan(store, ["a1", "a2"], phone=PHONES[0])
    plan(store, ["a3"], phone=PHONES[1])
    plan(second, ["b1", "b2"])  # the fixture's customer phone, the same for both
    # Shopify knows orders our webhooks never told us about: a2's by its checkout, and one by
    # the customer who owns a3's phone, placed after a3 was abandoned.
    admin_api.add_order(store.domain, checkout_token="a2", created_at=DUE - timedelta(minutes=30))
    owner = admin_api.add_customer(store.domain, phone=PHONES[1])
    admin_api.add_order(store.domain, customer_id=owner.id, created_at=DUE - timedelta(minutes=20))

    assert dispatch(DUE).dispatched == 5
    batch_jobs = send_jobs(rt)
    assert len(batch_jobs) == 2  # one per shop, not one per message
    held = job_ids(rt)
    by_job = {}
    for job in batch_jobs:
        assert job.func_name == BATCH_FUNC and job.result_ttl == 0 and job.failure_ttl == 86400
        message_ids, job_id, _ = job.args
        assert job_id == job.id and {held[i] for i in message_ids} == {job.id}  # the group's rows hold its id
        by_job[job.id] = set(message_ids)
    shops = [{m["id"] for m in shop.messages(step="first")} for shop in (store, second)]
    assert sorted(by_job.values(), key=len) == sorted(shops, key=len)  # grouped by shop

    store.drain()
    mine, theirs = first_steps(store), first_steps(second)
    assert {t: m["status"] for t, m in {**mine, **theirs}.items()} == {
        "a1": "sent", "a2": "skipped", "a3": "skipped", "b1": "sent", "b2": "sent",
    }  # fmt: skip
    assert mine["a2"]["reason"].startswith("paid: ") and mine["a3"]["reason"].startswith("paid: ")
    assert sorted(m["to"] for m in store.outbox()) == ["a1@example.com", "b1@example.com", "b2@example.com"]
    for shop in (store.domain, second.domain):  # one orders search per shop for its whole batch
        [search] = admin_api.graphql_requests("OrdersForPaymentCheck", shop=shop)
    [phones] = admin_api.graphql_requests("CustomerIdsByPhone", shop=store.domain)
    assert phones.variables["query"] == f'phone:"{PHONES[0]}" OR phone:"{PHONES[1]}"'
    [shared] = admin_api.graphql_requests("CustomerIdsByPhone", shop=second.domain)
    assert shared.variables["query"] == 'phone:"+34600111222"'  # asked once for both checkouts
    assert not any(rt.redis.exists(Job.key_for(job.id)) for job in batch_jobs)  # nothing kept in Redis


def test_a_message_that_breaks_mid_batch_fails_alone(rt, store, monkeypatch):
    plan(store, ["c1", "c2", "c3"])
    real = jobs.send.compose

    def compose(session, settings, candidate, route, code):
        if candidate.cart.token == "c2":
            raise ZeroDivisionError("a template bug")
        return real(session, settings, candidate, route, code)

    monkeypatch.setattr(jobs.send, "compose", compose)
    assert dispatch(DUE).dispatched == 3
    assert len(send_jobs(rt)) == 1
    store.drain()
    rows = first_steps(store)
    assert (rows["c1"]["status"], rows["c3"]["status"]) == ("sent", "sent")
    assert rows["c2"]["status"] == "scheduled" and rows["c2"]["reason"].startswith("attempt 1 of")
    assert job_ids(rt)[rows["c2"]["id"]] is None  # let go for its next attempt
    assert sorted(m["to"] for m in store.outbox()) == ["c1@example.com", "c3@example.com"]


def test_a_message_whose_facts_cannot_be_read_fails_alone_and_the_others_are_read_again(rt, store, monkeypatch):
    """The batch reads every message's facts in one transaction: one message's read breaking rolls it
    back, and the messages after it are read again in a new one."""
    plan(store, ["f1", "f2", "f3"])
    real = gate_facts.collect
    journeys_read = []  # f1's journey as each read found it

    def collect(rt, session, message_id, job_id, now, found=None):
        if found is not None and found.checkout is not None and found.checkout.token == "f1":
            journeys_read.append(found.journey)
        if found is not None and found.checkout is not None and found.checkout.token == "f2":
            session.execute(text("SELECT * FROM no_such_table"))  # breaks the transaction on PostgreSQL too
        return real(rt, session, message_id, job_id, now, found)

    monkeypatch.setattr(gate_facts, "collect", collect)
    assert dispatch(DUE).dispatched == 3
    store.drain()
    rows = first_steps(store)
    assert (rows["f1"]["status"], rows["f3"]["status"]) == ("sent", "sent")
    assert rows["f2"]["status"] == "scheduled" and rows["f2"]["reason"].startswith("attempt 1 of")
    assert sorted(m["to"] for m in store.outbox()) == ["f1@example.com", "f3@example.com"]
    # f1's facts from the rolled-back read were not kept (a rollback expires what it loaded, and a
    # detached, expired object breaks whoever reads it later): f1 was read again, and that read stands.
    assert len(journeys_read) == 2 and inspect(journeys_read[0]).expired_attributes
    assert not inspect(journeys_read[-1]).expired_attributes


def test_when_the_batch_read_breaks_each_message_gets_another_attempt(rt, store, monkeypatch):
    plan(store, ["g1", "g2"])

    def read_held_many(session, message_ids, job_id):
        raise OSError("the database went away")

    monkeypatch.setattr(gate_facts, "read_held_many", read_held_many)
    assert dispatch(DUE).dispatched == 2
    store.drain()
    rows = first_steps(store)
    assert {token: m["status"] for token, m in rows.items()} == {"g1": "scheduled", "g2": "scheduled"}
    assert all(m["reason"].startswith("attempt 1 of") for m in rows.values()) and store.outbox() == []


def test_a_row_that_moved_on_after_the_batch_read_keeps_what_moved_it(rt, store, monkeypatch):
    """The batch's read takes no lock: between it and a message's verdict, another writer (here an
    operator cancelling the shop's pending rows) may move the row. The verdict's guarded write then
    changes nothing and the run says so, instead of reporting an outcome the row does not have."""
    plan(store, ["m1"])
    real = gate_facts.collect

    def collect(rt, session, message_id, job_id, now, found=None):
        collected = real(rt, session, message_id, job_id, now, found)
        with transaction(store.rt.sessions) as other:  # another writer, committed first
            outbox.cancel_pending(other, collected.candidate.shop.id, "cancelled by the operator")
        facts = replace(collected.facts, journey_stop_reason="the journey stopped")  # a verdict that writes
        return replace(collected, facts=facts)

    monkeypatch.setattr(gate_facts, "collect", collect)
    assert dispatch(DUE).dispatched == 1
    [batch] = send_jobs(rt)
    rt.queue.queues[SEND].empty()
    message_ids, job_id, _ = batch.args
    assert send_batch(message_ids, job_id, DUE.isoformat()) == "nothing to do 1"
    row = first_steps(store)["m1"]
    assert (row["status"], row["reason"]) == ("cancelled", "cancelled by the operator")


class Killed(BaseException):
    """The worker dies under the batch (not an Exception: nothing in the job catches it)."""


def test_a_batch_that_dies_mid_way_sends_nothing_twice(rt, store, monkeypatch):
    monkeypatch.setattr(jobs.dispatch, "QUEUED_GRACE_SECONDS", 0)
    plan(store, ["d1", "d2", "d3", "d4"])
    real, sends = OutboxFileTransport.send, []

    def send(self, message):
        sends.append(message.message_id)
        if len(sends) == 2:
            raise Killed()  # the provider may have it: the row stays `sending`
        return real(self, message)

    monkeypatch.setattr(OutboxFileTransport, "send", send)
    assert dispatch(DUE).dispatched == 4
    [batch] = send_jobs(rt)
    store.drain()
    statuses = Counter(m["status"] for m in store.messages(step="first"))
    assert statuses == {"sent": 1, "sending": 1, "queued": 2}
    in_flight = sends[1]
    # As a SIGKILL leaves it: RQ still says `started` (until the job's timeout), nobody renews the beat.
    started = (datetime.now(UTC) - timedelta(seconds=BEAT_TTL + 1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    rt.redis.hset(Job.key_for(batch.id), mapping={"status": "started", "started_at": started})
    rt.redis.set(beat_key(batch.id), 1)  # a beat still there: the batch counts as running
    assert reconcile(DUE).requeued_messages == 0
    rt.redis.delete(beat_key(batch.id))  # the beat lapsed

    report = reconcile(DUE + timedelta(seconds=SENDING_LEASE_SECONDS + 1))
    assert (report.marked_unknown, report.requeued_messages) == (1, 2)  # each lost row alone
    assert len(send_jobs(rt)) == 2 and {j.func_name for j in send_jobs(rt)} == {"jobs.send.send_message"}
    store.drain()
    assert store.message(id=in_flight)["status"] == "unknown"  # never resent
    assert Counter(m["status"] for m in store.messages(step="first")) == {"sent": 3, "unknown": 1}
    sent = Counter(m["message_id"] for m in store.outbox())
    assert set(sent.values()) == {1} and in_flight not in sent and len(sent) == 3


def test_shopify_unable_to_answer_makes_every_message_of_the_batch_wait(rt, store, admin_api):
    plan(store, ["e1", "e2"])
    admin_api.inject_status(401)  # the batch's first call to Shopify
    assert dispatch(DUE).dispatched == 2
    store.drain()
    rows = first_steps(store)
    for row in rows.values():
        assert row["status"] == "scheduled", row
        assert row["reason"].startswith("waiting: the payment check could not reach Shopify")
    assert store.outbox() == []


def test_a_batch_costs_each_message_no_more_statements_than_a_send_of_its_own(rt, store):
    """The statement budget of tests/jobs/test_send_statements.py holds per message in a batch."""
    store.set_settings(EMAIL_ONLY)
    for n in (1, 2, 3):
        store.deliver("checkouts/create", store.checkout(f"e{n}", STATEMENTS_ABANDONED, **person(n)))
    dispatch(datetime.fromisoformat(FIRST_DUE))
    [batch] = send_jobs(rt)
    rt.queue.queues[SEND].empty()
    message_ids, job_id, _ = batch.args
    with counting(rt.engine) as counts:
        assert send_batch(message_ids, job_id, FIRST_DUE) == "sent 3"
    print(f"\nbatch of 3 emails: {counts}\n{counts.listing()}")
    assert len(counts.statements) <= 3 * MAX_STATEMENTS and counts.transactions <= 3 * MAX_TRANSACTIONS, str(counts)
    # What the batch shares: the held rows (with journey, shop, settings, checkout) in one read for all
    # three, then per email its other facts, claim and sent record (no event: the row holds what it
    # would say); two transactions each, one for the reads.
    held_reads = [s for s in counts.statements if s.startswith("SELECT messages.id, messages.shop_id")]
    assert len(held_reads) == 1 and " IN (" in held_reads[0], counts.listing()
    assert len(counts.statements) == 1 + 3 * 3 and counts.transactions == 1 + 3 * 2, str(counts)
