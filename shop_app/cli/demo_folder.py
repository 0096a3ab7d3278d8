"""Where `reclaim demo` keeps its data and serves, and how a run that fails leaves the last run's alone.

A run starts by moving the previous run's folder aside (`demo` → `demo.previous`), not by deleting
it. Once the story has been told, the previous folder goes. A run that fails before that puts
its own folder at `demo.failed` (for a look at what went wrong) and the previous one back.
A port the demo was asked to use but cannot is refused before anything is moved. Ctrl-C during
the story is such a failure too, told in one line (no traceback) with exit status 130.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import threading
from pathlib import Path

from rq.exceptions import StopRequested

from shop_app.errors import ReclaimError

#: What Ctrl-C raises in the demo: KeyboardInterrupt, or RQ's StopRequested when it comes while a
#: drain worker (which installs its own SIGINT handler) is working or has just worked.
INTERRUPTS = (KeyboardInterrupt, StopRequested)
#: The exit status of a run stopped by Ctrl-C (128 + SIGINT), as a shell reports it.
INTERRUPTED = 130


class DemoFailed(ReclaimError):
    """The demo cannot start; one line for the person who ran it."""


def check_port(port: int) -> None:
    """Refuse a port already in use on 127.0.0.1 (0: a free one is picked later)."""
    if not port:
        return
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            raise DemoFailed(
                f"port {port} on 127.0.0.1 is not free ({exc.strerror}): "
                "pick another --port, or leave it out for a free one"
            ) from None


def _beside(folder: Path, suffix: str) -> Path:
    return folder.with_name(folder.name + suffix)


def set_aside(folder: Path) -> Path | None:
    """Move the previous run's folder to `<folder>.previous`; None when there is none."""
    if not folder.exists():
        return None
    previous = _beside(folder, ".previous")
    shutil.rmtree(previous, ignore_errors=True)
    folder.rename(previous)
    return previous


def keep_this_run(previous: Path | None) -> None:
    """The story was told: the previous run's data is not needed any more."""
    if previous is not None:
        shutil.rmtree(previous, ignore_errors=True)


def put_back(folder: Path, previous: Path | None) -> Path | None:
    """A failed run: its folder moves to `<folder>.failed` (returned), the previous one comes back."""
    failed = None
    if folder.exists():
        failed = _beside(folder, ".failed")
        shutil.rmtree(failed, ignore_errors=True)
        folder.rename(failed)
    if previous is not None and previous.exists():
        previous.rename(folder)
    return failed


def ending(folder: Path, previous: Path | None, told: bool, interrupted: bool) -> list[str]:
    """The run's last lines; a run that did not tell its story puts the previous run's folder back."""
    if told:
        return [f"interrupted; this run's data is kept in {folder}"] if interrupted else []
    failed = put_back(folder, previous)
    kept = f"This run's data is in {failed}" if failed is not None else ""
    if interrupted:  # one line
        back = "the previous demo's data is back in place" if previous else "there was no earlier demo data"
        return [f"interrupted; {back} ({folder})" + (f"; this run's data is in {failed}" if failed else "")]
    said = f"The demo failed; the last run's data is back in {folder}" if previous else "The demo failed."
    return [said, kept] if kept else [said]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_interrupt(url: str) -> None:
    """`reclaim demo --serve`: keep the admin up until Ctrl-C."""
    with contextlib.suppress(KeyboardInterrupt):
        threading.Event().wait()
