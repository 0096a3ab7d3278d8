"""The embedded admin's documents, server-rendered with Polaris web components.

Every route here requires a session (the `authenticate` hook runs before each). One module
per area registers its routes on `bp`; each renders through `layout.render_page`, which
loads App Bridge and Polaris as Shopify prescribes and lists the app's navigation.

    home        /                       setup guide and the 15-day validation cycle
    flows       /flows, /flows/recovery engagement flows and the recovery configuration
    windows     /settings/windows       delivery windows
    channels    /settings/channels      email, Twilio, WhatsApp templates, push, tests to me
    message_templates /templates[/…]    message templates with preview
    activity    /activity[/<id>]        journeys and their timelines
    privacy     /privacy                suppressions and data-request exports
    plan        /settings/plan          the plan (Shopify App Pricing) and this month's journeys
"""

from __future__ import annotations

from flask import Blueprint

from admin_ui.auth import authenticate

bp = Blueprint("pages", __name__)
bp.before_request(authenticate)

# Each module adds its routes to `bp` (imported for that effect).
from admin_ui.pages import activity, channels, flows, home, message_templates, plan, privacy, windows  # noqa: E402, F401
