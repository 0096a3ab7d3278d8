"""Per-channel consent (product.md §3, §7.4): no message without consent for that channel."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shop_app.domain.consent import ContactFacts, refusal
from shop_app.domain.models import Channel, Checkout
from shop_app.domain.settings import ShopSettings

NOW = datetime(2026, 3, 10, 14, 25, tzinfo=UTC)
NONE = ContactFacts()


def settings(email: str = "unless_unsubscribed", whatsapp: str = "phone_marketing") -> ShopSettings:
    return ShopSettings.from_document({"consent": {"email": email, "whatsapp": whatsapp}}, shop_timezone="UTC")


DEFAULTS = settings()


def checkout(**overrides: object) -> Checkout:
    values: dict = {"token": "t", "updated_at": NOW, "email": "ana@example.com", "phone": "+34600111222"}
    values.update(overrides)
    return Checkout(**values)


# -- suppression beats everything -------------------------------------------------------------


@pytest.mark.parametrize("channel", list(Channel))
def test_suppressed_address_is_refused_on_every_channel(channel: Channel) -> None:
    c = checkout(accepts_email_marketing=True, accepts_sms_marketing=True)
    facts = ContactFacts(suppressed="STOP received", whatsapp_optin=True, push_subscribed=True)
    assert refusal(channel, c, settings(whatsapp="explicit_optin"), facts) == "suppressed: STOP received"


@pytest.mark.parametrize("channel", list(Channel))
def test_an_opt_out_outlives_a_lifted_suppression(channel: Channel) -> None:
    """The checkout's old tick does not bring consent back: the newer opt-out stands."""
    c = checkout(accepts_email_marketing=True, accepts_sms_marketing=True)
    facts = ContactFacts(withdrawn="keyword", whatsapp_optin=True, push_subscribed=True)
    assert refusal(channel, c, settings(), facts) == "no consent: withdrawn (keyword)"


# -- email -------------------------------------------------------------------------------------


@pytest.mark.parametrize("accepts", [None, False, True])
def test_email_by_default_goes_to_anyone_not_unsubscribed(accepts: bool | None) -> None:
    assert refusal(Channel.EMAIL, checkout(accepts_email_marketing=accepts), DEFAULTS, NONE) is None


def test_email_needs_an_address() -> None:
    assert refusal(Channel.EMAIL, checkout(email=None), DEFAULTS, NONE) == "no consent: no email address"
    assert refusal(Channel.EMAIL, checkout(email=""), DEFAULTS, NONE) == "no consent: no email address"


@pytest.mark.parametrize("accepts", [None, False])
def test_subscribers_only_refuses_non_subscribers(accepts: bool | None) -> None:
    reason = refusal(Channel.EMAIL, checkout(accepts_email_marketing=accepts), settings(email="subscribers_only"), NONE)
    assert reason is not None and reason.startswith("no consent:")


def test_subscribers_only_allows_subscribers() -> None:
    c = checkout(accepts_email_marketing=True)
    assert refusal(Channel.EMAIL, c, settings(email="subscribers_only"), NONE) is None


# -- SMS (§3: SMS on by default, but only to customers with SMS marketing consent) --------------


def test_sms_needs_sms_marketing_consent() -> None:
    assert refusal(Channel.SMS, checkout(), DEFAULTS, NONE) == "no consent: no SMS marketing consent"
    assert refusal(Channel.SMS, checkout(accepts_sms_marketing=True), DEFAULTS, NONE) is None


def test_sms_email_consent_is_not_sms_consent() -> None:
    c = checkout(accepts_email_marketing=True, accepts_sms_marketing=False)
    assert refusal(Channel.SMS, c, DEFAULTS, ContactFacts(whatsapp_optin=True)) is not None


def test_sms_needs_a_phone() -> None:
    assert refusal(Channel.SMS, checkout(phone=None, accepts_sms_marketing=True), DEFAULTS, NONE) == (
        "no consent: no phone number"
    )


# -- WhatsApp ----------------------------------------------------------------------------------


def test_whatsapp_phone_marketing_mode_uses_the_phone_marketing_consent() -> None:
    assert refusal(Channel.WHATSAPP, checkout(accepts_sms_marketing=True), DEFAULTS, NONE) is None
    reason = refusal(
        Channel.WHATSAPP, checkout(accepts_sms_marketing=False), DEFAULTS, ContactFacts(whatsapp_optin=True)
    )
    assert reason == "no consent: no phone marketing consent"


def test_whatsapp_explicit_optin_mode_needs_the_optin() -> None:
    s = settings(whatsapp="explicit_optin")
    assert refusal(Channel.WHATSAPP, checkout(accepts_sms_marketing=True), s, NONE) == "no consent: no WhatsApp opt-in"
    assert (
        refusal(Channel.WHATSAPP, checkout(accepts_sms_marketing=False), s, ContactFacts(whatsapp_optin=True)) is None
    )


def test_an_sms_stop_also_stops_whatsapp_resting_on_the_phone_marketing_consent() -> None:
    stopped = ContactFacts(sms_suppressed="replied 'STOP' by SMS on 2026-03-01")
    consenting = checkout(accepts_sms_marketing=True)
    assert refusal(Channel.WHATSAPP, consenting, DEFAULTS, stopped) == (
        "suppressed: replied 'STOP' by SMS on 2026-03-01 (WhatsApp relies on the same phone marketing consent)"
    )
    # A separate WhatsApp opt-in does not rest on the SMS consent, and the stop says nothing of email.
    optin = ContactFacts(sms_suppressed="replied 'STOP' by SMS on 2026-03-01", whatsapp_optin=True)
    assert refusal(Channel.WHATSAPP, consenting, settings(whatsapp="explicit_optin"), optin) is None
    assert refusal(Channel.EMAIL, consenting, DEFAULTS, stopped) is None


@pytest.mark.parametrize("mode", ["phone_marketing", "explicit_optin"])
def test_whatsapp_needs_a_phone(mode: str) -> None:
    c = checkout(phone=None, accepts_sms_marketing=True)
    assert refusal(Channel.WHATSAPP, c, settings(whatsapp=mode), ContactFacts(whatsapp_optin=True)) == (
        "no consent: no phone number"
    )


# -- push --------------------------------------------------------------------------------------


def test_push_needs_a_live_subscription() -> None:
    assert refusal(Channel.PUSH, checkout(), DEFAULTS, NONE) == "no consent: no browser push subscription"
    assert refusal(Channel.PUSH, checkout(email=None, phone=None), DEFAULTS, ContactFacts(push_subscribed=True)) is None


def test_unknown_channel_is_an_error() -> None:
    with pytest.raises(ValueError):
        refusal("fax", checkout(), DEFAULTS, NONE)  # type: ignore[arg-type]


def test_every_refusal_is_a_readable_reason() -> None:
    c = checkout(email=None, phone=None)
    for channel in Channel:
        reason = refusal(channel, c, DEFAULTS, NONE)
        assert isinstance(reason, str) and reason.startswith("no consent:")
