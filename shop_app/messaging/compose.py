"""Compose one send: the rendered text, the links, and what the route's transport needs
beyond it (email headers, a push subscription and topic, Twilio's status callback, the
approved WhatsApp template). Nothing here changes the message's status. A referral message
(issue 11) takes its text from referral_texts.py and its link from its step. A recovery step whose
offer the discount memory withheld (issue 12) has no code, so its texts take their no-offer variant
(`{% if discount_code %}`, the WhatsApp template without "+offer"), and its note says why.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from shop_app import public_urls
from shop_app.adapters.outgoing import OutgoingMessage
from shop_app.channels.push_subscriptions import subscription_for
from shop_app.channels.transports import Route
from shop_app.config import Settings
from shop_app.domain import content
from shop_app.domain.models import Channel, Contact, Step
from shop_app.messaging import referral_texts, texts, whatsapp_templates
from shop_app.messaging.links import tracked_url
from shop_app.messaging.merchant_templates import custom_template
from shop_app.messaging.unsubscribe import unsubscribe_url
from shop_app.recovery.discounts import StepCode
from shop_app.recovery.gate_facts import Candidate
from shop_app.referral.send_facts import ReferralFacts


@dataclass(frozen=True)
class Composed:
    outgoing: OutgoingMessage
    note: str | None  # what was changed to send it (shortened items, the default text instead)


@dataclass(frozen=True)
class _Parts:
    """What the text and the extras share."""

    link: str
    unsubscribe: str | None
    code: str | None
    expires_at: datetime | None


@dataclass(frozen=True)
class Refusal:
    """This message cannot be sent as it stands; `reason` is for the merchant."""

    reason: str


def compose(
    session: Session, settings: Settings, candidate: Candidate, route: Route, step_code: StepCode | None
) -> Composed | Refusal:
    shop, channel = candidate.shop, candidate.channel
    address = candidate.address or ""
    code = step_code.code if step_code else None
    if candidate.referral is not None and (missing := referral_texts.missing_code(candidate.step, code)):
        return Refusal(missing)
    parts = _Parts(
        link=_link(settings, candidate, code),
        unsubscribe=unsubscribe_url(settings, shop.id, channel.value, address) if channel is Channel.EMAIL else None,
        code=code,
        expires_at=step_code.expires_at if step_code else None,
    )
    try:
        text = _text(session, candidate, parts)
    except texts.TemplateRefused as refused:  # includes an SMS over its cap with this customer's data
        return Refusal(f"not sent: {refused.reason_without_data}")
    extras = _extras(session, settings, candidate, route, text, parts)
    if isinstance(extras, Refusal):
        return extras
    if extras.get("content_sid"):  # WhatsApp: what we record is the approved template's text
        text = texts.Rendered(None, extras.pop("template_text"))
    outgoing = OutgoingMessage(candidate.message_id, shop.domain, channel.value, address, text.subject, text.body,
                               **extras)  # fmt: skip
    withheld = candidate.offer.withheld if candidate.offer is not None and code is None else None
    return Composed(outgoing, "; ".join(note for note in (withheld, *text.notes) if note) or None)


def _text(session: Session, candidate: Candidate, parts: _Parts) -> texts.Rendered:
    shop, channel, contact = candidate.shop, candidate.channel, candidate.contact
    custom = None  # the shop saved no text of its own for this step and channel (the send job's read said so)
    if candidate.custom_text is not False:
        custom = custom_template(session, shop.id, candidate.step, channel, texts.language_of(contact))
    if candidate.referral is not None and isinstance(contact, Contact):
        return referral_texts.compose(
            candidate.step, channel, contact, candidate.referral, shop_name=shop.name, shop_domain=shop.domain,
            shop_timezone=shop.timezone, code=parts.code, expires_at=parts.expires_at,
            unsubscribe_link=parts.unsubscribe, tone=candidate.settings.tone, custom=custom,
        )  # fmt: skip
    return texts.compose(
        candidate.step, channel, candidate.cart, shop_name=shop.name, shop_timezone=shop.timezone, link=parts.link,
        incentive=candidate.step_offer.incentive, code=parts.code, expires_at=parts.expires_at,
        unsubscribe_link=parts.unsubscribe, tone=candidate.settings.tone, custom=custom,
    )  # fmt: skip


def _link(settings: Settings, candidate: Candidate, code: str | None) -> str:
    """The checkout's recovery link (with the code applied), or the referral step's link. Clicks are
    counted through our signed redirect, except in SMS, where the longer link costs a segment."""
    if candidate.referral is not None:
        cart_link = referral_texts.main_link(candidate.step, candidate.referral, candidate.shop.domain, code)
    else:
        cart_link = content.recovery_link(candidate.cart, candidate.shop.domain, code)
    if candidate.channel is Channel.SMS:
        return cart_link
    return tracked_url(settings.secret_key, settings.shopify_app_url, candidate.message_id, cart_link)


def _extras(
    session: Session, settings: Settings, candidate: Candidate, route: Route, text: texts.Rendered, parts: _Parts
) -> dict[str, Any] | Refusal:
    shop, channel = candidate.shop, candidate.channel
    if channel is Channel.EMAIL:
        return {
            "html": text.html,
            "sender_name": shop.name,
            "reply_to": shop.email,
            "unsubscribe_url": parts.unsubscribe,
        }
    if channel is Channel.PUSH:
        subscription = subscription_for(session, shop.id, candidate.contact.cart_token)
        if subscription is None:
            return Refusal("no consent: the browser push subscription is gone")
        topic = f"checkout:{candidate.cart.token}" if candidate.referral is None else f"referral:{candidate.journey_id}"
        return {"push_subscription": subscription, "topic": topic, "link": parts.link}
    if not route.twilio:
        return {}
    extras: dict[str, Any] = {
        "status_callback": public_urls.twilio_status_callback(settings.shopify_app_url, candidate.message_id)
    }
    if channel is Channel.WHATSAPP:
        template = _whatsapp_template(session, candidate, parts)
        if isinstance(template, Refusal):
            return template
        extras.update(template)
    return extras


def _whatsapp_template(session: Session, candidate: Candidate, parts: _Parts) -> dict[str, Any] | Refusal:
    """The approved template's content sid, its variables and its text, or why there is none."""
    if candidate.referral is not None:
        return _referral_template(session, candidate, candidate.referral, parts)
    checkout, shop, code = candidate.cart, candidate.shop, parts.code
    language = texts.language_of(checkout)
    key = whatsapp_templates.key_for(candidate.step.value, has_offer=code is not None)
    template = whatsapp_templates.approved(session, shop.id, key, language)
    if isinstance(template, str):
        return Refusal(template)
    offer = None
    if code is not None:
        value = candidate.step_offer.incentive.describe(checkout.currency, language)
        expiry = texts.expiry_text(parts.expires_at, shop.timezone, language)
        offer = whatsapp_templates.offer_line(language, code, value, expiry)
    values = whatsapp_templates.variables(
        language, first_name=checkout.first_name or "", shop_name=shop.name,
        cart_summary=whatsapp_templates.cart_line(checkout), link=parts.link, offer=offer,
    )  # fmt: skip
    return {
        "content_sid": template.content_sid,
        "content_variables": values,
        "template_text": whatsapp_templates.render(key, language, values),
    }


def _referral_template(
    session: Session, candidate: Candidate, facts: ReferralFacts, parts: _Parts
) -> dict[str, Any] | Refusal:
    """A referral step's own approved template (issue 11): the step's link (the invite's is the
    referral link itself, to be passed on), the invite's code and what a friend gets, the reward's
    code, value and expiry."""
    shop, code, language = candidate.shop, parts.code, texts.language_of(candidate.contact)
    key = whatsapp_templates.key_for(candidate.step.value, has_offer=code is not None)
    template = whatsapp_templates.approved(session, shop.id, key, language)
    if isinstance(template, str):
        return Refusal(template)
    invite = candidate.step is Step.INVITE and code is not None
    value = referral_texts.friend_offer(facts.friend_percent, language) if invite else None
    values = whatsapp_templates.referral_variables(
        key, language, first_name=candidate.contact.first_name or "", shop_name=shop.name,
        link=referral_texts.referral_link(shop.domain, code) if invite and code else parts.link, code=code,
        value=value or referral_texts.percent_off(facts.reward_percent, language),
        expiry=texts.expiry_text(parts.expires_at, shop.timezone, language),
    )  # fmt: skip
    return {
        "content_sid": template.content_sid,
        "content_variables": values,
        "template_text": whatsapp_templates.render(key, language, values),
    }
