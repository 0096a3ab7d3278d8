"""Contact details as Reclaim accepts them from a checkout or an order: exactly one email
address, and phone numbers in E.164.

Shopify passes on what the shopper typed. A value such as "a@x.com,b@y.com" would reach two
people, so an email is kept only when email-validator (RFC 5322/6531 syntax, no DNS lookup)
takes it as one address; otherwise the checkout has no email. A phone is read into E.164 by
recovery/phones.py with the shop's country as the default region (the address's country when
the shop's is not known); a number it refuses is dropped, and the reason logged.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from email_validator import EmailNotValidError, validate_email

from shop_app.domain.models import Checkout, Order
from shop_app.recovery.phones import e164, region_code


def one_email(value: str | None) -> str | None:
    """The address, lower-cased as stored everywhere, or None when it is not exactly one."""
    if not value:
        return None
    try:
        validate_email(value, check_deliverability=False)
    except EmailNotValidError:
        return None
    return value.lower()


def phone_region(shop_country: str | None, payload: Any = None) -> str | None:
    """The region a national number is read in: the buyer's own country when the payload
    names one (billing, then shipping address: a French buyer types a French number in a
    German shop), else the shop's country, the default; else None."""
    payload = payload if isinstance(payload, dict) else {}
    addresses = [payload.get("billing_address"), payload.get("shipping_address")]
    return region_code(*(a.get("country_code") for a in addresses if isinstance(a, dict)), shop_country)


def accepted(checkout: Checkout, region: str | None = None) -> Checkout:
    """The checkout with only the contact details we may use.

    An SMS consent belongs to the number it was given for (sms_marketing_phone): when that
    number is refused, the consent is dropped with it rather than moved to the contact phone."""
    sms_phone = e164(checkout.sms_phone, region, "checkout sms_marketing_phone")
    return replace(
        checkout,
        email=one_email(checkout.email),
        phone=sms_phone if checkout.phone == checkout.sms_phone else e164(checkout.phone, region, "checkout phone"),
        sms_phone=sms_phone,
        accepts_sms_marketing=checkout.accepts_sms_marketing and (sms_phone is not None or not checkout.sms_phone),
    )


def accepted_order(order: Order, region: str | None = None) -> Order:
    """The order with its phone in E.164 (or none), so it matches the checkouts' numbers."""
    return replace(order, phone=e164(order.phone, region, "order phone"))
