"""The Referral Generation Flow's texts for one send (issue 11): the referral template fields
(template_fields.py) filled from the journey's facts and the step's code, rendered like a recovery
text (texts.render_step: the shop's own template, else the default in its tone).

The invite carries the advocate's personal code and link (`https://{shop}/discount/{CODE}`), the
reward the advocate's unique code, its value and expiry; every step has the review link and the
shop's URL. A step whose code is missing is refused (the invite and reward say nothing without it).
A review or social step with an incentive carries its thank-you code as `discount_code` (with
`discount_value` and `discount_expiry`): the defaults' offer sentence, a merchant's own template's
`{% if discount_code %}`; without a code those fields are empty and the texts are unchanged.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from shop_app.domain.models import Channel, Contact, Step
from shop_app.messaging import texts
from shop_app.messaging.defaults import DefaultTemplate
from shop_app.messaging.sandbox import TemplateFields
from shop_app.referral.send_facts import ReferralFacts


def referral_link(shop_domain: str, code: str) -> str:
    return f"https://{shop_domain}/discount/{code}"


def percent_off(percent: Decimal, language: str) -> str:
    amount = f"{percent.normalize():f}"
    return f"{amount} % de descuento" if language == "es" else f"{amount}% off"


def friend_offer(percent: Decimal, language: str) -> str:
    """What a friend gets, said about the friend: "10% off their first order"."""
    if language == "es":
        return f"{percent_off(percent, language)} en su primer pedido"
    return f"{percent_off(percent, language)} their first order"


def missing_code(step: Step, code: str | None) -> str | None:
    """Why this step cannot be sent without its code (None: it can)."""
    if code is not None:
        return None
    if step is Step.INVITE:
        return "not sent: the advocate's referral code is not available"
    if step is Step.REWARD:
        return "not sent: the reward was cancelled or has no code"
    return None


def main_link(step: Step, facts: ReferralFacts, shop_domain: str, code: str | None) -> str:
    """Where the message leads (a push opens it): the review page, the referral link, the shop."""
    if step is Step.REVIEW:
        return facts.review_link
    if step is Step.INVITE and code:
        return referral_link(shop_domain, code)
    return facts.shop_url


def compose(
    step: Step, channel: Channel, contact: Contact, facts: ReferralFacts, *, shop_name: str, shop_domain: str,
    shop_timezone: str, code: str | None, expires_at: datetime | None, unsubscribe_link: str | None, tone: str,
    custom: DefaultTemplate | None,
) -> texts.Rendered:  # fmt: skip
    """Raises texts.TemplateRefused (SmsOverCap for an SMS over the cap), as texts.compose."""
    language = texts.language_of(contact)
    invite, reward = step is Step.INVITE and code, step is Step.REWARD and code
    thanks = step in (Step.REVIEW, Step.SOCIAL) and code is not None and facts.incentive_percent is not None
    fields = TemplateFields(
        first_name=contact.first_name or "",
        shop_name=shop_name,
        cart_items=(),
        cart_total="",
        recovery_link="",
        discount_code=code if thanks else None,
        discount_value=percent_off(facts.incentive_percent, language) if thanks and facts.incentive_percent else None,
        discount_expiry=texts.expiry_text(expires_at, shop_timezone, language) if thanks else None,
        unsubscribe_link=unsubscribe_link,
        referral_code=code if invite else None,
        referral_link=referral_link(shop_domain, code) if invite and code else None,
        friend_offer=friend_offer(facts.friend_percent, language),
        reward_code=code if reward else None,
        reward_value=percent_off(facts.reward_percent, language) if reward else None,
        reward_expiry=texts.expiry_text(expires_at, shop_timezone, language) if reward else None,
        review_link=facts.review_link,
        shop_url=facts.shop_url,
    )
    return texts.render_step(step, channel, fields, language, tone, custom)
