"""A batch's unique discount codes (issue 13): made in one Admin API request per shop once the payment
check cleared them, each still its own single-use code in its own message, through the real dispatcher,
Redis, RQ worker and the development Admin API over HTTP. A code Shopify refuses holds back its message
alone; a request Shopify cannot answer holds back each of its messages; a batch that died after Shopify
made its codes sends the same codes on the next try, never a second set."""

from __future__ import annotations

import copy
import re
from datetime import UTC, datetime, timedelta

import pytest

import jobs.send
from jobs.dispatch import dispatch
from jobs.send_batch import send_batch
from shop_app.adapters.queue import SEND
from shop_app.recovery import live_check
from shop_app.storage.database import transaction
from shop_app.storage.tables import Discount
from tests.jobs.test_push_channel import subscribe
from tests.jobs.test_send_batches import DUE, first_steps, plan, send_jobs
from tests.jobs.test_send_statements import counting
from tests.push_peer import Browser, PushService

SETTINGS = {
    "recovery": {
        "first": {
            "channels": ["email"],
            "incentive": {"type": "percentage", "value": 10, "code_mode": "unique", "expiry_hours": 48},
        },
        "whatsapp": {"enabled": False},
        "prime": {"enabled": False},
    }
}
TOKENS = ["k1", "k2", "k3"]


def codes_in(store) -> dict[str, str]:
    """The code each sent email carries, by its recipient."""
    return {m["to"]: re.findall(r"BACK-[A-Z0-9]+", m["body"])[0] for m in store.outbox()}


def recorded(rt) -> dict[str, str | None]:
    with transaction(rt.sessions) as session:
        return {row.code: row.shopify_id for row in session.query(Discount)}


def test_a_batchs_codes_are_made_in_one_request_each_its_own(rt, store, admin_api):
    store.set_settings(SETTINGS)
    plan(store, TOKENS)
    assert dispatch(DUE).dispatched == 3 and len(send_jobs(rt)) == 1
    store.drain()
    assert {t: m["status"] for t, m in first_steps(store).items()} == dict.fromkeys(TOKENS, "sent")
    [request] = admin_api.graphql_requests("DiscountCodesCreate", shop=store.domain)
    assert list(request.variables) == ["c0", "c1", "c2"]
    assert admin_api.graphql_requests("DiscountCodeBasicCreate") == []
    codes = codes_in(store)
    assert sorted(codes) == [f"{t}@example.com" for t in TOKENS] and len(set(codes.values())) == 3
    made = {d.code: d for d in admin_api.discounts(store.domain)}
    assert set(made) == set(codes.values()) and all(d.input["usageLimit"] == 1 for d in made.values())
    assert recorded(rt) == {code: made[code].id for code in codes.values()}  # each id kept by its claim


def test_a_code_shopify_refuses_holds_back_its_message_alone(rt, store, admin_api):
    store.set_settings(SETTINGS)
    plan(store, TOKENS)
    admin_api.inject_user_error("MAX_APP_DISCOUNTS", "Too many app discounts", ("code",))  # the first create
    dispatch(DUE)
    store.drain()
    rows = first_steps(store)
    [refused] = [t for t, m in rows.items() if m["status"] == "scheduled"]
    assert rows[refused]["reason"].startswith("waiting for the discount code: MAX_APP_DISCOUNTS")
    assert sorted(m["status"] for m in rows.values()) == ["scheduled", "sent", "sent"]
    assert sorted(codes_in(store)) == sorted(f"{t}@example.com" for t in TOKENS if t != refused)


def test_a_request_shopify_cannot_answer_holds_back_each_message(rt, store, admin_api):
    store.set_settings(SETTINGS)
    plan(store, TOKENS)
    rt.admin_sleep = (waits := []).append  # the client's backoff, recorded rather than slept
    admin_api.inject_status(503, count=10, operation="DiscountCodesCreate")
    dispatch(DUE)
    store.drain()
    for row in first_steps(store).values():
        assert row["status"] == "scheduled" and row["reason"].startswith("waiting for the discount code"), row
    assert store.outbox() == [] and admin_api.discounts(store.domain) == []
    assert len(admin_api.graphql_requests("DiscountCodesCreate")) == len(waits) + 1  # one request, retried


@pytest.mark.parametrize("ids_recorded", [True, False])
def test_a_batch_that_died_after_shopify_made_its_codes_sends_those_codes(
    rt, store, admin_api, monkeypatch, ids_recorded
):
    """Died before its claims, with Shopify's ids recorded (the next try asks Shopify for nothing) or
    not (their recording broke too: the next try finds each code TAKEN in Shopify, and ours)."""
    store.set_settings(SETTINGS)
    plan(store, TOKENS)

    def dies(*args, **kwargs):
        raise ConnectionError("the database went away")

    monkeypatch.setattr(jobs.send, "_compose_and_claim", dies)
    if not ids_recorded:
        monkeypatch.setattr(live_check, "record_many", dies)
    dispatch(DUE)
    store.drain()
    assert {m["status"] for m in first_steps(store).values()} == {"scheduled"} and store.outbox() == []
    first = {d.code: d.id for d in admin_api.discounts(store.domain)}
    assert len(first) == 3 and recorded(rt) == (first if ids_recorded else dict.fromkeys(first))

    monkeypatch.undo()
    admin_api.clear_requests()
    store.tick(DUE + timedelta(hours=1))  # the next attempt
    assert {m["status"] for m in first_steps(store).values()} == {"sent"}
    assert set(codes_in(store).values()) == set(first)  # the codes Shopify made the first time
    assert {d.code: d.id for d in admin_api.discounts(store.domain)} == first  # and no others
    assert recorded(rt) == first
    asked = admin_api.graphql_requests("DiscountCodesCreate"), admin_api.graphql_requests("CodeDiscountByCode")
    assert [len(requests) for requests in asked] == ([0, 0] if ids_recorded else [1, 3])


def test_the_clock_is_the_batchs(rt, store, admin_api):
    """The codes start when the batch runs (its `now`), and end with the reserved expiry."""
    store.set_settings(SETTINGS)
    plan(store, TOKENS[:1])
    dispatch(DUE)
    store.drain()
    [made] = admin_api.discounts(store.domain)
    assert made.input["startsAt"] == DUE.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert datetime.fromisoformat(made.input["endsAt"]) == DUE + timedelta(hours=48)


def test_a_batch_reserves_its_codes_in_one_statement_and_records_them_in_one(rt, store):
    store.set_settings(SETTINGS)
    plan(store, TOKENS)
    dispatch(DUE)
    [batch] = send_jobs(rt)
    rt.queue.queues[SEND].empty()
    message_ids, job_id, _ = batch.args
    with counting(rt.engine) as counts:
        assert send_batch(message_ids, job_id, DUE.isoformat()) == "sent 3"
    reserved = [s for s in counts.statements if s.startswith("INSERT INTO discounts")]
    assert len(reserved) == 1, counts.listing()
    assert len([s for s in counts.statements if s.startswith("UPDATE discounts SET shopify_id")]) == 1
    assert set(recorded(rt)) == set(codes_in(store).values()) and None not in recorded(rt).values()


def test_when_the_ids_cannot_be_recorded_together_each_claim_records_its_own(rt, store, monkeypatch):
    store.set_settings(SETTINGS)
    plan(store, TOKENS)

    def broken(session, created):
        raise ConnectionError("the database went away")

    monkeypatch.setattr(live_check, "record_many", broken)
    dispatch(DUE)
    store.drain()
    assert {m["status"] for m in first_steps(store).values()} == {"sent"}
    assert set(recorded(rt)) == set(codes_in(store).values()) and None not in recorded(rt).values()


@pytest.fixture
def push_service():
    with PushService() as service:
        yield service


def test_a_steps_email_and_push_share_one_code_asked_of_shopify_once(rt, store, admin_api, push_service):
    settings = copy.deepcopy(SETTINGS)
    settings["recovery"]["first"]["channels"] = ["email", "push"]
    store.set_settings(settings)
    subscribe(store, Browser(push_service.endpoint()), "cart-k1")
    plan(store, ["k1"])
    dispatch(DUE)
    store.drain()
    assert {m["channel"]: m["status"] for m in store.messages()} == {"email": "sent", "push": "sent"}
    [request] = admin_api.graphql_requests("DiscountCodesCreate")
    assert list(request.variables) == ["c0"]  # one code for the step, not one per channel
    assert admin_api.graphql_requests("CodeDiscountByCode") == []
    [code] = codes_in(store).values()
    assert recorded(rt) == {code: admin_api.discounts(store.domain)[0].id}


def test_a_reservation_that_breaks_for_the_batch_is_made_for_each_message_alone(rt, store, monkeypatch):
    store.set_settings(SETTINGS)
    plan(store, TOKENS)

    def breaks(session, candidates, now):
        raise ConnectionError("the batch's reservation broke")

    monkeypatch.setattr(live_check, "reserve_many", breaks)
    dispatch(DUE)
    store.drain()
    assert {m["status"] for m in first_steps(store).values()} == {"sent"}
    assert set(recorded(rt)) == set(codes_in(store).values()) and len(recorded(rt)) == 3
