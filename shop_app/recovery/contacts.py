"""Contact details as Reclaim accepts them from a checkout: exactly one email address.

Shopify passes on what the shopper typed. A value such as "a@x.com,b@y.com" would reach two
people, so an email is kept only when email-validator (RFC 5322/6531 syntax, no DNS lookup)
takes it as one address; otherwise the checkout has no email.
"""

from __future__ import annotations

from dataclasses import replace

from email_validator import EmailNotValidError, validate_email

from shop_app.domain.models import Checkout


def one_email(value: str | None) -> str | None:
    """The address, lower-cased as stored everywhere, or None when it is not exactly one."""
    if not value:
        return None
    try:
        validate_email(value, check_deliverability=False)
    except EmailNotValidError:
        return None
    return value.lower()


def accepted(checkout: Checkout) -> Checkout:
    """The checkout with only the contact details we may use."""
    email = one_email(checkout.email)
    return checkout if email == checkout.email else replace(checkout, email=email)
