"""The development servers' HTTP: one connection per request by default, kept with `keep_alive`."""

from __future__ import annotations

import socket

import pytest
import requests
from flask import Flask, jsonify, request

from shop_app.devtools.serving import BackgroundServer, KeepAliveServer


class Echo(BackgroundServer):
    """Answers each POST with its name, body and query."""

    def __init__(self, keep_alive: bool):
        self.keep_alive = keep_alive
        app = Flask("echo")

        @app.post("/echo/<name>")
        def echo(name: str):
            return jsonify(name=name, body=request.get_json(), query=request.args.get("q")), 201

        @app.get("/fail")
        def fail():
            raise RuntimeError("the app broke")

        self.app = app


def test_a_kept_alive_server_answers_every_request_on_one_connection(monkeypatch):
    accepted = []
    original = KeepAliveServer.get_request

    def get_request(self):
        accepted.append(1)
        return original(self)

    monkeypatch.setattr(KeepAliveServer, "get_request", get_request)
    with Echo(keep_alive=True) as server, requests.Session() as session:
        for n in range(5):
            response = session.post(f"{server.url}/echo/n{n}?q=x", json={"n": n}, timeout=5)
            assert response.status_code == 201 and "Connection" not in response.headers
            assert response.json() == {"name": f"n{n}", "body": {"n": n}, "query": "x"}
    assert len(accepted) == 1


def test_by_default_each_request_has_its_own_connection():
    with Echo(keep_alive=False) as server, requests.Session() as session:
        for n in range(3):
            response = session.post(f"{server.url}/echo/n{n}", json={"n": n}, timeout=5)
            assert response.status_code == 201 and response.headers["Connection"] == "close"


def test_a_kept_alive_server_says_500_when_the_app_breaks_and_goes_on():
    with Echo(keep_alive=True) as server, requests.Session() as session:
        assert session.get(f"{server.url}/fail", timeout=5).status_code == 500
        assert session.post(f"{server.url}/echo/after", json={}, timeout=5).status_code == 201


def test_after_stop_a_kept_connection_gets_no_answer():
    server = Echo(keep_alive=True).start()
    raw = socket.create_connection(("127.0.0.1", int(server.url.rsplit(":", 1)[1])), timeout=5)
    body = b'{"n": 1}'
    request_bytes = (
        b"POST /echo/raw HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
    )
    raw.sendall(request_bytes)
    first = raw.recv(65536)
    assert first.startswith(b"HTTP/1.1 201") and b"Connection: close" not in first
    server.stop()
    with pytest.raises(OSError):
        raw.sendall(request_bytes)
        if raw.recv(65536) == b"":  # closed by the server: no answer
            raise ConnectionResetError("closed")
    raw.close()
