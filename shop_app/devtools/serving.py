"""The lifecycle the development servers share: a WSGI app on 127.0.0.1, served from a thread.

class MyServer(BackgroundServer):
    thread_name = "dev-my-api"
    ...                      # set self.app, self._host, self._port in __init__

with MyServer() as server:
    server.url               # http://127.0.0.1:PORT (a free port unless one was given)
"""

from __future__ import annotations

import logging
import re
import threading
import time
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

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


class BackgroundServer:
    thread_name = "dev-server"
    app: WSGIApplication | None = None  # the WSGI app, set by the subclass
    _host: str = "127.0.0.1"
    _port: int = 0
    _server: BaseWSGIServer | None = None
    _thread: threading.Thread | None = None

    def start(self):
        if self._server is None:
            self._server = make_server(self._host, self._port, self.app, threaded=True, request_handler=QuietHandler)
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
