"""After install: read the shop from Shopify, seed its settings, import existing customers.

Customers that existed before the install are recorded as `imported` profiles: the
referral flow must never write to them (it runs only for customers the store captured).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import or_, select

from shop_app import runtime
from shop_app.compliance.consent_records import record_consent
from shop_app.domain.payloads import normal_email, normal_phone
from shop_app.recovery.orders import equal_where_given
from shop_app.shopify.offline_tokens import open_admin_client
from shop_app.shopify.shops import save_settings
from shop_app.storage.database import transaction
from shop_app.storage.tables import Profile, Shop, ShopSettingsRow

MAX_IMPORT_PAGES = 1000


def after_install(shop_id: int) -> str:
    rt = runtime.current()
    now = datetime.now(UTC)
    with open_admin_client(rt.sessions, rt.box, rt.settings, shop_id, now, rt.admin_sleep) as client:
        info = client.shop_info()
        with transaction(rt.sessions) as session:
            shop = session.get_one(Shop, shop_id)
            shop.name, shop.email = info.name, info.email
            shop.timezone, shop.currency = info.iana_timezone, info.currency_code
            if session.get(ShopSettingsRow, shop_id) is None:
                save_settings(session, shop, {})  # the defaults, delivery windows in the shop's zone
        imported, after = 0, None
        for _ in range(MAX_IMPORT_PAGES):
            page = client.customers_page(after)
            with transaction(rt.sessions) as session:
                imported += sum(_import(session, shop_id, customer, now) for customer in page.customers)
            if not page.has_next_page:
                break
            after = page.end_cursor
    with transaction(rt.sessions) as session:
        session.get_one(Shop, shop_id).setup_completed_at = now
    return f"set up {info.myshopify_domain}: {imported} existing customer(s) imported"


#: Shopify's marketing states that are a statement by the customer (the others — NOT_SUBSCRIBED,
#: PENDING, INVALID, REDACTED — say nothing about consent).
MARKETING_STATEMENTS = {"SUBSCRIBED": True, "UNSUBSCRIBED": False}


def _import(session, shop_id: int, customer, now: datetime) -> int:
    email, phone = normal_email(customer.email), normal_phone(customer.phone)
    if not (email or phone):
        return 0
    match = equal_where_given((Profile.email, email), (Profile.phone, phone))
    if session.scalar(select(Profile.id).where(Profile.shop_id == shop_id, or_(*match)).limit(1)):
        return 0  # already known (captured by the store since install, or imported before)
    profile = Profile(
        shop_id=shop_id,
        email=email,
        phone=phone,
        customer_id=customer.id.rsplit("/", 1)[-1],
        first_name=customer.first_name,
        origin="imported",
        created_at=customer.created_at,
    )
    session.add(profile)
    session.flush()
    # Their marketing state in Shopify becomes a consent record (source "customer").
    for channel, address, state in (
        ("email", email, customer.email_marketing_state),
        ("sms", phone, customer.sms_marketing_state),
    ):
        granted = MARKETING_STATEMENTS.get((state or "").upper())
        if address and granted is not None:
            record_consent(
                session, shop_id, channel, address, granted=granted, source="customer", at=now, profile_id=profile.id
            )
    return 1
