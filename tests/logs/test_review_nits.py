"""Small things the review of issue 14 items 5 and 6 found: an unhandled error's JSON line carries
its trace in the `trace` field (no exception text anywhere); RECLAIM_LOG_FORMAT in any case, as
RECLAIM_LOG_LEVEL; RECLAIM_METRICS_TOKEN read from a secret file (trailing newline) works."""

from __future__ import annotations

from shop_app import create_app
from shop_app.config import Settings
from shop_app.log_format import format_of

EMAIL = "boom.customer@example.com"


def test_an_unhandled_errors_json_line_has_its_trace_field(rt, json_log):
    app = create_app(runtime=rt)

    @app.get("/boom")
    def boom():
        raise ValueError(f"no profile for {EMAIL}")

    assert app.test_client().get("/boom").status_code == 500
    [line] = [line for line in json_log.lines() if line["message"].startswith("unhandled error")]
    assert line["message"] == "unhandled error on GET /boom: ValueError" and line["level"] == "error"
    assert line["trace"].startswith("Traceback (most recent call last):\n")
    assert "test_review_nits.py" in line["trace"] and line["trace"].endswith("\nValueError")
    assert EMAIL not in json_log.text()


def test_the_log_format_is_read_in_any_case():
    assert format_of({"RECLAIM_LOG_FORMAT": "JSON"}) == format_of({"RECLAIM_LOG_FORMAT": "Json"}) == "json"
    assert format_of({"RECLAIM_LOG_FORMAT": "TEXT", "RECLAIM_ENV": "production"}) == "text"


def test_a_metrics_token_from_a_secret_file_is_stripped(rt, client):
    token = "scrape-me-" + "y" * 24
    stripped = Settings.from_env({"RECLAIM_METRICS_TOKEN": f"{token}\n"}).metrics_token
    assert stripped == token
    assert Settings.from_env({"RECLAIM_METRICS_TOKEN": " \n"}).metrics_token is None  # blank: no /metrics
    rt.settings = rt.settings.with_overrides(metrics_token=stripped)
    assert client.get("/metrics", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_the_development_servers_access_line_has_duration_ms(rt, json_log):
    import threading
    import time
    import urllib.request

    from werkzeug.serving import make_server

    from shop_app.devtools.serving import AccessLogHandler

    app = create_app(runtime=rt)

    @app.get("/slow")
    def slow():
        time.sleep(0.05)
        return "done"

    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=AccessLogHandler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.server_port}/slow", timeout=10) as response:
            assert response.status == 200
    finally:
        server.shutdown()
        server.server_close()
    [access] = json_log.events("access")
    assert access["path"] == "/slow" and 50 <= access["duration_ms"] < 2000
