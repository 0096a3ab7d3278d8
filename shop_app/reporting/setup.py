"""The setup guide: what a shop still has to do before Reclaim can recover its checkouts.

Each item is computed from the shop's real state, and says what is known when it cannot be:

- **email sender**: the app's email provider (SMTP or SendGrid, set by the operator); messages go
  out with the shop's name as sender and its email address as Reply-To;
- **Twilio**: the shop connected its own Twilio account (SMS and WhatsApp);
- **WhatsApp templates**: every template the enabled WhatsApp steps need is approved by WhatsApp
  (a referral step's only when that step sends WhatsApp; not needed when no step does);
- **storefront push embed**: Reclaim cannot read the theme's settings (that needs a theme scope it
  does not ask for), so the item is done once a shopper has subscribed from the storefront, which
  only the enabled embed makes possible;
- **delivery windows**: the merchant has saved the settings (every save carries the windows, and
  the Delivery windows page saves them); before that the default hours apply;
- **Prime incentive**: the second stimulus offers something (or Prime is switched off).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shop_app.channels import accounts
from shop_app.config import Settings
from shop_app.domain.models import Channel, Step
from shop_app.domain.settings import ShopSettings
from shop_app.messaging import whatsapp_templates
from shop_app.shopify.shops import load_settings
from shop_app.storage.tables import PushSubscription, Shop, ShopSettingsRow

EMAIL, TWILIO, WHATSAPP_TEMPLATES, PUSH_EMBED, WINDOWS, PRIME_INCENTIVE = (
    "email_sender",
    "twilio",
    "whatsapp_templates",
    "push_embed",
    "delivery_windows",
    "prime_incentive",
)


@dataclass(frozen=True)
class SetupItem:
    key: str
    title: str
    done: bool
    #: What Reclaim knows about it, in one or two sentences for the merchant.
    status: str


def setup_guide(session: Session, shop: Shop, settings: Settings) -> tuple[SetupItem, ...]:
    """The six items, in the order a merchant would do them."""
    saved = session.get(ShopSettingsRow, shop.id)
    flows = load_settings(session, shop)
    twilio = accounts.describe(session, shop.id)["twilio"]
    return (
        _email(shop, settings),
        _twilio(twilio),
        _templates(session, shop.id, connected=twilio is not None, steps=whatsapp_steps(flows)),
        _push(session, shop.id),
        _windows(saved, flows.windows.timezone),
        _prime(saved is not None, flows, shop.currency),
    )


def _email(shop: Shop, settings: Settings) -> SetupItem:
    title = "Email sender"
    provider = "SMTP" if settings.smtp_url else "SendGrid" if settings.sendgrid_api_key else None
    if provider is None:
        where = "the development outbox file" if settings.outbox_file else "nowhere"
        return SetupItem(
            EMAIL,
            title,
            False,
            f"No email provider is configured, so emails go to {where}. "
            "The app's operator sets SMTP_URL or SENDGRID_API_KEY.",
        )
    replies = f"replies go to {shop.email}" if shop.email else "the shop has no email address for replies"
    return SetupItem(EMAIL, title, True, f"Emails go out through {provider} as “{shop.name}”; {replies}.")


def _twilio(connected: dict[str, str | None] | None) -> SetupItem:
    title = "Twilio connected (SMS and WhatsApp)"
    if connected is None:
        return SetupItem(TWILIO, title, False, "Not connected: SMS and WhatsApp steps wait for a connection.")
    senders = [
        f"SMS from {connected.get('from_number') or 'the Messaging Service'}",
        f"WhatsApp from {connected['whatsapp_from']}" if connected.get("whatsapp_from") else "no WhatsApp sender",
    ]
    return SetupItem(TWILIO, title, True, "Connected: " + ", ".join(senders) + ".")


def whatsapp_steps(flows: ShopSettings) -> frozenset[str]:
    """The steps that send WhatsApp as the settings stand: each needs its templates approved. An
    advocate's reward goes by the invite's channels."""
    steps = set()
    if flows.whatsapp.enabled:
        steps.add(Step.WHATSAPP.value)
    if flows.prime.enabled and Channel.WHATSAPP in flows.prime.channels:
        steps.add(Step.PRIME.value)
    referral = flows.referral
    if referral.enabled:
        for step in (Step.REVIEW, Step.SOCIAL, Step.INVITE):
            if referral.step(step).enabled and Channel.WHATSAPP in referral.step(step).channels:
                steps.add(step.value)
        if referral.reward_enabled and Step.INVITE.value in steps:
            steps.add(Step.REWARD.value)
    return frozenset(steps)


def _templates(session: Session, shop_id: int, *, connected: bool, steps: frozenset[str]) -> SetupItem:
    title = "WhatsApp templates approved"
    if not steps:
        return SetupItem(WHATSAPP_TEMPLATES, title, True, "Not needed: no flow step sends WhatsApp.")
    if not connected:
        return SetupItem(WHATSAPP_TEMPLATES, title, False, "Connect Twilio first, then submit the templates.")
    listed = whatsapp_templates.listing(session, shop_id)
    states = [t["status"] for t in listed if str(t["key"]).split("+")[0] in steps]
    approved = states.count(whatsapp_templates.APPROVED)
    rejected = states.count("rejected")
    status = f"{approved} of {len(states)} approved"
    if rejected:
        status += f", {rejected} rejected"
    return SetupItem(WHATSAPP_TEMPLATES, title, approved == len(states), status + ".")


def _push(session: Session, shop_id: int) -> SetupItem:
    title = "Storefront push embed enabled"
    count = session.scalar(
        select(func.count()).select_from(PushSubscription).where(PushSubscription.shop_id == shop_id)
    )
    if count:
        plural = "shopper has" if count == 1 else "shoppers have"
        return SetupItem(PUSH_EMBED, title, True, f"{count:,} {plural} subscribed to reminders from the storefront.")
    return SetupItem(
        PUSH_EMBED,
        title,
        False,
        "No shopper has subscribed yet. Reclaim cannot read the theme's settings: this turns done "
        "when the first shopper subscribes through the enabled embed.",
    )


def _windows(saved: ShopSettingsRow | None, timezone: str) -> SetupItem:
    title = "Delivery windows reviewed"
    if saved is None:
        return SetupItem(WINDOWS, title, False, f"Not saved yet: the default hours apply ({timezone}).")
    return SetupItem(WINDOWS, title, True, f"Saved on {saved.updated_at:%d %b %Y} ({timezone}).")


def _prime(saved: bool, flows: ShopSettings, currency: str) -> SetupItem:
    title = "Prime incentive chosen"
    prime = flows.prime
    if not prime.enabled:
        return SetupItem(PRIME_INCENTIVE, title, True, "Prime (the second stimulus) is switched off.")
    if saved and prime.incentive.offered:
        channels = " and ".join("SMS" if c == Channel.SMS else "WhatsApp" for c in prime.channels) or "no channel"
        offer = prime.incentive.describe(currency)
        status = f"{offer[:1].upper()}{offer[1:]}, {prime.delay_hours} h after abandonment, by {channels}."
        return SetupItem(PRIME_INCENTIVE, title, True, status)
    return SetupItem(PRIME_INCENTIVE, title, False, "No incentive chosen: the second reminder offers nothing yet.")
