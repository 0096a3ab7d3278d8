"""The lifecycle the development servers share: a WSGI app on 127.0.0.1, served from a thread.

class MyServer(BackgroundServer):
    thread_name = "dev-my-api"
    ...                      # set self.app, self._host, self._port in __init__

with MyServer() as server:
    server.url               # http://127.0.0.1:PORT (a free port unless one was given)

By default a server answers one request per connection (werkzeug's development server closes
every connection). With `keep_alive = True` set before start, it keeps a client's connection for
its next request, as Shopify and Twilio do, instead of a new connection, and a new server thread,
per request: for benchmarks (bench/send_job.py), where those would be counted as the app's time.
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
import socket
import socketserver
import sys
import threading
import time
from http.server import HTTPServer
from typing import TYPE_CHECKING
from urllib.parse import urlsplit
from wsgiref.simple_server import WSGIRequestHandler as PlainWSGIRequestHandler
from wsgiref.simple_server import WSGIServer

from werkzeug.serving import WSGIRequestHandler, make_server

from shop_app.log_format import mask_url

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_access = logging.getLogger("werkzeug")


class AccessLogHandler(WSGIRequestHandler):
    """werkzeug's request handler (`make_server(..., request_handler=AccessLogHandler)`) whose access
    line hides what authenticates a request, as `reclaim serve`'s does (log_format.mask_url):
    `"GET /admin?shop=a.myshopify.com&id_token=*** HTTP/1.1" 200`; duration_ms is the time until
    the status line went out (the app's whole work for a response that is not streamed)."""

    _started: float | None = None

    def run_wsgi(self) -> None:
        self._started = time.perf_counter()
        super().run_wsgi()

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        line = mask_url(_CONTROL.sub("?", self.requestline))
        path = mask_url(urlsplit(self.path).path) if getattr(self, "path", None) else "-"
        fields: dict[str, object] = {
            "event": "access", "method": getattr(self, "command", "-"), "path": path, "status": str(code),
        }  # fmt: skip
        if self._started is not None:
            fields["duration_ms"] = round((time.perf_counter() - self._started) * 1000)
        _access.info('%s - - "%s" %s %s', self.address_string(), line, code, size, extra=fields)


class QuietHandler(WSGIRequestHandler):
    # One request per connection: stopping the server never waits on an idle keep-alive.
    protocol_version = "HTTP/1.0"

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class KeepAliveServer(socketserver.ThreadingMixIn, WSGIServer):
    """A threaded WSGI server whose connections persist (HTTP/1.1); `close_connections` ends them."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], app: WSGIApplication):
        super().__init__(address, KeepAliveHandler)
        self.set_app(app)
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def opened(self, connection: socket.socket, is_open: bool) -> None:
        with self._connections_lock:
            (self._connections.add if is_open else self._connections.discard)(connection)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class KeepAliveHandler(PlainWSGIRequestHandler):
    """One connection's requests, one after another, until the client closes it, asks to, or is idle
    for `timeout` seconds. The body is read whole before the app runs and the answer goes out in one
    write (with TCP_NODELAY: no wait for a delayed acknowledgement between two small writes)."""

    protocol_version = "HTTP/1.1"
    timeout = 60.0
    server: KeepAliveServer

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.opened(self.connection, True)

    def finish(self) -> None:
        self.server.opened(self.connection, False)
        super().finish()

    def handle(self) -> None:
        self.close_connection = True
        self.handle_one_request()
        while not self.close_connection:
            self.handle_one_request()

    def handle_one_request(self) -> None:
        try:
            self.raw_requestline = self.rfile.readline(65537)
        except OSError:  # idle past the timeout, or closed by stop()
            self.close_connection = True
            return
        if not self.raw_requestline or len(self.raw_requestline) > 65536:
            self.close_connection = True
            return
        if not self.parse_request():  # it answered the error itself
            return
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True
            self.send_error(411, "a Content-Length is required")
            return
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        environ = self.get_environ()
        environ.update({
            "wsgi.version": (1, 0), "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr, "wsgi.multithread": True, "wsgi.multiprocess": False, "wsgi.run_once": False,
        })  # fmt: skip
        self._answer(environ)

    def _answer(self, environ: dict) -> None:
        started: list = []
        chunks: list[bytes] = []

        def start_response(status, headers, exc_info=None):
            started[:] = [status, headers]
            return chunks.append

        app = self.server.get_app()
        assert app is not None
        result = app(environ, start_response)
        try:
            chunks.extend(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        content = b"".join(chunks)
        status, headers = started
        head = [f"HTTP/1.1 {status}"]
        head += [f"{name}: {value}" for name, value in headers if name.lower() not in ("content-length", "connection")]
        head.append(f"Content-Length: {len(content)}")
        if self.close_connection:
            head.append("Connection: close")
        self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + content)

    def log_message(self, format: str, *args: object) -> None:
        pass


class BackgroundServer:
    thread_name = "dev-server"
    app: WSGIApplication | None = None  # the WSGI app, set by the subclass
    keep_alive = False  # True: persistent connections (KeepAliveServer), for benchmarks
    _host: str = "127.0.0.1"
    _port: int = 0
    _server: HTTPServer | None = None
    _thread: threading.Thread | None = None

    def start(self):
        if self._server is None:
            if self.keep_alive:
                assert self.app is not None
                self._server = KeepAliveServer((self._host, self._port), self.app)
            else:
                self._server = make_server(
                    self._host, self._port, self.app, threaded=True, request_handler=QuietHandler
                )
            server = self._server
            # A short poll interval makes stop() quick (shutdown waits for one poll).
            self._thread = threading.Thread(
                target=lambda: server.serve_forever(poll_interval=0.05), name=self.thread_name, daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            if isinstance(self._server, KeepAliveServer):
                self._server.close_connections()  # the clients' idle connections: no answer after stop
            self._server.server_close()
            assert self._thread is not None
            self._thread.join()
            self._server = self._thread = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return f"http://{self._host}:{self._server.server_port}"
