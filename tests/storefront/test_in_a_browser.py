"""The storefront script in a real browser (Debian's Chromium, driven by Playwright).

A small storefront runs on 127.0.0.1: its page is what the theme app embed renders (the config
element, and the extension's own reclaim-push.js from "the CDN", a path of the storefront that
serves the extension's asset file), `/cart.js` answers with a cart, and `/apps/reclaim/*` is
forwarded to the app's `/proxy/*` with the signed query Shopify's app proxy adds. Everything
the browser does is real — the offer, the permission, the service worker registered at the
proxy path, the POST through the proxy — except `PushManager.subscribe`, which in a real
browser asks Google's or Mozilla's push service (out of reach here); it is replaced by one
that returns a subscription to the local push service of tests/push_peer.py, so the reminder
can then be pushed and decrypted.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from pathlib import Path

import pytest
from flask import Flask, Response, request
from werkzeug.serving import make_server

from shop_app.channels.push_subscriptions import vapid_keys
from shop_app.shopify.app_proxy import signed_query
from tests.push_peer import Browser, PushService

pytestmark = pytest.mark.slow  # starts Chromium

ABANDONED = "2026-03-02T19:00:00+01:00"
WITH_PUSH = {
    "recovery": {"first": {"channels": ["email", "push"]}, "whatsapp": {"enabled": False}, "prime": {"enabled": False}}
}
PROXY = "/apps/reclaim"
#: The extension's asset, as Shopify's CDN serves it (the block's schema names it: "javascript").
ASSET = Path(__file__).resolve().parents[2] / "extensions" / "reclaim-push" / "assets" / "reclaim-push.js"
CDN = "/cdn/shop/t/1/assets/reclaim-push.js"
PAGE = f"""<!doctype html><html><head><meta charset="utf-8"><title>Demo Shop</title>
<script src="{CDN}" defer></script></head><body><h1>Demo Shop</h1>
<script type="application/json" id="reclaim-push-config">{{"proxy": "{PROXY}"}}</script></body></html>"""


def chromium_path() -> str:
    path = os.environ.get("RECLAIM_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        path = None
    if not path:
        if os.environ.get("CI") == "true":
            pytest.fail("Chromium and Playwright must be installed under CI (.ci/run installs them)")
        pytest.skip("no Chromium or Playwright here: install Debian's chromium and `pip install playwright`")
    return path


class Storefront:
    """The shop's storefront, as far as the script sees it, with Shopify's app proxy in front of the app."""

    def __init__(self, app, secret: str, shop: str, cart: dict):
        self.cart, self.forwarded = cart, []
        proxied = app.test_client()
        front = Flask("storefront")

        @front.get("/")
        def page():
            return Response(PAGE, mimetype="text/html")

        @front.get(CDN)
        def asset():
            return Response(ASSET.read_text(encoding="utf-8"), mimetype="text/javascript")

        @front.get("/cart.js")
        def cart_js():
            return Response(json.dumps(self.cart), mimetype="application/json")

        @front.route(f"{PROXY}/<path:path>", methods=["GET", "POST"])
        def proxy(path):
            query = signed_query(
                {"shop": shop, "path_prefix": PROXY, "timestamp": str(int(time.time())), "logged_in_customer_id": ""},
                secret,
            )
            answer = proxied.open(
                f"/proxy/{path}",
                method=request.method,
                query_string=query,
                data=request.get_data(),
                content_type=request.content_type,
            )
            self.forwarded.append((request.method, path, answer.status_code))
            headers = {k: v for k, v in answer.headers if k.lower() in ("content-type", "cache-control")}
            return Response(answer.get_data(), status=answer.status_code, headers=headers)

        self._server = make_server("127.0.0.1", 0, front, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()


def fake_push_registration(browser: Browser) -> str:
    """Replaces only PushManager.subscribe (it needs a real push service); records the key it was given."""
    subscription = json.dumps(browser.subscription)
    return f"""
    PushManager.prototype.getSubscription = function () {{ return Promise.resolve(null); }};
    PushManager.prototype.subscribe = function (options) {{
      var bytes = new Uint8Array(options.applicationServerKey), text = '';
      for (var i = 0; i < bytes.length; i++) {{ text += String.fromCharCode(bytes[i]); }}
      window.__reclaimKey = btoa(text).replace(/\\+/g, '-').replace(/\\//g, '_').replace(/=+$/, '');
      var sub = {subscription};
      return Promise.resolve({{ endpoint: sub.endpoint, toJSON: function () {{ return sub; }} }});
    }};
    """


@pytest.fixture
def chromium():
    from playwright.sync_api import sync_playwright

    path = chromium_path()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


def test_a_shopper_says_yes_and_gets_the_reminder_in_their_browser(store, app, rt, chromium):
    store.set_settings(WITH_PUSH)
    store.deliver("checkouts/create", store.checkout("c1", ABANDONED))  # cart token "cart-c1"
    with (
        PushService() as push,
        Storefront(app, rt.settings.shopify_api_secret, store.domain, {"token": "cart-c1", "item_count": 2}) as shop,
    ):
        subscriber = Browser(push.endpoint())
        context = chromium.new_context()
        context.grant_permissions(["notifications"], origin=shop.origin)
        context.add_init_script(fake_push_registration(subscriber))
        page = context.new_page()
        page.goto(shop.origin + "/")
        with page.expect_response(lambda r: r.url.endswith(f"{PROXY}/subscribe")) as answer:
            page.get_by_role("button", name="Remind me").click()
        assert answer.value.status == 201
        scopes = page.evaluate("navigator.serviceWorker.getRegistrations().then(rs => rs.map(r => r.scope))")
        assert scopes == [f"{shop.origin}{PROXY}/"]  # the worker lives at the proxy path, not the shop's root
        assert page.evaluate("window.__reclaimKey") == vapid_keys(rt.sessions, rt.box).public
        assert ("GET", "push-key", 200) in shop.forwarded and ("GET", "sw.js", 200) in shop.forwarded
        assert {path for _, path, _ in shop.forwarded} == {"push-key", "sw.js", "subscribe"}  # the app: only these
        context.close()

        # The checkout's journey gained a push reminder; it is pushed when due and decrypts in the browser.
        store.tick("2026-03-02T19:00:00+00:00")
        assert store.message(channel="push")["status"] == "sent"
        [received] = push.received
        assert "Demo Shop" in subscriber.payload(received)["title"]


def test_no_thanks_is_remembered_and_an_empty_cart_is_offered_nothing(store, app, rt, chromium):
    with Storefront(app, rt.settings.shopify_api_secret, store.domain, {"token": "cart-c1", "item_count": 0}) as shop:
        context = chromium.new_context()
        page = context.new_page()
        page.goto(shop.origin + "/")
        page.wait_for_load_state("networkidle")
        assert page.get_by_role("button", name="Remind me").count() == 0  # nothing in the cart: no offer

        shop.cart = {"token": "cart-c1", "item_count": 1}
        page.reload()
        page.get_by_role("button", name="No thanks").click()
        page.reload()
        page.wait_for_load_state("networkidle")
        assert page.get_by_role("button", name="Remind me").count() == 0  # asked once, never again
        assert not any(path == "subscribe" for _, path, _ in shop.forwarded)
        context.close()
