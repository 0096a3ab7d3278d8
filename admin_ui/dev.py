"""Development only: sign in as a shop without the Shopify admin, and the CDN stand-ins.

`/dev/sign-in?shop=…` mints an App Bridge session token for an installed shop, as the
Shopify admin would, and opens the app with it (`reclaim demo --serve` prints this URL).
`/dev/stand-ins/<name>` serves the stand-ins for Shopify's App Bridge and Polaris scripts
that the layout falls back to when the CDN is unreachable. Both answer 404 in production.
"""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import urlencode

from flask import Blueprint, abort, redirect, request, send_from_directory
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from admin_ui.auth import app_runtime
from shop_app.devtools import hs256
from shop_app.errors import InvalidShopDomain
from shop_app.shopify.signatures import clean_shop_domain
from shop_app.storage.database import transaction
from shop_app.storage.tables import Shop

bp = Blueprint("dev", __name__, url_prefix="/dev")
STAND_INS = Path(__file__).resolve().parents[1] / "shop_app" / "devtools" / "admin_standins"
#: A signed-in demo lasts this long; real session tokens live a minute and App Bridge renews them.
SIGN_IN_LIFETIME = 8 * 3600


@bp.before_request
def _development_only() -> None:
    if not app_runtime().settings.dev_mode:
        abort(404)


@bp.get("/sign-in")
def sign_in() -> ResponseReturnValue:
    settings = app_runtime().settings
    try:
        domain = clean_shop_domain(request.args.get("shop"))
    except InvalidShopDomain as exc:
        abort(400, description=str(exc))
    with transaction(app_runtime().sessions) as session:
        installed = session.scalar(select(Shop.id).where(Shop.domain == domain, Shop.status == "installed"))
    if installed is None:
        abort(404, description=f"{domain} is not installed here")
    token = hs256.mint_session_token(
        domain,
        api_key=settings.shopify_api_key,
        api_secret=settings.shopify_api_secret,
        now=time.time(),
        lifetime=SIGN_IN_LIFETIME,
    )
    return redirect("/?" + urlencode({"shop": domain, "id_token": token}))


@bp.get("/stand-ins/<name>")
def stand_in(name: str) -> ResponseReturnValue:
    return send_from_directory(STAND_INS, name, mimetype="text/javascript", max_age=0)
