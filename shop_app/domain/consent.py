"""Per-channel consent: may this customer be contacted on this channel? Pure."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from shop_app.domain.models import Channel
from shop_app.domain.settings import ShopSettings


class Reachable(Protocol):
    """What the rules read of the recipient: a recovery Checkout, or a referral Contact."""

    @property
    def email(self) -> str | None: ...
    @property
    def accepts_email_marketing(self) -> bool | None: ...
    @property
    def accepts_sms_marketing(self) -> bool: ...
    @property
    def marketing_phone(self) -> str | None: ...


@dataclass(frozen=True)
class ContactFacts:
    """What the app knows about the recipient beyond the checkout itself."""

    suppressed: str | None = None  # reason the address is on the suppression list
    #: The newest consent statement for this address and channel is the customer's opt-out
    #: (its source: keyword, unsubscribe, provider, customer). It outlives a lifted suppression;
    #: only a newer statement of consent (a ticked box at a later checkout, START) ends it.
    withdrawn: str | None = None
    #: Why the phone is suppressed for SMS: an SMS STOP withdraws the phone marketing consent
    #: that WhatsApp rests on, unless the shop asks for a separate WhatsApp opt-in.
    sms_suppressed: str | None = None
    whatsapp_optin: bool = False  # a separate WhatsApp opt-in was recorded
    push_subscribed: bool = False  # a live browser push subscription exists


def refusal(channel: Channel, checkout: Reachable, settings: ShopSettings, facts: ContactFacts) -> str | None:
    """None when the channel may be used, else the reason a merchant can read."""
    if facts.suppressed:
        return f"suppressed: {facts.suppressed}"
    if facts.withdrawn:
        return f"no consent: withdrawn ({facts.withdrawn})"
    if channel not in _RULES:
        raise ValueError(channel)
    return _RULES[channel](checkout, settings, facts)


def _email(checkout: Reachable, settings: ShopSettings, facts: ContactFacts) -> str | None:
    if not checkout.email:
        return "no consent: no email address"
    if settings.email_consent == "subscribers_only" and checkout.accepts_email_marketing is not True:
        return "no consent: not subscribed to email marketing (shop sends to subscribers only)"
    return None


def _sms(checkout: Reachable, settings: ShopSettings, facts: ContactFacts) -> str | None:
    if not checkout.marketing_phone:
        return "no consent: no phone number"
    return None if checkout.accepts_sms_marketing else "no consent: no SMS marketing consent"


def _whatsapp(checkout: Reachable, settings: ShopSettings, facts: ContactFacts) -> str | None:
    if settings.whatsapp_consent == "explicit_optin":
        if not checkout.marketing_phone:
            return "no consent: no phone number"
        return None if facts.whatsapp_optin else "no consent: no WhatsApp opt-in"
    # WhatsApp rests on the phone marketing consent, which an SMS STOP withdrew.
    if facts.sms_suppressed:
        return f"suppressed: {facts.sms_suppressed} (WhatsApp relies on the same phone marketing consent)"
    if not checkout.marketing_phone:
        return "no consent: no phone number"
    return None if checkout.accepts_sms_marketing else "no consent: no phone marketing consent"


def _push(checkout: Reachable, settings: ShopSettings, facts: ContactFacts) -> str | None:
    return None if facts.push_subscribed else "no consent: no browser push subscription"


_RULES: dict[Channel, Callable[[Reachable, ShopSettings, ContactFacts], str | None]] = {
    Channel.EMAIL: _email,
    Channel.SMS: _sms,
    Channel.WHATSAPP: _whatsapp,
    Channel.PUSH: _push,
}
