"""Ctrl-C during `reclaim demo` (issue 14 review, item 5): one line saying the previous run's data is
back in place, exit status 130, no traceback (RQ's StopRequested or KeyboardInterrupt)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from shop_app.cli.demo_folder import ending, set_aside

ROOT = Path(__file__).resolve().parents[2]


def test_the_ending_of_an_interrupted_run_is_one_line_and_puts_the_previous_run_back(tmp_path):
    folder = tmp_path / "demo"
    folder.mkdir()
    (folder / "demo.db").write_text("the last run's data")
    previous = set_aside(folder)
    folder.mkdir()
    (folder / "demo.db").write_text("half a run")
    assert ending(folder, previous, told=False, interrupted=True) == [
        f"interrupted; the previous demo's data is back in place ({folder}); "
        f"this run's data is in {folder.with_name('demo.failed')}"
    ]
    assert (folder / "demo.db").read_text() == "the last run's data"
    assert ending(folder, None, told=True, interrupted=True) == [f"interrupted; this run's data is kept in {folder}"]
    assert ending(folder, None, told=True, interrupted=False) == []


@pytest.mark.slow  # runs the whole demo in a process and interrupts it
def test_ctrl_c_during_the_story_ends_in_one_line_with_130(tmp_path):
    instance = tmp_path / "instance"
    (instance / "demo").mkdir(parents=True)
    (instance / "demo" / "demo.db").write_text("the last run's data")
    env = {**os.environ, "RECLAIM_INSTANCE_DIR": str(instance), "PYTHONUNBUFFERED": "1"}
    for key in ("DATABASE_URL", "REDIS_URL", "RECLAIM_ENV"):
        env.pop(key, None)
    process = subprocess.Popen(
        [sys.executable, "-m", "shop_app.cli.commands", "demo"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert process.stdout is not None
    lines = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        lines.append(line)
        if "webhook checkouts/create" in line or not line:
            break  # the story is under way
    time.sleep(0.5)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    said = [*lines, *out.splitlines(keepends=True)]
    assert process.returncode == 130, (said[-5:], err[-2000:])
    assert "Traceback" not in err and "StopRequested" not in err, err[-2000:]
    assert said[-1].startswith(f"interrupted; the previous demo's data is back in place ({instance / 'demo'})")
    assert (instance / "demo" / "demo.db").read_text() == "the last run's data"
