"""How a profile reached us (issue 11, point 1): `captured` by the store after install, or `imported`.

A profile is captured through a checkout (shop_app/recovery/checkouts.py), an order, a storefront
push subscription or a `customers/create` webhook for a customer created after install; the
setup job's import, or a Shopify customer whose createdAt is before the install, is imported.
The origin never changes from imported to captured: a profile, once made, keeps its origin.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from shop_app.recovery.orders import equal_where_given
from shop_app.storage.tables import Profile, Shop

CAPTURED = "captured"
IMPORTED = "imported"
#: captured_by values.
BY_CHECKOUT, BY_ORDER, BY_PUSH, BY_CUSTOMER = "checkout", "order", "push", "customer"


def find_profile(
    session: Session, shop_id: int, *, customer_id: str | None, email: str | None, phone: str | None
) -> Profile | None:
    """The shop's profile with this customer id, email or phone (the oldest, when several match)."""
    match = equal_where_given((Profile.customer_id, customer_id), (Profile.email, email), (Profile.phone, phone))
    if not match:
        return None
    query = select(Profile).where(Profile.shop_id == shop_id, or_(*match)).order_by(Profile.id).limit(1)
    return session.scalar(query)


def profile_for(
    session: Session,
    shop: Shop,
    *,
    by: str,
    customer_id: str | None,
    email: str | None,
    phone: str | None,
    first_name: str | None = None,
    created_in_shopify: datetime | None = None,
) -> Profile | None:
    """The known profile, or a new one (None without any contact detail).

    A new profile is captured by `by`, unless Shopify says the customer was created before the
    install (`created_in_shopify`), which makes it imported. A known profile keeps its origin; it
    only learns a customer id it did not have."""
    profile = find_profile(session, shop.id, customer_id=customer_id, email=email, phone=phone)
    if profile is not None:
        if customer_id and not profile.customer_id:
            profile.customer_id = customer_id
        return profile
    if not (email or phone or customer_id):
        return None
    before_install = created_in_shopify is not None and created_in_shopify < shop.installed_at
    profile = Profile(
        shop_id=shop.id,
        email=email,
        phone=phone,
        customer_id=customer_id,
        first_name=first_name,
        origin=IMPORTED if before_install else CAPTURED,
        captured_by=None if before_install else by,
    )
    session.add(profile)
    session.flush()
    return profile


def origin_label(origin: str, captured_by: str | None) -> str:
    """How the merchant reads a profile's origin: "captured (checkout)", "imported"."""
    return f"{origin} ({captured_by})" if origin == CAPTURED and captured_by else origin
