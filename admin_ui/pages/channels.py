"""/settings/channels: email sender, Twilio (SMS and WhatsApp), WhatsApp templates, browser push,
and "send a test to me" per channel.

The page shows the state the JSON API shows (admin_ui/channels_api.py: the same account description,
template listing and Twilio URLs) and the transport the registry would pick for an email; its forms and
buttons go through that API (static/channels.js). The Twilio auth token is never rendered.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask.typing import ResponseReturnValue
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from admin_ui.auth import app_runtime, current_shop
from admin_ui.layout import render_page
from admin_ui.pages import bp
from shop_app import public_urls
from shop_app.channels import accounts
from shop_app.channels.push_subscriptions import VAPID_KEY_NAME
from shop_app.channels.test_sends import PUSH_NOT_APPLICABLE
from shop_app.domain.models import Channel
from shop_app.messaging import whatsapp_templates
from shop_app.messaging.defaults import LANGUAGES
from shop_app.shopify.shops import load_settings
from shop_app.storage.channel_tables import AppKey
from shop_app.storage.database import transaction
from shop_app.storage.tables import PushSubscription, Shop

#: The theme app extension's app embed block (extensions/reclaim-push/blocks/reclaim-push.liquid).
EMBED_HANDLE = "reclaim-push"
EMAIL_PROVIDERS = {"smtp": "SMTP", "sendgrid": "SendGrid", "outbox": "the development outbox file"}
#: A WhatsApp template's approval state → the badge's tone.
APPROVAL_TONES = {
    "approved": "success",
    "received": "info",
    "pending": "info",
    "rejected": "critical",
    "paused": "warning",
    "disabled": "critical",
}
LANGUAGE_NAMES = {"en": "English", "es": "Spanish"}


@dataclass(frozen=True)
class PushStatus:
    enabled: bool  # the first reminder is on and sends a push
    subscriptions: int
    latest: datetime | None  # the newest subscription: the storefront embed was seen working then
    keys_made: bool  # the VAPID key pair exists (made at the first push)
    embed_url: str  # the theme editor, with the app embed ready to switch on


@bp.get("/settings/channels")
def channels() -> ResponseReturnValue:
    rt = app_runtime()
    settings = rt.settings
    with transaction(rt.sessions) as session:
        shop = session.get_one(Shop, current_shop().id)
        twilio = accounts.describe(session, shop.id)["twilio"]
        templates = whatsapp_templates.listing(session, shop.id)
        email_route = rt.transports.route(session, shop.id, Channel.EMAIL.value)
        push = _push_status(session, shop, settings.shopify_api_key)
        shop_email = shop.email
    return render_page(
        "channels/index.html",
        title="Channels",
        email_provider=EMAIL_PROVIDERS.get(email_route.provider, email_route.provider) if email_route else None,
        email_from=settings.email_from,
        shop_email=shop_email,
        twilio=twilio,
        twilio_outbox=twilio is None and bool(settings.outbox_file),
        inbound_url=public_urls.twilio_inbound(settings.shopify_app_url, current_shop().domain),
        status_url=f"{settings.shopify_app_url}/webhooks/twilio/status/…",
        templates=templates,
        approval_tones=APPROVAL_TONES,
        push=push,
        push_not_applicable=PUSH_NOT_APPLICABLE,
        languages=[(code, LANGUAGE_NAMES.get(code, code)) for code in LANGUAGES],
    )


def _push_status(session: Session, shop: Shop, api_key: str) -> PushStatus:
    settings = load_settings(session, shop)
    count, latest = session.execute(
        select(func.count(PushSubscription.id), func.max(PushSubscription.created_at)).where(
            PushSubscription.shop_id == shop.id
        )
    ).one()
    return PushStatus(
        enabled=settings.first.enabled and Channel.PUSH in settings.first.channels,
        subscriptions=count,
        latest=latest,
        keys_made=session.get(AppKey, VAPID_KEY_NAME) is not None,
        embed_url=f"https://{shop.domain}/admin/themes/current/editor?context=apps"
        f"&activateAppId={api_key}/{EMBED_HANDLE}",
    )
