"""/healthz (issue 14, item 5): the database and Redis decide the answer, within a second; the
workers' heartbeats and the scheduler's last passes are reported, stale ones listed, never a 503."""

from __future__ import annotations

import time

from shop_app import create_app, runtime


def test_healthz_with_redis_unreachable_is_a_quick_503_naming_it(rt, closed_port):
    web = runtime.Runtime.build(rt.settings.with_overrides(redis_url=f"redis://127.0.0.1:{closed_port}/0"), web=True)
    try:
        client = create_app(runtime=web).test_client()
        started = time.monotonic()
        health = client.get("/healthz")
        took = time.monotonic() - started
    finally:
        web.close()
    body = health.get_json()
    print(f"/healthz with Redis refused: {health.status_code} {body} in {took:.2f} s")
    assert health.status_code == 503 and took < 1
    assert body["ok"] is False and list(body["problems"]) == ["redis"]
    assert body["problems"]["redis"].startswith("ConnectionError")
    assert (body["workers"], body["passes"], body["stale"]) == (None, None, [])
    assert "Traceback" not in health.get_data(as_text=True)


def test_healthz_without_workers_is_200_and_says_they_are_stale(client):
    health = client.get("/healthz")
    assert health.status_code == 200
    assert health.get_json() == {
        "ok": True,
        "problems": {},
        "workers": {"registered": 0, "newest_heartbeat_age_seconds": None, "unreadable": []},
        "passes": {"dispatch": {"age_seconds": None}, "reconcile": {"age_seconds": None}},
        "stale": ["workers", "dispatch", "reconcile"],
    }
