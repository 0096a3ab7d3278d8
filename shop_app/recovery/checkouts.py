"""Checkouts and their customers' profiles as stored: upserts that never let stale state win."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple

from sqlalchemy import Select, and_, literal, select, true
from sqlalchemy.orm import Session, aliased

from shop_app.compliance.consent_records import Statement, record_consents
from shop_app.domain.models import Checkout, LineItem
from shop_app.recovery import plan_facts
from shop_app.referral.profiles import BY_CHECKOUT, known_or_new, profile_lock, profile_query
from shop_app.storage.tables import CheckoutRow, Profile, Shop, WebhookDelivery


def checkout_of(row: CheckoutRow) -> Checkout:
    return Checkout(
        token=row.token,
        shopify_id=row.shopify_id,
        cart_token=row.cart_token,
        updated_at=row.shopify_updated_at,
        created_at=row.shopify_created_at,
        email=row.email,
        phone=row.phone,
        customer_id=row.customer_id,
        first_name=row.first_name,
        abandoned_checkout_url=row.abandoned_checkout_url,
        currency=row.currency,
        total_price=Decimal(row.total_price),
        line_items=tuple(
            LineItem(i["title"], i["quantity"], Decimal(i["price"]), i.get("variant_title")) for i in row.line_items
        ),
        accepts_email_marketing=row.accepts_email_marketing,
        accepts_sms_marketing=row.accepts_sms_marketing,
        sms_phone=row.sms_phone,
        locale=row.locale,
        completed_at=row.completed_at,
    )


#: session.info's key for the checkout the delivery's first read locked (jobs/ingest.py): the
#: delivery's subject (a checkout token) and that checkout's row, None when it is not stored yet.
LOCKED = "ingest.locked_checkout"


class Stored(NamedTuple):
    row: CheckoutRow
    ignored: str | None  # why the webhook changed nothing
    keys_moved: bool  # new, or its customer id, email or phone changed: the keys orders are matched on
    facts: plan_facts.PlanFacts | None = None  # the replan's, when read here (see store_checkout)


def locked_with_delivery(delivery_id: int) -> Any:
    """The checkout the delivery names (WebhookDelivery.subject), locked, as an entity the
    delivery's read outer-joins on true: in its own subquery (PostgreSQL refuses FOR UPDATE on the
    nullable side of an outer join). The lock is so taken before anything about it is read."""
    named = and_(WebhookDelivery.shop_id == CheckoutRow.shop_id, WebhookDelivery.subject == CheckoutRow.token)
    mine = select(CheckoutRow).join(WebhookDelivery, named).where(WebhookDelivery.id == delivery_id)
    return aliased(CheckoutRow, mine.with_for_update(of=CheckoutRow).subquery("named"))


def store_checkout(
    session: Session, shop: Shop, checkout: Checkout, *, customer_created_at: datetime | None = None
) -> Stored:
    """Upsert; returns the row, why it was ignored if it was, and whether its keys moved. A stale
    `updated_at` never overwrites newer state. `customer_created_at`: when Shopify created the
    checkout's customer (its body's), which decides a new profile's origin.

    When the delivery's read locked the row (LOCKED, jobs/ingest.py), the replan's facts are read
    before the write, the profile lookup in the same statement (issue 13), and returned: those of
    a checkout with this body (recovery/plan_facts.py). Else the row and profile are read here
    and the replan reads its facts after the write."""
    delivered, row = _delivered(session, checkout)
    known, facts = None, None
    if not delivered:
        row, known = _read(session, shop, checkout, customer_created_at)
    if row is not None and (ignored := _ignored(row, checkout)):
        return Stored(row, ignored, False)
    if delivered:  # after the delivery's lock, before the write: see recovery/plan_facts.py
        lookup = _lookup(shop, checkout, customer_created_at) if row is None or row.profile_id is None else None
        facts = plan_facts.read(session, shop.id, row.id if row is not None else None, checkout, lookup)
        known = facts.profile
    keys = (checkout.customer_id, checkout.email, checkout.phone)
    keys_moved = row is None or (row.customer_id, row.email, row.phone) != keys
    profile_id = row.profile_id if row is not None else None
    if profile_id is None and checkout.reachable:  # found (or made) first: the row's one write carries it
        profile_id = _profile_for(session, shop, checkout, customer_created_at, known).id
    if row is None:
        row = CheckoutRow(shop_id=shop.id, token=checkout.token)
        session.add(row)
    row.profile_id = profile_id
    row.shopify_id = checkout.shopify_id or row.shopify_id
    row.cart_token = checkout.cart_token
    row.email, row.phone, row.customer_id = checkout.email, checkout.phone, checkout.customer_id
    row.first_name = checkout.first_name
    row.abandoned_checkout_url = checkout.abandoned_checkout_url
    row.currency, row.total_price = checkout.currency, checkout.total_price
    row.line_items = [
        {"title": i.title, "quantity": i.quantity, "price": str(i.price), "variant_title": i.variant_title}
        for i in checkout.line_items
    ]
    row.accepts_email_marketing = checkout.accepts_email_marketing
    row.accepts_sms_marketing = checkout.accepts_sms_marketing
    row.sms_phone = checkout.sms_phone
    row.locale = checkout.locale
    row.completed_at = checkout.completed_at
    row.shopify_created_at = checkout.created_at
    row.shopify_updated_at = checkout.updated_at
    _record_checkout_consent(session, shop, row, checkout)
    session.flush()
    return Stored(row, None, keys_moved, facts)


def _delivered(session: Session, checkout: Checkout) -> tuple[bool, CheckoutRow | None]:
    """Whether the delivery's read locked this checkout (LOCKED), and its row as that read found it."""
    subject, row = session.info.get(LOCKED, (None, None))
    return subject is not None and subject == checkout.token, row


def _ignored(row: CheckoutRow, checkout: Checkout) -> str | None:
    """Why the stored checkout keeps its state: it was deleted, or this body is older."""
    if row.deleted_at is not None:
        return "checkout was deleted; later update ignored"
    if checkout.updated_at < row.shopify_updated_at:
        return (
            f"stale: updated_at {checkout.updated_at:%Y-%m-%d %H:%M:%S} is older than the stored "
            f"{row.shopify_updated_at:%Y-%m-%d %H:%M:%S}; ignored"
        )
    return None


def _record_checkout_consent(session: Session, shop: Shop, row: CheckoutRow, checkout: Checkout) -> None:
    """What the checkout's marketing checkboxes say, as consent records (source "checkout").

    An unticked SMS box is no statement (it is unticked by default), so only a tick is recorded
    for SMS; the email box is recorded either way when Shopify tells us its state.
    """
    at, said = checkout.updated_at, []
    if checkout.email and checkout.accepts_email_marketing is not None:
        said.append(
            Statement("email", checkout.email, checkout.accepts_email_marketing, "checkout", at, row.profile_id)
        )
    phone = checkout.marketing_phone  # the number the SMS box was ticked for
    if phone and checkout.accepts_sms_marketing:
        said.append(Statement("sms", phone, True, "checkout", at, row.profile_id))
    record_consents(session, shop.id, said)  # both boxes in one statement


def _read(
    session: Session, shop: Shop, checkout: Checkout, customer_created_at: datetime | None
) -> tuple[CheckoutRow | None, Profile | None]:
    """The checkout's row, locked, and, unless that row has a profile already, its customer's
    known profile, locked as profile_for locks it: one SELECT, each in its own locked subquery
    outer-joined to a one-row table (PostgreSQL refuses FOR UPDATE on the nullable side of an
    outer join)."""
    mine = select(CheckoutRow).where(CheckoutRow.shop_id == shop.id, CheckoutRow.token == checkout.token)
    lookup = _lookup(shop, checkout, customer_created_at)
    if lookup is None:
        return session.scalar(mine.with_for_update()), None
    has_one = mine.where(CheckoutRow.profile_id.is_not(None)).with_only_columns(CheckoutRow.id).correlate(None)
    row = aliased(CheckoutRow, mine.with_for_update().subquery("mine"))
    profile = aliased(Profile, lookup.where(~has_one.exists()).subquery("known"))
    one = select(literal(1).label("one")).subquery("one")
    statement = select(row, profile).select_from(one).outerjoin(row, true()).outerjoin(profile, true())
    found = session.execute(statement.execution_options(populate_existing=True)).one()
    return found[0], found[1]


def _lookup(shop: Shop, checkout: Checkout, customer_created_at: datetime | None) -> Select[Any] | None:
    """The customer's known profile, locked as profile_for locks it (None: the checkout reaches nobody)."""
    if not checkout.reachable:
        return None
    lock = profile_lock(shop, customer_created_at)
    return profile_query(
        shop.id, customer_id=checkout.customer_id, email=checkout.email, phone=checkout.phone, lock=lock
    )


def _profile_for(
    session: Session, shop: Shop, checkout: Checkout, customer_created_at: datetime | None, known: Profile | None
) -> Profile:
    """The customer's profile (`known`: as _read found it): captured by this checkout when the
    store meets her first, imported when the checkout's customer.created_at says Shopify had her
    before the install (see shop_app/referral/profiles.py)."""
    profile = known_or_new(
        session, shop, known, by=BY_CHECKOUT, customer_id=checkout.customer_id, email=checkout.email,
        phone=checkout.phone, first_name=checkout.first_name, created_in_shopify=customer_created_at,
    )  # fmt: skip
    assert profile is not None  # a reachable checkout has an email or a phone
    return profile
