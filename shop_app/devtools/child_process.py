"""A development server run in a child process, driven from the parent as if it were in process.

    with InChildProcess(lambda: TwilioApiServer(validate=False)) as twilio:
        twilio.api_base                  # attributes and properties: read in the child, the value sent back
        twilio.account(from_number=...)  # methods: called in the child, the answer (or exception) sent back

For benchmarks (bench/send_job.py): in production Shopify and Twilio are other machines, so what
their stand-ins do should not compete with the measured process for its interpreter lock. The
child is forked, so the factory needs no pickling and the servers' modules are already imported;
fork it before the parent starts any thread. Every value that crosses the pipe is pickled: the
records the servers keep (frozen dataclasses) do; a live object of the server (a lock, the app)
does not, so it cannot be read from the parent.
"""

from __future__ import annotations

import multiprocessing
import pickle
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from shop_app.devtools.serving import BackgroundServer
from shop_app.errors import ReclaimError

_CALLABLE = "callable"
_VALUE = "value"
_ERROR = "error"
_STOP = "stop"
START_SECONDS = 60.0  # validation loads the 3.8 MB Admin schema in the child first


class DevServerProcessError(ReclaimError):
    """The child process died or answered what the parent cannot use."""


class InChildProcess:
    """`factory()`'s server started in a forked child process; attribute reads and method calls
    are forwarded to it over a pipe, one at a time."""

    def __init__(self, factory: Callable[[], BackgroundServer]):
        self._factory = factory
        self._conn: Connection | None = None
        self._process: multiprocessing.process.BaseProcess | None = None

    def start(self) -> InChildProcess:
        if self._process is None:
            context = multiprocessing.get_context("fork")
            parent, child = context.Pipe()
            process = context.Process(target=_serve, args=(self._factory, child), name="dev-server", daemon=True)
            process.start()
            child.close()
            self._conn, self._process = parent, process
            self._answer(START_SECONDS)  # "ready", or the exception the server raised on start
        return self

    def stop(self) -> None:
        conn, process = self._conn, self._process
        self._conn = self._process = None
        if conn is None or process is None:
            return
        try:
            conn.send((_STOP, "", (), {}))
            conn.poll(10.0)
        except (BrokenPipeError, EOFError, OSError):
            pass
        conn.close()
        process.join(10.0)
        if process.is_alive():
            process.kill()
            process.join()

    def __enter__(self) -> InChildProcess:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        kind, value = self._ask("get", name)
        if kind == _CALLABLE:
            return lambda *args, **kwargs: self._ask("call", name, args, kwargs)[1]
        return value

    def _ask(self, verb: str, name: str, args: tuple = (), kwargs: dict | None = None) -> tuple[str, Any]:
        if self._conn is None:
            raise DevServerProcessError("the development server's child process is not started")
        self._conn.send((verb, name, args, kwargs or {}))
        return self._answer(None)

    def _answer(self, timeout: float | None) -> tuple[str, Any]:
        assert self._conn is not None
        if timeout is not None and not self._conn.poll(timeout):
            raise DevServerProcessError(f"the development server's child process did not answer in {timeout:g} s")
        try:
            kind, value = self._conn.recv()
        except EOFError as exc:
            raise DevServerProcessError("the development server's child process died") from exc
        if kind == _ERROR:
            raise value
        return kind, value


def _serve(factory: Callable[[], BackgroundServer], conn: Connection) -> None:
    """The child: start the server, then answer the parent's requests until it says stop."""
    try:
        server = factory().start()
    except Exception as exc:
        conn.send((_ERROR, _portable(exc)))
        return
    conn.send((_VALUE, "ready"))
    try:
        while True:
            try:
                verb, name, args, kwargs = conn.recv()
            except EOFError:  # the parent is gone
                return
            if verb == _STOP:
                conn.send((_VALUE, None))
                return
            try:
                value = getattr(server, name)
                if verb == "get":
                    answer = (_CALLABLE, None) if callable(value) else (_VALUE, value)
                else:
                    answer = (_VALUE, value(*args, **kwargs))
                conn.send(answer)
            except Exception as exc:
                conn.send((_ERROR, _portable(exc)))
    finally:
        server.stop()


def _portable(exc: Exception) -> Exception:
    """The exception if it pickles, else a DevServerProcessError with its text and traceback."""
    try:
        pickle.dumps(exc)
        return exc
    except Exception:
        text = "".join(traceback.format_exception(exc))
        return DevServerProcessError(f"in the development server's child process: {text}")
