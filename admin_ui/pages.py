"""Admin documents loaded inside the Shopify admin iframe. Every route here requires a session.

Only the home page exists so far (the real pages come in a later issue); it makes the document
path of the auth pipeline (`id_token` parameter, bounce page) and the CSP header real.
"""

from __future__ import annotations

from flask import Blueprint
from flask.typing import ResponseReturnValue

from admin_ui import html
from admin_ui.auth import app_runtime, authenticate, current_shop

bp = Blueprint("pages", __name__)
bp.before_request(authenticate)


@bp.get("/")
def home() -> ResponseReturnValue:
    shop = current_shop()
    api_key = app_runtime().settings.shopify_api_key
    return html.page(html.HOME, api_key=api_key, shop_name=shop.name, shop_domain=shop.domain)
