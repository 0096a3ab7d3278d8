"""With PROMETHEUS_MULTIPROC_DIR set, the web figures of every web process (gunicorn's workers)
are summed in any one process's scrape: two processes answer a webhook each, the second's
scrape counts two."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from prometheus_client.parser import text_string_to_metric_families

TOKEN = "multi-process-token-0123"
#: One web process: builds the app, answers one (unsigned, so refused) webhook, and with
#: `scrape` prints its /metrics.
WEB_PROCESS = """
import os, sys
from shop_app import create_app
client = create_app().test_client()
client.post("/webhooks/orders/paid", data=b"{}")
if sys.argv[1] == "scrape":
    token = os.environ["RECLAIM_METRICS_TOKEN"]
    print(client.get("/metrics", headers={"Authorization": "Bearer " + token}).get_data(as_text=True))
"""


@pytest.mark.slow
def test_two_web_processes_counts_are_summed(rt, tmp_path):
    folder = tmp_path / "prometheus"
    folder.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(folder), "RECLAIM_METRICS_TOKEN": TOKEN}
    outputs = [
        subprocess.run([sys.executable, "-c", WEB_PROCESS, step], env=env, capture_output=True, text=True,
                       timeout=60, check=True).stdout
        for step in ("answer", "scrape")
    ]  # fmt: skip
    counted = {
        (sample.labels["topic"], sample.labels["outcome"]): sample.value
        for family in text_string_to_metric_families(outputs[1])
        for sample in family.samples
        if sample.name == "reclaim_webhooks_total"
    }
    assert counted == {("orders/paid", "unauthorized"): 2}
