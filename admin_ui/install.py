"""Install by authorization code grant: `/auth` starts it, `/auth/callback` ends it.

    GET /auth?shop&timestamp&hmac[&host]                → 302 to the shop's /admin/oauth/authorize
    GET /auth/callback?code&hmac&shop&state&timestamp   → code exchanged, shop installed, 302 to the app

Both come from Shopify and are checked first: the query HMAC (current or previous secret; else 401),
a `timestamp` within 90 s of `clock()` (401) and a `*.myshopify.com` shop (403). The callback must
also carry the `state` nonce `/auth` put in a signed, 10-minute, SameSite=Lax cookie for that shop
(403), so `/auth` must be opened as a top-level page. A missing or refused code is a 400, an
unreachable Shopify a 502. Afterwards the browser goes to the app in the Shopify admin, or to this
app's `/?shop=` when SHOPIFY_ADMIN_BASE_URL points at a development Admin API.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
from datetime import UTC, datetime
from urllib.parse import urlencode, urlsplit

from flask import Blueprint, current_app, redirect, request
from flask.typing import ResponseReturnValue
from itsdangerous import BadSignature, URLSafeSerializer
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from admin_ui import html
from admin_ui.auth import app_runtime
from shop_app.adapters.shopify_http import shop_base_url
from shop_app.adapters.shopify_oauth import OAuthClient
from shop_app.config import DEFAULT_ADMIN_BASE_URL, Settings
from shop_app.errors import (
    AdminApiError,
    AdminApiUnavailable,
    InvalidShopDomain,
    ReclaimError,
    TokenExchangeRejected,
    describe,
)
from shop_app.shopify.post_install import complete_install
from shop_app.shopify.signatures import clean_shop_domain

log = logging.getLogger(__name__)
bp = Blueprint("install", __name__)

#: The access scopes of shopify.app.toml's [access_scopes] (a test keeps the two equal).
SCOPES = "read_orders,read_customers,write_discounts,write_app_proxy"
#: Largest |now - timestamp| accepted on a signed query (JSLIB's rule).
TIMESTAMP_TOLERANCE_SECONDS = 90
STATE_COOKIE = "reclaim_oauth_state"
STATE_COOKIE_PATH = "/auth"
STATE_MAX_AGE_SECONDS = 600
CALLBACK_PATH = "/auth/callback"
ADMIN_APPS_URL = "https://admin.shopify.com/store/{handle}/apps/{api_key}"
#: Never part of the signed message (JSLIB drops both).
_UNSIGNED = ("hmac", "signature")


def _utcnow() -> datetime:
    return datetime.now(UTC)


#: The time the freshness checks and the install use; tests replace it.
clock = _utcnow


class Refused(ReclaimError):
    """A request this flow answers with `status` and a message for the merchant."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


# --- routes ------------------------------------------------------------------------------------


@bp.get("/auth")
def start() -> ResponseReturnValue:
    settings = app_runtime().settings
    now = clock()
    try:
        shop = verified_shop(request.args, _secrets(), now)
    except Refused as exc:
        return _refusal(exc)
    nonce = secrets.token_urlsafe(24)
    query = urlencode(
        {
            "client_id": settings.shopify_api_key,
            "scope": SCOPES,
            "redirect_uri": settings.shopify_app_url + CALLBACK_PATH,
            "state": nonce,
        }
    )
    response = redirect(f"{shop_base_url(settings, shop)}/admin/oauth/authorize?{query}")
    response.set_cookie(
        STATE_COOKIE,
        _serializer().dumps({"shop": shop, "nonce": nonce, "expires": int(now.timestamp()) + STATE_MAX_AGE_SECONDS}),
        max_age=STATE_MAX_AGE_SECONDS,
        path=STATE_COOKIE_PATH,
        secure=urlsplit(settings.shopify_app_url).scheme == "https",
        httponly=True,
        samesite="Lax",
    )
    return response


@bp.get("/auth/callback")
def callback() -> ResponseReturnValue:
    rt = app_runtime()
    now = clock()
    try:
        shop = verified_shop(request.args, _secrets(), now)
        _check_state(shop, request.args.get("state", ""), request.cookies.get(STATE_COOKIE), now)
        code = request.args.get("code", "")
        if not code:
            raise Refused(400, "The install link has no authorization code.")
    except Refused as exc:
        return _refusal(exc)

    # The nonce is spent from here on, whatever Shopify answers.
    response: Response
    try:
        token = OAuthClient(rt.settings).exchange_code(shop, code, now=now)
    except TokenExchangeRejected as exc:
        log.info("authorization code for %s refused: %s", shop, describe(exc))
        response = _refusal(
            Refused(
                400,
                "Shopify did not accept this install link (it may have been used "
                "already or have expired). Start the install again from the Shopify admin.",
            )
        )
    except (AdminApiUnavailable, AdminApiError) as exc:
        log.warning("authorization code exchange for %s failed: %s", shop, describe(exc))
        response = _refusal(Refused(502, "Shopify could not be reached to finish the install. Please try again."))
    else:
        complete_install(rt, shop, token, now)
        log.info("installed %s by authorization code", shop)
        response = redirect(embedded_app_url(rt.settings, shop))
    response.delete_cookie(STATE_COOKIE, path=STATE_COOKIE_PATH)
    return response


def embedded_app_url(settings: Settings, shop: str) -> str:
    """Where the browser goes after the install (see the module docstring)."""
    if settings.shopify_admin_base_url != DEFAULT_ADMIN_BASE_URL:
        return "/?" + urlencode({"shop": shop})
    return ADMIN_APPS_URL.format(handle=shop.removesuffix(".myshopify.com"), api_key=settings.shopify_api_key)


# --- checks ------------------------------------------------------------------------------------


def verified_shop(args: MultiDict[str, str], app_secrets: tuple[str, ...], now: datetime) -> str:
    """The shop of a query Shopify signed: HMAC first, then timestamp, then the shop domain."""
    if not query_hmac_valid(args, app_secrets):
        raise Refused(401, "This request was not signed by Shopify.")
    try:
        timestamp = int(args.get("timestamp", ""))
    except ValueError:
        raise Refused(401, "This request has no valid timestamp.") from None
    if abs(now.timestamp() - timestamp) > TIMESTAMP_TOLERANCE_SECONDS:
        raise Refused(401, "This request has expired; start the install again from the Shopify admin.")
    try:
        return clean_shop_domain(args.get("shop"))
    except InvalidShopDomain:
        raise Refused(403, "The shop must be a *.myshopify.com domain.") from None


def query_hmac_valid(args: MultiDict[str, str], app_secrets: tuple[str, ...]) -> bool:
    """Hex HMAC-SHA256 of the sorted `key=value&...` message, compared in constant time
    against every secret (so timing does not tell which one matched)."""
    given = args.getlist("hmac")
    message = signed_message(args)
    if len(given) != 1 or message is None:
        return False
    ok = False
    for secret in app_secrets:
        expected = hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()
        ok |= hmac.compare_digest(expected.encode(), given[0].encode())
    return ok


def signed_message(args: MultiDict[str, str]) -> str | None:
    """The message Shopify signs, or None when the query has a repeated key that is not `name[]`.

    Like the Python library: `ids[]=1&ids[]=2` is signed as `ids=["1", "2"]`; `%` and `=` in keys and
    `%` in values are escaped, and so is `&` anywhere, so one parameter cannot pose as two.
    """
    pairs: dict[str, str] = {}
    for key, values in args.lists():
        if key in _UNSIGNED:
            continue
        if key.endswith("[]"):
            key, value = key[:-2], json.dumps(values)
        elif len(values) == 1:
            value = values[0]
        else:
            return None
        key = key.replace("%", "%25").replace("=", "%3D").replace("&", "%26")
        if key in pairs:  # `ids` and `ids[]` both present
            return None
        pairs[key] = value.replace("%", "%25").replace("&", "%26")
    return "&".join(f"{key}={pairs[key]}" for key in sorted(pairs))


def _check_state(shop: str, state: str, cookie: str | None, now: datetime) -> None:
    """The callback's `state` must be the nonce that `/auth` stored in this browser for this shop."""
    not_started_here = Refused(
        403, "This install was not started from this browser; start it again from the Shopify admin."
    )
    if not state or not cookie:
        raise not_started_here
    try:
        saved = _serializer().loads(cookie)
    except BadSignature:  # tampered with, or signed with another SECRET_KEY
        raise not_started_here from None
    if not isinstance(saved, dict) or not isinstance(saved.get("nonce"), str):
        raise not_started_here
    if not isinstance(saved.get("expires"), int) or saved["expires"] < now.timestamp():
        raise Refused(403, "This install has expired; start it again from the Shopify admin.")
    same_nonce = hmac.compare_digest(saved["nonce"].encode(), state.encode())
    if not (same_nonce and saved.get("shop") == shop):
        raise not_started_here


# --- helpers -----------------------------------------------------------------------------------


def _secrets() -> tuple[str, ...]:
    return app_runtime().settings.webhook_secrets  # the app secret, and the previous one during a rotation


def _serializer() -> URLSafeSerializer:
    """Signs the state cookie with the app's SECRET_KEY; its expiry is inside, checked against `clock()`."""
    key = current_app.secret_key
    if key is None:  # create_app sets it from RECLAIM_SECRET_KEY
        raise RuntimeError("the app has no SECRET_KEY to sign the install state with")
    return URLSafeSerializer(key, salt="reclaim-oauth-state")


def _refusal(exc: Refused) -> Response:
    log.info("refused %s %s: %d %s", request.method, request.path, exc.status, exc.message)
    return html.page(html.NOTICE, exc.status, api_key=app_runtime().settings.shopify_api_key, message=exc.message)
