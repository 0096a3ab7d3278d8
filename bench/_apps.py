"""WSGI entry points for the benchmarks, loaded by gunicorn as `_apps:real()` / `_apps:bare()`."""

from flask import Flask, jsonify, request


def real():
    """The Reclaim app, configured from the environment the benchmark passes in."""
    from shop_app import create_app

    return create_app()


def bare():
    """The floor: the same HTTP server and Flask, one POST route that reads the body and says 200."""
    app = Flask("bare")

    @app.get("/healthz")
    def healthz():
        return jsonify(ok=True)

    @app.post("/webhooks/<path:topic>")
    def accept(topic):
        request.get_data(cache=False)
        return jsonify(status="accepted")

    return app
