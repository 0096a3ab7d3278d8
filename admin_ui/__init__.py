"""The embedded admin: session-token auth, admin documents and the JSON API.

`bp` nests the feature blueprints, so `init_app` registers one thing and every admin
endpoint is named `admin_ui.<feature>.<view>`:

    admin_ui.auth   /auth/session-token (the bounce page, public) and the CSP hook
    admin_ui.pages  /                    admin documents (session required)
    admin_ui.api    /api/...             JSON API (session required, fetch only)
    admin_ui.channels /api/channels/...  channel connections and WhatsApp templates (session required)
    admin_ui.privacy_api /api/suppressions/<id>/lift, /api/exports  privacy actions (session required)
    admin_ui.report_api /api/report      the results report (session required)
    admin_ui.install /auth, /auth/callback authorization-code install (public, Shopify-signed)
    admin_ui.static  /admin-assets/...   the pages' JavaScript modules (public: no data in them)
    admin_ui.dev     /dev/...            development sign-in and CDN stand-ins (404 in production)

Page templates live in `templates/` (every page extends layout.html), their scripts in `static/`.
"""

from flask import Blueprint, Flask

from admin_ui import api, auth, channels_api, dev, install, pages, privacy_api, report_api

bp = Blueprint(
    "admin_ui", __name__, template_folder="templates", static_folder="static", static_url_path="/admin-assets"
)
bp.register_blueprint(auth.bp)
bp.register_blueprint(pages.bp)
bp.register_blueprint(api.bp)
bp.register_blueprint(channels_api.bp)
bp.register_blueprint(privacy_api.bp)
bp.register_blueprint(report_api.bp)
bp.register_blueprint(install.bp)
bp.register_blueprint(dev.bp)

#: Endpoints reachable without a session token; tests assert every other one refuses.
PUBLIC_ENDPOINTS = frozenset(
    {
        "admin_ui.auth.bounce",
        "admin_ui.install.start",
        "admin_ui.install.callback",
        "admin_ui.static",
        "admin_ui.dev.sign_in",
        "admin_ui.dev.stand_in",
    }
)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)


__all__ = ["PUBLIC_ENDPOINTS", "bp", "init_app"]
