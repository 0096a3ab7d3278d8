"""The two bare documents of the auth pipeline (the bounce page and a notice), as autoescaped
Jinja strings; the admin pages are templates (admin_ui/templates, rendered by admin_ui.layout).
Both load App Bridge as Shopify prescribes: the API-key meta tag, then the CDN script.
"""

from __future__ import annotations

from flask import Response, current_app, make_response, render_template_string

APP_BRIDGE_SRC = "https://cdn.shopify.com/shopifycloud/app-bridge.js"

_HEAD = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="shopify-api-key" content="{{ api_key }}">
<script src="{{ app_bridge_src }}"></script>
{% if stand_ins -%}
<script>window.shopify || document.write('<script src="/dev/stand-ins/app-bridge.js"><\\/script>')</script>
{% endif %}"""

#: The bounce page only loads App Bridge, which fetches a fresh session token and
#: reloads the `shopify-reload` URL with it.
BOUNCE = _HEAD + "</head>\n<body></body>\n</html>\n"

NOTICE = (
    _HEAD
    + """<title>Reclaim</title>
</head>
<body>
<h1>Reclaim</h1>
<p>{{ message }}</p>
</body>
</html>
"""
)


def page(source: str, status: int = 200, **context: object) -> Response:
    """Render one of the documents above; admin HTML is per shop, so it is never cached."""
    # Outside production, App Bridge's development stand-in takes over when the CDN is unreachable
    # (as in layout.html), so the bounce page works in the offline demo too.
    stand_ins = current_app.extensions["reclaim"].settings.dev_mode
    html = render_template_string(source, app_bridge_src=APP_BRIDGE_SRC, stand_ins=stand_ins, **context)
    response = make_response(html, status)
    response.headers["Cache-Control"] = "no-store"
    return response
