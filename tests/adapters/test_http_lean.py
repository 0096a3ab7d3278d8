"""http_lean.send: a request on a settled session's pooled connection, with requests' own answers and errors."""

from __future__ import annotations

import pytest
import requests
from flask import Flask, jsonify, redirect, request

from shop_app.adapters import http_lean
from shop_app.devtools.serving import BackgroundServer
from tests.smtp_server import free_port


class Echo(BackgroundServer):
    def __init__(self) -> None:
        self.keep_alive = True
        app = Flask("lean-echo")

        @app.post("/echo")
        def echo():
            return jsonify(
                json=request.get_json(silent=True),
                form=request.form.to_dict(),
                query=request.args.to_dict(),
                agent=request.headers.get("User-Agent"),
                encoding=request.headers.get("Accept-Encoding"),
                token=request.headers.get("X-Token"),
                authorized=request.authorization is not None and request.authorization.username == "AC1",
                cookie=request.headers.get("Cookie"),
            ), 202

        @app.post("/moved")
        def moved():
            return redirect("/echo", code=307)

        self.app = app


@pytest.fixture
def server():
    with Echo() as made:
        yield made


@pytest.fixture
def settled():
    with requests.Session() as session:
        session.trust_env = False
        session.cookies.set("left", "over")
        yield session


def test_json_headers_and_the_sessions_defaults_go_out(server, settled):
    answer = http_lean.send(settled, "post", f"{server.url}/echo", json={"a": 1}, headers={"X-Token": "t"}, timeout=5)
    assert answer.status_code == 202
    body = answer.json()
    assert body["json"] == {"a": 1} and body["token"] == "t"
    assert body["agent"].startswith("python-requests/") and "gzip" in body["encoding"]
    assert body["cookie"] is None  # no cookie is sent


def test_a_form_with_basic_auth_and_a_query(server, settled):
    answer = http_lean.send(
        settled, "POST", f"{server.url}/echo", data={"To": "+34600000001"}, params={"q": "x"}, auth=("AC1", "s"),
        timeout=5,
    )  # fmt: skip
    assert answer.json()["form"] == {"To": "+34600000001"} and answer.json()["query"] == {"q": "x"}
    assert answer.json()["authorized"] is True


def test_a_redirect_is_followed_only_when_asked(server, settled):
    followed = http_lean.send(settled, "POST", f"{server.url}/moved", json={"a": 2}, timeout=5)
    assert followed.status_code == 202 and followed.json()["json"] == {"a": 2}
    kept = http_lean.send(settled, "POST", f"{server.url}/moved", json={}, timeout=5, allow_redirects=False)
    assert kept.status_code == 307


def test_a_refused_connection_is_requests_own_error(settled):
    with pytest.raises(requests.ConnectionError):
        http_lean.send(settled, "POST", f"http://127.0.0.1:{free_port()}/echo", json={}, timeout=5)


def test_a_session_reading_the_environment_goes_the_usual_way(server, monkeypatch):
    calls = []
    with requests.Session() as session:
        original = session.request
        monkeypatch.setattr(session, "request", lambda *a, **k: calls.append(a) or original(*a, **k))
        assert http_lean.send(session, "POST", f"{server.url}/echo", json={}, timeout=5).status_code == 202
    assert len(calls) == 1
