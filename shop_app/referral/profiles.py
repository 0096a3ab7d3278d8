"""How a profile reached us (issue 11, point 1): `captured` by the store after install, or `imported`.

A profile is captured through a checkout (shop_app/recovery/checkouts.py), an order, a storefront
push subscription or a `customers/create` webhook for a customer created after install; the
setup job's import, or a Shopify customer whose createdAt is before the install, is imported.
Every path that makes a profile from a Shopify body passes the customer's created_at when the
body carries one (customers/create, an order's or a checkout's `customer`), so such a customer is
imported from the start even when her order or checkout arrives before the setup job imports her.

The origin never changes from imported to captured. The one change the other way
(`correct_origin`): a profile captured since the install becomes imported when Shopify says its
customer was created before the install (the setup job's import, or a body's
customer.created_at) and no referral journey has started for it: it was captured only because
a body without that date came first. A profile whose journey has started keeps its origin and
its journey; one captured before a reinstall was captured by the store, and stays so.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from shop_app.domain.models import Flow
from shop_app.domain.payloads import PayloadProblem, parse_time
from shop_app.recovery.orders import equal_where_given
from shop_app.storage.tables import Journey, Profile, Shop

CAPTURED = "captured"
IMPORTED = "imported"
#: captured_by values.
BY_CHECKOUT, BY_ORDER, BY_PUSH, BY_CUSTOMER = "checkout", "order", "push", "customer"


#: find_profile's row locks (PostgreSQL; SQLite has none and runs one writer at a time).
#: KEEP_ORIGIN (FOR KEY SHARE): the origin stays as read until the transaction ends, while other
#: transactions may read and judge the profile too (two orders of one buyer race to the
#: (profile, flow) constraint, which decides between them). CHANGE_ORIGIN (FOR UPDATE): waits
#: for those, so a correction sees the journey they started, and they see the corrected origin.
KEEP_ORIGIN, CHANGE_ORIGIN = "keep-origin", "change-origin"


def find_profile(
    session: Session,
    shop_id: int,
    *,
    customer_id: str | None,
    email: str | None,
    phone: str | None,
    lock: str | None = None,
) -> Profile | None:
    """The shop's profile with this customer id, email or phone (the oldest, when several match),
    its row locked (`lock`) until the transaction ends, and read anew once the lock is held."""
    query = profile_query(shop_id, customer_id=customer_id, email=email, phone=phone, lock=lock)
    if query is None:
        return None
    if lock is not None:
        query = query.execution_options(populate_existing=True)
    return session.scalar(query)


def profile_query(
    shop_id: int, *, customer_id: str | None, email: str | None, phone: str | None, lock: str | None = None
) -> Select[Profile] | None:
    """find_profile's statement, for a caller that runs it with another read (None: no detail to match)."""
    match = equal_where_given((Profile.customer_id, customer_id), (Profile.email, email), (Profile.phone, phone))
    if not match:
        return None
    query = select(Profile).where(Profile.shop_id == shop_id, or_(*match)).order_by(Profile.id).limit(1)
    if lock is not None:
        query = query.with_for_update(read=lock == KEEP_ORIGIN, key_share=lock == KEEP_ORIGIN)
    return query


def customer_created_at(payload: Any) -> datetime | None:
    """When Shopify created the customer of an order or checkout body (its `customer.created_at`);
    None when the body has no customer or does not say. An unreadable time says nothing either:
    it must not make the whole order or checkout unusable."""
    customer = payload.get("customer") if isinstance(payload, dict) else None
    if not isinstance(customer, dict):
        return None
    try:
        return parse_time(customer.get("created_at"), "customer.created_at", required=False)
    except PayloadProblem:
        return None


def created_before_install(shop: Shop, created_in_shopify: datetime | None) -> bool:
    return created_in_shopify is not None and created_in_shopify < shop.installed_at


def correct_origin(session: Session, shop: Shop, profile: Profile, created_in_shopify: datetime | None) -> bool:
    """Make a captured profile imported when Shopify says its customer existed before the install
    and no referral journey has started for it (see the module's docstring); whether it changed.

    The row is locked FOR UPDATE first (CHANGE_ORIGIN): an order judging the profile holds it
    FOR KEY SHARE until its journey is committed, so a journey and this change are never both
    made. Pending changes to `profile` are flushed before it is read anew."""
    if profile.origin != CAPTURED or not created_before_install(shop, created_in_shopify):
        return False
    session.flush()
    session.refresh(profile, with_for_update=True)
    if profile.origin != CAPTURED or profile.created_at < shop.installed_at:
        return False  # imported meanwhile, or captured in an earlier install: the store's own
    journey = select(Journey.id).where(Journey.profile_id == profile.id, Journey.flow == Flow.REFERRAL.value)
    if session.scalar(journey.limit(1)) is not None:
        return False
    profile.origin, profile.captured_by = IMPORTED, None
    return True


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
    install (`created_in_shopify`), which makes it imported. A known profile keeps its origin
    (but for `correct_origin`); it only learns a customer id it did not have. The profile's row
    stays locked until the transaction ends (KEEP_ORIGIN, or CHANGE_ORIGIN when the customer was
    created before the install: taken at once, not raised from a shared lock, which two such
    transactions would deadlock on)."""
    lock = profile_lock(shop, created_in_shopify)
    profile = find_profile(session, shop.id, customer_id=customer_id, email=email, phone=phone, lock=lock)
    return known_or_new(
        session, shop, profile, by=by, customer_id=customer_id, email=email, phone=phone, first_name=first_name,
        created_in_shopify=created_in_shopify,
    )  # fmt: skip


def profile_lock(shop: Shop, created_in_shopify: datetime | None) -> str:
    """The lock profile_for takes on the profile it finds."""
    return CHANGE_ORIGIN if created_before_install(shop, created_in_shopify) else KEEP_ORIGIN


def known_or_new(
    session: Session,
    shop: Shop,
    profile: Profile | None,
    *,
    by: str,
    customer_id: str | None,
    email: str | None,
    phone: str | None,
    first_name: str | None = None,
    created_in_shopify: datetime | None = None,
) -> Profile | None:
    """profile_for once its lookup (`profile_query` with `profile_lock`) found `profile`, or none."""
    if profile is not None:
        correct_origin(session, shop, profile, created_in_shopify)
        if customer_id and not profile.customer_id:
            profile.customer_id = customer_id
        return profile
    if not (email or phone or customer_id):
        return None
    before_install = created_before_install(shop, created_in_shopify)
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
