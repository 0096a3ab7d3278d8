"""Profile: the webhook request in process, through the real app, against the durable-write floor.

Each app (create_app as `reclaim serve` builds it; the floor of _apps.py) gets the same signed
~3 KB checkouts/update webhooks of one installed shop through Flask's test client. Printed: the
in-process time per request of each (median of a few passes), then, with `--profile`, cProfile's
top functions by cumulative and own time for each. The access log line gunicorn writes per request
(`reclaim serve`'s AccessLogger against gunicorn's plain Logger) is timed too, since the test
client does not write one.

Run from the project root:  python bench/profile_webhook.py [--profile] [--requests N]
(DATABASE_URL / REDIS_URL when set, else an embedded SQLite and Redis in a temporary folder.)
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import os
import pstats
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import _apps  # bench/ is the script's folder, first on sys.path
from webhook_ingest import FLOOR_SHOP, PATH, bench_environment, prepare_shop, signed_webhooks

from shop_app import create_app
from shop_app.config import Settings
from shop_app.runtime import Runtime
from shop_app.storage.database import upgrade

PASSES = 3


def post_all(client: Any, hooks: list[tuple[bytes, dict]]) -> float:
    """Seconds per request for posting every webhook (each must be accepted)."""
    started = time.perf_counter()
    for body, headers in hooks:
        answer = client.post(PATH, data=body, headers=headers)
        if answer.status_code != 200:
            raise RuntimeError(f"{answer.status_code} {answer.get_data()[:200]!r}")
    return (time.perf_counter() - started) / len(hooks)


def profile(client: Any, hooks: list[tuple[bytes, dict]], label: str) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    post_all(client, hooks)
    profiler.disable()
    for order in ("cumulative", "tottime"):
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats(order).print_stats(45)
        print(f"\n===== {label}: by {order} =====")
        print(out.getvalue()[-9000:])


def access_line_cost(count: int = 20000) -> dict[str, float]:
    """Microseconds per access line: gunicorn's Logger against `reclaim serve`'s AccessLogger."""
    from gunicorn.config import Config
    from gunicorn.glogging import Logger

    from shop_app.cli.access_log import AccessLogger

    class Response:
        status = "200 OK"
        response_length = 21
        sent = 21
        headers = [("Content-Type", "application/json"), ("Content-Length", "21")]

    class Request:
        headers = [("HOST", "127.0.0.1"), ("USER-AGENT", "Shopify-Captain-Hook"), ("X-SHOPIFY-TOPIC", "x")]

    environ = {
        "REQUEST_METHOD": "POST",
        "RAW_URI": PATH,
        "PATH_INFO": PATH,
        "QUERY_STRING": "",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
    }
    costs = {}
    for name, cls in (("gunicorn Logger", Logger), ("AccessLogger", AccessLogger)):
        cfg = Config()
        cfg.set("accesslog", os.devnull)
        logger = cls(cfg)
        started = time.perf_counter()
        for _ in range(count):
            logger.access(Response(), Request(), environ, timedelta(milliseconds=3))
        costs[name] = (time.perf_counter() - started) / count * 1e6
    return costs


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="reclaim-profile-") as tmp, contextlib.ExitStack() as stack:
        env = bench_environment(Path(tmp), stack)
        os.environ.update(env)
        settings = Settings.from_env(env)
        upgrade(settings.database_url)
        rt = Runtime.build(settings)
        stack.callback(rt.engine.dispose)
        prepare_shop(rt, stack)
        os.environ["BENCH_FLOOR_SHOP_ID"] = str(prepare_shop(rt, stack, FLOOR_SHOP))
        web = Runtime.build(settings, web=True)
        stack.callback(web.engine.dispose)
        clients = {"webhook ingest": create_app(runtime=web).test_client(), "floor": _apps.floor().test_client()}
        secret = settings.shopify_api_secret
        hooks = {name: signed_webhooks(args.requests * (PASSES + 2), secret) for name in clients}
        for name, client in clients.items():
            post_all(client, hooks[name][:200])  # warm-up
        per_request: dict[str, list[float]] = {name: [] for name in clients}
        for p in range(PASSES):
            for name, client in clients.items():
                chunk = hooks[name][200 + p * args.requests : 200 + (p + 1) * args.requests]
                per_request[name].append(post_all(client, chunk))
        for name, times in per_request.items():
            print(f"{name}: {statistics.median(times) * 1e6:.0f} µs per request in process (test client)")
        real, floor = (statistics.median(per_request[n]) for n in clients)
        print(f"in-process ratio (floor time / ingest time): {floor / real:.2f}")
        for name, cost in access_line_cost().items():
            print(f"access line, {name}: {cost:.1f} µs")
        if args.profile:
            for name, client in clients.items():
                profile(client, hooks[name][-args.requests :], name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
