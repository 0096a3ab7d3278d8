"""PROMETHEUS_MULTIPROC_DIR that is not usable never costs an answer: a folder gone under a web
process (a tmpfs after a reboot, a typo) leaves every request answered and one warning logged;
a corrupt figures file shows as `reclaim_source_up{source="processes"} 0` on /metrics; `reclaim
serve` refuses a missing folder in one line and clears the last run's files before it starts.
prometheus_client reads the variable at import: each case is a process of its own."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.processes import wait_for
from tests.smtp_server import free_port

TOKEN = "multi-process-token-0123"
ROOT = Path(__file__).parents[2]
#: One web process: /healthz twice, an unsigned webhook (401), then /metrics; prints the codes
#: and the scrape.
WEB_PROCESS = """
import os
from shop_app import create_app
client = create_app().test_client()
codes = [client.get("/healthz").status_code, client.get("/healthz").status_code,
         client.post("/webhooks/orders/paid", data=b"{}").status_code]
scrape = client.get("/metrics", headers={"Authorization": "Bearer " + os.environ["RECLAIM_METRICS_TOKEN"]})
print(*codes, scrape.status_code)
print(scrape.get_data(as_text=True))
"""


def web_process(folder: Path) -> tuple[list[int], str, str]:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(folder), "RECLAIM_METRICS_TOKEN": TOKEN}
    done = subprocess.run([sys.executable, "-c", WEB_PROCESS], env=env, capture_output=True, text=True,
                          timeout=60, cwd=ROOT)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    first, _, scrape = done.stdout.partition("\n")
    return [int(code) for code in first.split()], scrape, done.stderr


def source_up(scrape: str) -> dict[str, float]:
    return {
        sample.labels["source"]: sample.value
        for family in text_string_to_metric_families(scrape)
        for sample in family.samples
        if sample.name == "reclaim_source_up"
    }


@pytest.mark.slow
def test_a_missing_folder_answers_every_request_and_warns_once(rt, tmp_path):
    codes, scrape, stderr = web_process(tmp_path / "gone")
    assert codes == [200, 200, 401, 200]  # the webhook's own answer (unsigned), not a 500
    assert stderr.count("metrics: could not record a request") == 1, stderr[-2000:]
    assert source_up(scrape) == {"processes": 0.0, "database": 1.0, "redis": 1.0}


@pytest.mark.slow
def test_a_corrupt_figures_file_shows_as_the_processes_source_down(rt, tmp_path):
    folder = tmp_path / "prometheus"
    folder.mkdir()
    (folder / "counter_999999.db").write_bytes(b"")  # created, never written: a crash
    codes, scrape, _ = web_process(folder)
    assert codes == [200, 200, 401, 200]
    assert source_up(scrape) == {"processes": 0.0, "database": 1.0, "redis": 1.0}
    (folder / "counter_999999.db").unlink()
    codes, scrape, _ = web_process(folder)
    assert source_up(scrape) == {"processes": 1.0, "database": 1.0, "redis": 1.0}
    assert "reclaim_webhooks_total" in scrape


@pytest.mark.slow
def test_reclaim_serve_refuses_a_missing_folder_and_clears_the_last_runs_files(rt, tmp_path):
    serve = [sys.executable, "-m", "shop_app.cli.commands", "serve", "--workers", "1"]
    env = {**os.environ, "RECLAIM_METRICS_TOKEN": TOKEN, "PORT": str(free_port())}
    missing = tmp_path / "gone"
    refused = subprocess.run(serve, env={**env, "PROMETHEUS_MULTIPROC_DIR": str(missing)}, capture_output=True,
                             text=True, timeout=30, cwd=ROOT)  # fmt: skip
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines() == [
        f"Error: PROMETHEUS_MULTIPROC_DIR={missing} is not a folder (create it, or unset it)"
    ]

    folder = tmp_path / "prometheus"
    folder.mkdir()
    (folder / "counter_999999.db").write_bytes(b"")  # the last run's, empty
    (folder / "notes.txt").write_text("not prometheus_client's: stays")
    log_file = tmp_path / "serve.log"
    with open(log_file, "wb") as output:
        server = subprocess.Popen(serve, env={**env, "PROMETHEUS_MULTIPROC_DIR": str(folder)}, stdout=output,
                                  stderr=subprocess.STDOUT, cwd=ROOT)  # fmt: skip
    try:
        request = urllib.request.Request(f"http://127.0.0.1:{env['PORT']}/metrics",
                                         headers={"Authorization": f"Bearer {TOKEN}"})  # fmt: skip
        scraped: list[str] = []

        def answered() -> bool:
            try:
                with urllib.request.urlopen(request, timeout=2) as response:
                    scraped.append(response.read().decode())
                    return True
            except OSError:
                return False

        wait_for(answered, 30, f"reclaim serve did not answer; its log:\n{log_file.read_text()}")
    finally:
        server.terminate()
        server.wait(10)
    assert not (folder / "counter_999999.db").exists()
    assert (folder / "notes.txt").exists()
    assert source_up(scraped[0])["processes"] == 1.0
