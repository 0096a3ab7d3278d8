"""App-proxy routes for browser push: the VAPID public key, the service worker, and the subscribe
endpoint. The storefront script itself is the theme app extension's own asset (extensions/reclaim-push,
served by Shopify's CDN): the storefront reaches the app only here, and only to subscribe.

Shopify forwards `https://{shop}/{prefix}/{subpath}/…` (shopify.app.toml: /apps/reclaim)
to `/proxy/…` here, signing the query. Every request: signature and freshness (401) →
a shop installed here (404) → the route. The merchant can change prefix and subpath, so
the service worker learns where it lives from the signed `path_prefix`, never from a constant
(and the storefront script from the app embed's setting).

The service worker is served from `{path_prefix}/sw.js` with scope `{path_prefix}/`: it
controls no storefront page, and needs none to receive pushes. Errors are JSON with a message
the script can log; bad input is a 4xx, never a 500.
"""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

from flask import Blueprint, Response, current_app, g, jsonify, request
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.exceptions import RequestEntityTooLarge

from shop_app.channels.push_subscriptions import InvalidSubscription, save_subscription, vapid_keys
from shop_app.errors import InvalidShopDomain
from shop_app.recovery.journeys import replan_cart
from shop_app.referral.profiles import BY_PUSH, profile_for
from shop_app.request_body import read_body
from shop_app.shopify.app_proxy import ProxyRequestRejected, verify_proxy_request
from shop_app.shopify.shops import load_settings
from shop_app.shopify.signatures import clean_shop_domain
from shop_app.storage.database import transaction
from shop_app.storage.tables import PushSubscription, Shop

bp = Blueprint("storefront", __name__, url_prefix="/proxy")

STATIC = Path(__file__).parent / "static"
CONFIG_PLACEHOLDER = "__RECLAIM_CONFIG__"
JS_MIME = "text/javascript; charset=utf-8"
#: A subscription is ~400 bytes of JSON; anything far bigger is not one.
MAX_SUBSCRIBE_BYTES = 4096
#: A Shopify customer id as the proxy signs it (logged_in_customer_id): an unsigned 64-bit number.
_CUSTOMER_ID = re.compile(r"[1-9][0-9]{0,18}")
#: The proxy path as Shopify reports it, e.g. "/apps/reclaim"; it ends up inside JavaScript.
_PATH_PREFIX = re.compile(r"^(/[A-Za-z0-9_.-]{1,40}){1,4}$")
KEY_CACHE = "public, max-age=3600"
#: Browsers check a service worker for updates on their own; never let a cache pin an old one.
WORKER_CACHE = "no-cache"


def _answer(code: int, **body: object) -> tuple[Response, int]:
    return jsonify(body), code


@bp.before_request
def verify_proxy() -> tuple[Response, int] | None:
    """Only requests Shopify signed, for a shop installed here, reach the routes."""
    runtime = current_app.extensions["reclaim"]
    try:
        proxied = verify_proxy_request(request.args.items(multi=True), runtime.settings.webhook_secrets, time.time())
    except ProxyRequestRejected as exc:
        return _answer(401, error=exc.reason)
    try:
        domain = clean_shop_domain(proxied.shop)
    except InvalidShopDomain:
        return _answer(404, error="unknown shop")
    with transaction(runtime.sessions) as session:
        shop_id = session.scalar(select(Shop.id).where(Shop.domain == domain, Shop.status == "installed"))
    if shop_id is None:
        return _answer(404, error=f"shop {domain} is not installed")
    if not _PATH_PREFIX.match(proxied.path_prefix):
        return _answer(400, error="path_prefix is missing or not a plain path")
    g.shop_id, g.proxy = shop_id, proxied
    return None


@cache
def _static(name: str) -> str:
    return (STATIC / name).read_text(encoding="utf-8")


def _script(name: str, cache_control: str) -> Response:
    """A static script with this request's configuration put in place of its placeholder."""
    runtime = current_app.extensions["reclaim"]
    config = {
        "vapidKey": vapid_keys(runtime.sessions, runtime.box).public,
        "proxy": g.proxy.path_prefix,
    }
    # json.dumps escapes quotes and (ensure_ascii) U+2028/2029; "<" is escaped so the
    # text stays inert even if a theme ever inlines it in a <script> element.
    literal = json.dumps(config).replace("<", "\\u003c")
    response = Response(_static(name).replace(CONFIG_PLACEHOLDER, literal), content_type=JS_MIME)
    response.headers["Cache-Control"] = cache_control
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.get("/push-key")
def push_key() -> Response:
    """The VAPID public key the storefront script subscribes the browser with."""
    runtime = current_app.extensions["reclaim"]
    response = jsonify(vapidKey=vapid_keys(runtime.sessions, runtime.box).public)
    response.headers["Cache-Control"] = KEY_CACHE
    return response


@bp.get("/sw.js")
def service_worker() -> Response:
    return _script("sw.js", WORKER_CACHE)


def _capture_subscriber(session: Session, shop: Shop, row: PushSubscription, customer_id: str | None) -> None:
    """A subscription from a logged-in customer makes their profile, captured by push (issue 11).

    Shopify signs the logged-in customer's id into the proxy query: it is the subscription's only
    identity. The body comes from an anonymous storefront page and could name anyone, so no email or
    customer id in it is ever taken; a shopper who is not logged in (an empty id) brings no identity
    and nothing is made here: the checkout their cart token joins captures them, if one comes. A
    known profile keeps its origin (profile_for): an imported customer never becomes captured."""
    if not customer_id or not _CUSTOMER_ID.fullmatch(customer_id):
        return
    profile = profile_for(session, shop, by=BY_PUSH, customer_id=customer_id, email=None, phone=None)
    if profile is not None and row.profile_id is None:  # a checkout of the cart may have linked one
        row.profile_id = profile.id


def _parse(body: bytes) -> dict[str, object]:
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidSubscription(f"the body must be JSON: {exc}") from None
    except RecursionError:
        raise InvalidSubscription("the body must be JSON: nested too deeply") from None
    if not isinstance(document, dict):
        raise InvalidSubscription("the body must be a JSON object {subscription, cart_token}")
    return document


@bp.post("/subscribe")
def subscribe() -> tuple[Response, int]:
    """Store the browser's subscription for its cart: {subscription, cart_token} → 201; a logged-in
    customer's profile is captured by it (`_capture_subscriber`)."""
    runtime = current_app.extensions["reclaim"]
    try:
        body = read_body(request, MAX_SUBSCRIBE_BYTES)
    except RequestEntityTooLarge:
        return _answer(413, error=f"body larger than {MAX_SUBSCRIBE_BYTES} bytes")
    try:
        document = _parse(body)
        now = datetime.now(UTC)
        with transaction(runtime.sessions) as session:
            row = save_subscription(
                session,
                g.shop_id,
                document.get("cart_token"),
                document.get("subscription"),
                now,
                allow_local=runtime.settings.dev_mode,  # http://127.0.0.1 endpoints: development only
            )
            shop = session.get_one(Shop, g.shop_id)
            _capture_subscriber(session, shop, row, g.proxy.logged_in_customer_id)
            # A checkout of this cart may already be abandoned: its journey gains a push reminder.
            if row.cart_token:  # always: save_subscription stores the checked token
                replan_cart(session, shop, row.cart_token, load_settings(session, shop), now)
    except InvalidSubscription as exc:
        return _answer(400, error=str(exc))
    return _answer(201, status="subscribed")
