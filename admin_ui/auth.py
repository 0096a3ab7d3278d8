"""Embedded-app authentication: every admin request is tied to one shop by a verified session token.

The pipeline (like shopify_app's `with_shopify_id_token`): the token from `Authorization: Bearer`, or
on a document request the `id_token` parameter → `verify_session_token` → a `shop` parameter naming
another shop is a 403 → the installed shop on `flask.g`. A bad token answers a fetch with 401 and
`X-Shopify-Retry-Invalid-Session-Request: 1` (App Bridge retries), a document with the bounce page.
Every HTML answer carries `Content-Security-Policy: frame-ancestors https://{shop} https://admin.shopify.com;`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from functools import wraps
from typing import TypeVar, overload
from urllib.parse import urlencode, urlsplit

import requests
from flask import (
    Blueprint,
    Request,
    current_app,
    g,
    jsonify,
    redirect,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from admin_ui import html
from shop_app.adapters.shopify_oauth import OAuthClient
from shop_app.errors import InvalidSessionToken, InvalidShopDomain, ReclaimError, describe
from shop_app.runtime import Runtime
from shop_app.shopify.post_install import complete_install
from shop_app.shopify.session_tokens import SessionToken, verify_session_token
from shop_app.shopify.signatures import clean_shop_domain
from shop_app.storage.database import transaction
from shop_app.storage.tables import Shop

log = logging.getLogger(__name__)
bp = Blueprint("auth", __name__)

RETRY_HEADER = "X-Shopify-Retry-Invalid-Session-Request"
ADMIN_ORIGIN = "https://admin.shopify.com"
#: Query parameters the bounce redirect must not carry back into the reloaded URL.
_BOUNCE_DROPPED = ("id_token", "shopify-reload")

View = TypeVar("View", bound=Callable[..., ResponseReturnValue])


# --- the seam for the install flow -------------------------------------------------------------


def on_first_document_load(shop_domain: str, id_token: str) -> Shop | None:
    """Shopify-managed install: the first document load carries a verified `id_token` for a
    shop we do not have (or that uninstalled). Exchange it for an expiring offline token,
    store it and queue the setup job. None (and a 401 page) when Shopify refuses or is
    unreachable; the merchant's next load tries again."""
    runtime: Runtime = current_app.extensions["reclaim"]
    now = datetime.now(UTC)
    try:
        token = OAuthClient(runtime.settings).exchange_session_token(shop_domain, id_token, now=now)
    except (ReclaimError, requests.RequestException) as exc:
        log.warning("token exchange for %s failed: %s", shop_domain, describe(exc))
        return None
    return complete_install(runtime, shop_domain, token, now)


# --- the pipeline ------------------------------------------------------------------------------


def authenticate(*, documents: bool = True) -> ResponseReturnValue | None:
    """Run the pipeline for this request; None means authenticated (see `g.shop`), otherwise the
    response to send instead. Usable as a `before_request` hook.

    `documents=False` (the JSON API) treats every request as a fetch: the token must come in the
    Authorization header and every failure is a JSON 401/403.
    """
    if g.get("session_token") is not None:  # already authenticated during this request
        return None
    fetch = not documents or is_fetch_request(request)
    raw = _token_from(request, fetch)
    runtime = app_runtime()
    settings = runtime.settings
    try:
        token = verify_session_token(
            raw,
            api_key=settings.shopify_api_key,
            secrets=(settings.shopify_api_secret, settings.shopify_api_secret_previous),
            now=datetime.now(UTC),
        )
    except InvalidSessionToken as exc:
        log.info("refused session token on %s %s: %s", request.method, request.path, exc.reason)
        return invalid_session(exc.reason) if fetch else bounce_redirect()

    g.csp_shop = token.shop  # from here on, HTML answers may be framed by this shop's admin
    if any(_clean_or_none(value) != token.shop for value in request.args.getlist("shop")):
        message = "the shop parameter does not match the shop of the session token"
        if fetch:
            return jsonify(error=message), 403
        return html.page(html.NOTICE, 403, api_key=settings.shopify_api_key, message=message)

    with transaction(runtime.sessions) as session:
        shop = session.scalar(select(Shop).where(Shop.domain == token.shop, Shop.status == "installed"))
    if shop is None and not fetch:
        shop = on_first_document_load(token.shop, raw)
    if shop is None:
        message = f"Reclaim is not installed on {token.shop}; install it from the Shopify admin."
        # No retry header and no bounce: a fresh token cannot install the app, it would only loop.
        if fetch:
            return jsonify(error=message), 401
        return html.page(html.NOTICE, 401, api_key=settings.shopify_api_key, message=message)

    g.shop = shop
    g.session_token = token
    return None


@overload
def require_shop_session(view: View) -> View: ...
@overload
def require_shop_session(*, documents: bool = True) -> Callable[[View], View]: ...


def require_shop_session(view: View | None = None, *, documents: bool = True):
    """Decorator form of `authenticate`: `@require_shop_session` or
    `@require_shop_session(documents=False)` for JSON-only views.

    Inside the view, `current_shop()` is the installed shop named by the verified token and
    `g.session_token` the token's facts. Blueprints of the admin use `authenticate` as their
    `before_request` hook instead, so a new route is protected without remembering a decorator.
    """

    def decorate(func: View) -> View:
        @wraps(func)
        def wrapped(*args, **kwargs):
            refused = authenticate(documents=documents)
            if refused is not None:
                return refused
            return func(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorate(view) if view is not None else decorate


def current_shop() -> Shop:
    """The shop of the verified session token; only inside an authenticated request."""
    shop = g.get("shop")
    if shop is None:
        raise RuntimeError("current_shop() outside an authenticated admin request (missing require_shop_session?)")
    return shop


def current_token() -> SessionToken:
    token = g.get("session_token")
    if token is None:
        raise RuntimeError("current_token() outside an authenticated admin request (missing require_shop_session?)")
    return token


def is_fetch_request(req: Request) -> bool:
    """A fetch/XHR rather than a document load: it can take a 401 and retry, a document cannot."""
    if "Authorization" in req.headers:
        return True
    if req.headers.get("X-Requested-With", "").lower() == "xmlhttprequest":
        return True
    if req.headers.get("Sec-Fetch-Dest") == "empty":
        return True
    return req.accept_mimetypes.best_match(("text/html", "application/json")) == "application/json"


def invalid_session(reason: str) -> ResponseReturnValue:
    response = jsonify(error=f"invalid session token: {reason}")
    response.status_code = 401
    response.headers[RETRY_HEADER] = "1"
    return response


def bounce_redirect() -> ResponseReturnValue:
    """Send a document request to the bounce page, which reloads this URL with a fresh `id_token`.

    Like shopify-app-js `redirectToBouncePage`: the reload URL is built on SHOPIFY_APP_URL (so it
    survives proxies that rewrite Host) and keeps every parameter but `id_token`.
    """
    kept = [(k, v) for k, v in request.args.items(multi=True) if k not in _BOUNCE_DROPPED]
    reload_url = app_runtime().settings.shopify_app_url + request.path + (f"?{urlencode(kept)}" if kept else "")
    query = urlencode([*kept, ("shopify-reload", reload_url)])
    return redirect(f"{url_for('admin_ui.auth.bounce')}?{query}")


# --- routes and hooks --------------------------------------------------------------------------


@bp.get("/auth/session-token")
def bounce() -> ResponseReturnValue:
    """The bounce page: only App Bridge, which gets a session token and reloads `shopify-reload`."""
    settings = app_runtime().settings
    target = request.args.get("shopify-reload", "")
    if not _same_app(target, settings.shopify_app_url):
        message = "shopify-reload must be a URL of this app"
        return html.page(html.NOTICE, 400, api_key=settings.shopify_api_key, message=message)
    return html.page(html.BOUNCE, api_key=settings.shopify_api_key)


@bp.after_app_request
def frame_ancestors(response):
    """Every HTML answer may be framed only by the Shopify admin and the shop in question: the
    verified token's shop, or before verification a valid `shop` parameter (bounce page)."""
    if response.mimetype != "text/html":
        return response
    shop = g.get("csp_shop") or _clean_or_none(request.args.get("shop"))
    sources = f"https://{shop} {ADMIN_ORIGIN}" if shop else ADMIN_ORIGIN
    directive = f"frame-ancestors {sources};"
    existing = response.headers.get("Content-Security-Policy")
    if not existing:
        response.headers["Content-Security-Policy"] = directive
    elif "frame-ancestors" not in existing:
        response.headers["Content-Security-Policy"] = f"{existing.rstrip().rstrip(';')}; {directive}"
    return response


# --- helpers -----------------------------------------------------------------------------------


def app_runtime() -> Runtime:
    return current_app.extensions["reclaim"]


def _token_from(req: Request, fetch: bool) -> str:
    header = req.headers.get("Authorization")
    if header is not None:
        scheme, _, value = header.strip().partition(" ")
        return value.strip() if scheme.lower() == "bearer" else ""
    if not fetch:
        return req.args.get("id_token", "")
    return ""


def _clean_or_none(value: str | None) -> str | None:
    try:
        return clean_shop_domain(value)
    except InvalidShopDomain:
        return None


def _same_app(target: str, app_url: str) -> bool:
    """True for an absolute URL on SHOPIFY_APP_URL's origin or a path on this host."""
    if not target:
        return False
    try:
        parts, app = urlsplit(target), urlsplit(app_url)
    except ValueError:
        return False
    if not parts.scheme and not parts.netloc:
        return target.startswith("/") and not target.startswith("//") and "\\" not in target
    return (parts.scheme, parts.netloc) == (app.scheme, app.netloc)
