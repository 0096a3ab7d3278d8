"""Rendering an admin document: the one layout every page extends.

The layout loads App Bridge first (the `shopify-api-key` meta tag, then the CDN script, as
Shopify prescribes), then Polaris web components, then the app's own small module
(`static/admin.js`). Outside production, when the CDN cannot be reached (the offline demo),
the development stand-ins in `shop_app/devtools/admin_standins/` take their place and the
page says that the Polaris look needs Shopify's CDN.
"""

from __future__ import annotations

from typing import Any

from flask import Response, make_response, render_template

from admin_ui.auth import app_runtime, current_shop

APP_BRIDGE_SRC = "https://cdn.shopify.com/shopifycloud/app-bridge.js"
POLARIS_SRC = "https://cdn.shopify.com/shopifycloud/polaris-1.js"

#: The app's navigation (App Bridge's <s-app-nav>): path, label. The first is home.
NAV = (
    ("/", "Home"),
    ("/flows", "Flows"),
    ("/settings/windows", "Delivery windows"),
    ("/settings/channels", "Channels"),
    ("/templates", "Templates"),
    ("/activity", "Activity"),
    ("/privacy", "Privacy"),
    ("/settings/plan", "Plan"),
)


def render_page(template: str, *, title: str, status: int = 200, **context: Any) -> Response:
    """Render `template` (which extends layout.html) for the signed-in shop; never cached."""
    settings = app_runtime().settings
    html = render_template(
        template,
        title=title,
        nav=NAV,
        shop=current_shop(),
        api_key=settings.shopify_api_key,
        app_bridge_src=APP_BRIDGE_SRC,
        polaris_src=POLARIS_SRC,
        stand_ins=settings.dev_mode,
        **context,
    )
    response = make_response(html, status)
    response.headers["Cache-Control"] = "no-store"
    return response
