"""The operator's commands (issue 14, item 4) through the CLI, against the real routes, worker
and dispatcher: status, messages with filters, retry and its refusals, replan, privacy exports,
-h and --version. A refusal is one line and exit 1; a refused retry changes nothing."""

from __future__ import annotations

import json
import stat
from datetime import datetime
from importlib.metadata import version

import pytest
from click.testing import CliRunner
from rq import SimpleWorker
from sqlalchemy import select

from jobs import worker as worker_module
from shop_app.cli.commands import main
from shop_app.compliance.suppressions import suppress
from shop_app.recovery import outbox
from shop_app.shopify.shops import get_shop
from shop_app.storage.database import transaction
from shop_app.storage.tables import Journey, MessageEvent
from tests.support import ShopifyStore

ABANDONED = "2026-03-02T19:00:00+01:00"  # 18:00 UTC: the first email is due at 19:00 UTC
FIRST_DUE = "2026-03-02T19:00:00+00:00"
LATER = "2026-03-02T19:10:00+00:00"  # before the WhatsApp step (20:00 UTC) could supersede the email


@pytest.fixture
def run(rt):
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(main, list(args), prog_name="reclaim", catch_exceptions=False)

    return invoke


@pytest.fixture
def failed_email(store, monkeypatch) -> dict:
    """c1's first email, refused for good by the provider once; later sends go through."""
    from shop_app.adapters.outgoing import OutboxFileTransport, SendResult, SendStatus

    real = OutboxFileTransport(store.rt.settings.outbox_file)
    answers = [SendResult(SendStatus.FAILED_PERMANENT, detail="550 mailbox unavailable")]

    class RefusesOnce:
        esp_name = "refuses-once"

        def send(self, message):
            return answers.pop(0) if answers and message.channel == "email" else real.send(message)

    monkeypatch.setattr(store.rt.transports, "transport", lambda session, shop_id, channel: RefusesOnce())
    store.deliver("checkouts/create", store.checkout("c1", ABANDONED, name="#42"))
    store.tick(FIRST_DUE)
    failed = store.message(step="first")
    assert (failed["status"], failed["reason"]) == ("failed", "failed: 550 mailbox unavailable")
    assert store.outbox() == []
    return failed


def events(rt) -> list[tuple[str, str, str | None]]:
    with transaction(rt.sessions) as session:
        return [
            (e.provider, e.event, e.detail) for e in session.scalars(select(MessageEvent).order_by(MessageEvent.id))
        ]


# --- -h and --version --------------------------------------------------------------------------


def test_h_and_version_work(run):
    assert run("--version").output == f"reclaim, version {version('reclaim')}\n"
    helped = run("-h")
    assert helped.exit_code == 0 and helped.output.startswith("Usage: reclaim [OPTIONS] COMMAND")
    for command in ("status", "retry", "replan", "messages"):
        assert command in helped.output
    retry_help = run("retry", "-h")
    assert retry_help.exit_code == 0 and "Usage: reclaim retry [OPTIONS] MESSAGE_ID" in retry_help.output
    assert run("privacy", "exports", "-h").exit_code == 0


# --- retry -------------------------------------------------------------------------------------


def test_retry_sends_a_failed_message_again_on_the_next_tick_and_records_why(run, store, failed_email):
    message_id = failed_email["id"]
    retried = run("retry", str(message_id), "--note", "mailbox fixed", "--now", LATER)
    assert retried.exit_code == 0, retried.output
    reason = "retried by the operator: mailbox fixed (was failed: failed: 550 mailbox unavailable)"
    assert retried.output.splitlines() == [
        f"message {message_id} (first, email) was failed; scheduled, due now",
        f"reason: {reason}",
    ]
    row = store.message(step="first")
    assert (row["status"], row["due_at"], row["reason"]) == ("scheduled", LATER, reason)
    assert events(store.rt) == [("operator", "retried", "retried by the operator: mailbox fixed (was failed)")]

    assert "dispatched 1" in store.tick(LATER)  # the real dispatcher and send job
    assert store.message(step="first")["status"] == "sent"
    assert [(m["channel"], m["to"]) for m in store.outbox()] == [("email", "ana@example.com")]
    assert run("retry", str(message_id)).exit_code == 1  # sent now: not again


def test_an_unknown_message_can_be_retried_too(run, store):
    store.deliver("checkouts/create", store.checkout("c1", ABANDONED))
    message_id = store.message(step="first")["id"]
    at = datetime.fromisoformat(FIRST_DUE)
    with transaction(store.rt.sessions) as session:  # a provider call that broke after it may have sent
        assert outbox.queue(session, message_id, "job-1", at)
        fields = {"recipient": "ana@example.com", "subject": "s", "body": "b", "note": None}
        assert outbox.claim(session, message_id, "job-1", at, **fields)
        assert outbox.mark_unknown(session, message_id, "unknown: the provider call broke")
    retried = run("retry", str(message_id), "--now", LATER)
    assert retried.exit_code == 0, retried.output
    assert f"message {message_id} (first, email) was unknown; scheduled, due now" in retried.output
    reason = "retried by the operator (was unknown: unknown: the provider call broke)"
    assert (store.message(step="first")["status"], store.message(step="first")["reason"]) == ("scheduled", reason)


def _paid(store) -> None:
    store.deliver("orders/create", store.order("c1", "2026-03-02T20:05:00+01:00", id=5551, name="#1001"))


def _suppressed(store) -> None:
    with transaction(store.rt.sessions) as session:
        shop = get_shop(session, store.domain)
        suppress(session, store.rt.settings.secret_key, shop.id, "email", "ana@example.com",
                 "unsubscribed by one-click link", source="unsubscribe")  # fmt: skip


def _deleted(store) -> None:
    store.deliver("checkouts/delete", {"id": 42, "cart_token": "unrelated"})


@pytest.mark.parametrize(
    ("happened", "refusal"),
    [
        (_paid, "the customer paid (journey {journey} converted"),
        (_suppressed, "the customer is suppressed for email (unsubscribed by one-click link)"),
        (_deleted, "the journey ended (journey {journey} stopped: checkout deleted in Shopify)"),
    ],
    ids=["paid", "unsubscribed", "journey ended"],
)
def test_a_refused_retry_is_one_line_and_changes_nothing(run, store, failed_email, happened, refusal):
    happened(store)
    before = store.messages()
    with transaction(store.rt.sessions) as session:
        journey_id = session.scalar(select(Journey.id))
    refused = run("retry", str(failed_email["id"]), "--now", LATER)
    assert refused.exit_code == 1
    expected = refusal.format(journey=journey_id)
    assert refused.output.startswith(f"Error: message {failed_email['id']} not retried: {expected}")
    assert len(refused.output.splitlines()) == 1 and "ana@example.com" not in refused.output
    assert store.messages() == before
    assert events(store.rt) == []


def test_retry_refuses_a_message_that_is_not_failed_or_unknown_or_not_there(run, store):
    store.deliver("checkouts/create", store.checkout("c1", ABANDONED))
    message_id = store.message(step="first")["id"]
    before = store.messages()
    scheduled = run("retry", str(message_id))
    assert (scheduled.exit_code, scheduled.output) == (
        1,
        f"Error: message {message_id} is scheduled: only a failed or unknown message is retried\n",
    )
    missing = run("retry", "999999")
    assert (missing.exit_code, missing.output) == (1, "Error: no message 999999\n")
    assert run("retry", "x").exit_code == 2  # not an id: click's usage error
    assert store.messages() == before


# --- messages ----------------------------------------------------------------------------------


def test_messages_filters_by_status_since_and_limit_with_a_header(run, store, failed_email):
    everything = store.messages()
    table = run("messages").output.splitlines()
    assert table[0].split() == ["ID", "SHOP", "CHECKOUT", "STEP", "CHANNEL", "STATUS", "DUE", "(UTC)", "REASON"]
    assert len(table) == 1 + len(everything)
    failed = run("messages", "--status", "failed").output.splitlines()
    assert len(failed) == 2 and "failed: 550 mailbox unavailable" in failed[1]
    assert str(failed_email["id"]) == failed[1].split()[0]
    both = run("messages", "--status", "failed", "--status", "scheduled").output.splitlines()
    assert len(both) == len(everything) + 1
    later = run("messages", "--since", "2026-03-02T19:30:00Z", "--json")
    assert {m["id"] for m in json.loads(later.output)} == {
        m["id"] for m in everything if m["due_at"] >= "2026-03-02T19:30:00+00:00"
    }
    assert json.loads(run("messages", "--since", "2026-03-03", "--json").output) == [
        m for m in everything if m["due_at"] >= "2026-03-03"
    ]
    limited = run("messages", "--limit", "1").output.splitlines()
    latest = max(everything, key=lambda m: (m["due_at"], m["id"]))
    assert limited[1].split()[0] == str(latest["id"]) and limited[2] == "(the latest 1; --limit or --since for others)"
    assert run("messages", "--shop", store.domain, "--status", "failed", "--json").exit_code == 0


def test_messages_says_when_nothing_matches(run, store):
    assert run("messages").output == "no messages yet\n"
    store.deliver("checkouts/create", store.checkout("c1", ABANDONED))
    none = run("messages", "--shop", store.domain, "--status", "sent", "--since", "2026-03-01")
    assert (none.exit_code, none.output) == (
        0,
        f"no messages for {store.domain}, with status sent, due since 2026-03-01\n",
    )
    assert run("messages", "--status", "sent", "--json").output == "[]\n"
    for bad in (("--status", "lost"), ("--since", "yesterday"), ("--limit", "0")):
        assert run("messages", *bad).exit_code == 2


# --- status ------------------------------------------------------------------------------------


def line(label: str, text: str) -> str:
    """One line of `reclaim status`: its label in 16 columns."""
    return f"{label:<16}{text}"


def test_status_shows_the_backlog_the_workers_and_the_last_passes(run, store, rt):
    nothing_runs = run("status")
    empty = nothing_runs.output.splitlines()
    idle = "0 waiting, 0 running, 0 failed"
    none = "none recorded (a `reclaim worker` scheduler records each pass it runs)"
    assert empty == [
        line("queue", f"ingest {idle}; dispatch {idle}; send {idle}"),
        line("messages", "0 due, 0 overdue (due over 60 s ago)"),
        line("", "0 queued, 0 sending, 0 unknown, 0 failed"),
        line("workers", "none registered: nothing runs the queues (start `reclaim worker`)"),
        line("last dispatch", none),
        line("last reconcile", none),
        line("problems", "no worker sent a heartbeat in the last 420 s"),
        line("", "no dispatch pass recorded"),
        line("", "no reconcile pass recorded"),
    ]
    assert nothing_runs.exit_code == 1  # something is wrong: nothing runs the queues

    store.deliver("checkouts/create", store.checkout("c1", ABANDONED))
    late = run("status", "--now", "2026-03-02T19:02:30Z").output.splitlines()
    oldest = "the oldest due 2026-03-02 19:00 UTC, 2 min 30 s late"
    assert late[1] == line("messages", f"1 due, 1 overdue (due over 60 s ago); {oldest}")
    soon = run("status", "--now", "2026-03-02T19:00:30Z").output.splitlines()
    assert soon[1].startswith(line("messages", "1 due, 0 overdue"))

    live = SimpleWorker([rt.queue.queues["send"]], connection=rt.redis, name="reclaim-test-worker")
    live.register_birth()
    live.heartbeat()
    worker_module.dispatch_pass()  # the scheduler's pass, on the wall clock: every due row is claimed
    claimed = len(store.messages(status="queued"))
    assert claimed == len(store.messages()) > 1
    running = run("status")
    now = running.output.splitlines()
    assert "send 0 waiting" not in now[0]  # the claimed rows' send jobs
    assert now[1] == line("messages", "0 due, 0 overdue (due over 60 s ago)")
    assert now[2].startswith(line("", f"{claimed} queued"))
    assert now[3].startswith(line("workers (1)", "reclaim-test-worker (pid ")) and ", heartbeat 0 s ago" in now[3]
    assert now[4].startswith(line("last dispatch", "0 s ago ("))
    document = json.loads(run("status", "--json").output)
    assert 1 <= document["queues"]["send"]["waiting"] <= claimed  # send jobs go per batch (issue 13)
    assert (document["messages"]["queued"], document["messages"]["due"]) == (claimed, 0)
    assert [w["name"] for w in document["workers"]] == ["reclaim-test-worker"]
    assert document["passes"]["dispatch"]["age_seconds"] < 5 and document["passes"]["reconcile"]["finished_at"] is None
    assert (running.exit_code, document["problems"]) == (1, ["no reconcile pass recorded"])
    assert now[-1] == line("problems", "no reconcile pass recorded")

    worker_module.reconcile_pass()
    well = run("status")
    assert (well.exit_code, well.output.splitlines()[-1]) == (0, line("problems", "none"))
    live.register_death()
    dead = run("status", "--json")
    assert dead.exit_code == 1
    assert json.loads(dead.output)["problems"] == ["no worker sent a heartbeat in the last 420 s"]


def test_status_says_what_its_exit_status_means(run):
    helped = run("status", "-h").output
    assert "Exit status:" in helped and "0  all is well" in helped and "1  something is wrong" in helped


def test_a_stale_dispatcher_pass_is_a_problem(rt):
    from shop_app.cli.status import problems

    worker = {"heartbeat_age_seconds": 3.0}
    fresh = {"dispatch": {"age_seconds": 1.0}, "reconcile": {"age_seconds": 20.0}}
    assert problems({"workers": [worker], "passes": fresh}) == []
    stale = {**fresh, "dispatch": {"age_seconds": 61.0}}
    assert problems({"workers": [worker], "passes": stale}) == [
        "the last dispatch pass finished 1 min 1 s ago (more than 60 s)"
    ]
    assert problems({"workers": [{"heartbeat_age_seconds": 421.0}], "passes": fresh}) == [
        "no worker sent a heartbeat in the last 420 s"
    ]


def test_tick_exits_1_when_redis_fails_during_the_pass(run, store, rt, monkeypatch):
    from redis.exceptions import ConnectionError as RedisConnectionError

    from shop_app.adapters.queue import JobQueue

    store.deliver("checkouts/create", store.checkout("c1", ABANDONED))

    def redis_gone(self, *args, **kwargs):
        raise RedisConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(JobQueue, "enqueue_sends", redis_gone)  # Redis goes away after the pass began
    failed = run("tick", "--now", "2026-03-03T12:00:00Z")
    assert failed.exit_code == 1
    assert failed.output.splitlines()[-1] == (
        "Error: Redis failed during the pass (1 enqueue(s) failed, the first: ConnectionError); "
        "the rows stay in the database and the next pass enqueues them"
    )
    assert store.messages(status="queued")  # claimed, kept: the reconciler hands them over later
    monkeypatch.undo()
    assert run("tick", "--now", "2026-03-03T12:00:00Z").exit_code == 0


# --- replan ------------------------------------------------------------------------------------


def test_replan_runs_the_planner_again_and_says_what_it_did(run, store, rt, client, admin_api):
    store.deliver("checkouts/create", store.checkout("c1", ABANDONED))
    same = run("replan", "c1", "--now", "2026-03-02T18:10:00Z")
    assert (same.exit_code, same.output) == (0, f"{store.domain} c1: planned: 0 new, 0 moved\n")
    document = json.loads(run("settings", "show", store.domain).output)
    document["recovery"]["first"]["delay_minutes"] = 30
    store.set_settings(document)
    moved = run("replan", "c1", "--shop", store.domain, "--now", "2026-03-02T18:10:00Z")
    assert moved.output == f"{store.domain} c1: planned: 0 new, 1 moved\n"
    assert store.message(step="first")["due_at"] == "2026-03-02T18:30:00+00:00"

    assert (run("replan", "nope").exit_code, run("replan", "nope").output) == (1, "Error: no checkout nope\n")
    unknown_shop = run("replan", "c1", "--shop", "nobody.myshopify.com")
    assert (unknown_shop.exit_code, unknown_shop.output) == (1, "Error: no shop nobody.myshopify.com is installed\n")
    other = ShopifyStore.install(rt, client, "other-shop.myshopify.com", admin_api=admin_api)
    other.deliver("checkouts/create", other.checkout("c1", ABANDONED))
    twice = run("replan", "c1")
    assert (twice.exit_code, twice.output) == (1, "Error: checkout c1 is in 2 shops; name one with --shop\n")


# --- privacy exports ---------------------------------------------------------------------------


def test_privacy_exports_lists_and_fetches_data_request_exports(run, store, tmp_path):
    assert run("privacy", "exports", store.domain).output == f"no data-request exports for {store.domain}\n"
    store.deliver("checkouts/create", store.checkout("c1", ABANDONED))
    customer = {"id": 7001, "email": "ana@example.com", "phone": "+34600111222"}
    store.deliver(
        "customers/data_request",
        {"shop_id": 1, "shop_domain": store.domain, "customer": customer, "data_request": {"id": 9999}},
    )
    listed = run("privacy", "exports", store.domain).output.splitlines()
    assert listed[0].split() == ["ID", "RECEIVED", "(UTC)", "SHOPIFY", "REQUEST", "CUSTOMER", "ID"]
    export_id, _, _, request, customer_id = listed[1].split()
    assert (request, customer_id) == ("9999", "7001")
    assert "ana@example.com" not in "\n".join(listed)  # the list names no one; the export itself does
    assert listed[2] == f"fetch one: reclaim privacy exports {store.domain} ID [-o FILE]"

    document = json.loads(run("privacy", "exports", store.domain, export_id).output)
    assert document["data_request"]["shopify_request_id"] == "9999"
    assert [c["token"] for c in document["checkouts"]] == ["c1"]
    path = tmp_path / "export.json"
    wrote = run("privacy", "exports", store.domain, export_id, "-o", str(path))
    assert wrote.output == f"wrote export {export_id} of {store.domain} to {path}\n"
    assert json.loads(path.read_text()) == document
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

    missing = run("privacy", "exports", store.domain, "424242")
    assert (missing.exit_code, missing.output) == (1, f"Error: {store.domain} has no export 424242\n")
    assert run("privacy", "exports", "nobody.myshopify.com").exit_code == 1
    assert run("privacy", "exports", store.domain, "-o", str(path)).exit_code == 2
