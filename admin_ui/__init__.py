"""The embedded admin: session-token auth, admin documents and the JSON API.

`bp` nests the feature blueprints, so `init_app` registers one thing and every admin
endpoint is named `admin_ui.<feature>.<view>`:

    admin_ui.auth   /auth/session-token (the bounce page, public) and the CSP hook
    admin_ui.pages  /                    admin documents (session required)
    admin_ui.api    /api/...             JSON API (session required, fetch only)
    admin_ui.channels /api/channels/...  channel connections and WhatsApp templates (session required)
    admin_ui.install /auth, /auth/callback authorization-code install (public, Shopify-signed)
"""

from flask import Blueprint, Flask

from admin_ui import api, auth, channels_api, install, pages

bp = Blueprint("admin_ui", __name__)
bp.register_blueprint(auth.bp)
bp.register_blueprint(pages.bp)
bp.register_blueprint(api.bp)
bp.register_blueprint(channels_api.bp)
bp.register_blueprint(install.bp)

#: Endpoints reachable without a session token; tests assert every other one refuses.
PUBLIC_ENDPOINTS = frozenset({"admin_ui.auth.bounce", "admin_ui.install.start", "admin_ui.install.callback"})


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)


__all__ = ["PUBLIC_ENDPOINTS", "bp", "init_app"]
