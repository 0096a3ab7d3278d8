"""`reclaim demo` and its folder (issue 14, item 8): a run that cannot start or fails half-way
leaves the last run's data where it was, and a clone without ../shared gets no warning."""

from __future__ import annotations

import logging
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner

from shop_app import runtime
from shop_app.cli import demo as demo_module
from shop_app.cli.commands import main
from shop_app.cli.demo_folder import put_back, set_aside


@pytest.fixture
def last_run(tmp_path) -> Path:
    """A previous run's folder, as `reclaim demo` left it."""
    folder = tmp_path / "instance" / "demo"
    folder.mkdir(parents=True)
    (folder / "demo.db").write_text("the last run's data")
    return folder


def test_a_port_in_use_is_one_line_and_moves_nothing(tmp_path, last_run):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(
            main, ["demo", "--port", str(port)], env={"RECLAIM_INSTANCE_DIR": str(tmp_path / "instance")}
        )
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: port {port} on 127.0.0.1 is not free (") and result.output.count("\n") == 1
    assert (last_run / "demo.db").read_text() == "the last run's data"
    assert sorted(p.name for p in last_run.parent.iterdir()) == ["demo"]


def test_set_aside_and_put_back(last_run):
    previous = set_aside(last_run)
    assert previous is not None and not last_run.exists()
    last_run.mkdir()
    (last_run / "demo.db").write_text("half a run")
    failed = put_back(last_run, previous)
    assert (last_run / "demo.db").read_text() == "the last run's data"
    assert failed is not None and (failed / "demo.db").read_text() == "half a run" and not previous.exists()
    assert set_aside(last_run.parent / "never-ran") is None


@pytest.mark.slow  # starts the embedded Redis server and the web app
def test_a_run_that_fails_puts_the_last_run_back_and_a_newcomer_sees_no_warning(
    last_run, tmp_path, monkeypatch, caplog
):
    monkeypatch.setenv("RECLAIM_ADMIN_SCHEMA", str(tmp_path / "no-shared-folder" / "2026-07.graphql"))

    def broken(self) -> None:
        raise RuntimeError("the story broke half-way")

    monkeypatch.setattr(demo_module.Demo, "run", broken)
    lines: list[str] = []
    caplog.set_level(logging.WARNING)
    try:
        with pytest.raises(RuntimeError, match="half-way"):
            demo_module.run_demo(last_run, out=lines.append)
    finally:
        runtime.reset()
    assert (last_run / "demo.db").read_text() == "the last run's data"
    failed = last_run.with_name("demo.failed")
    assert (failed / "demo.db").exists() and not last_run.with_name("demo.previous").exists()
    assert lines[-2:] == [
        f"The demo failed; the last run's data is back in {last_run}",
        f"This run's data is in {failed}",
    ]
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
