"""After install: read the shop from Shopify, seed its settings, import existing customers.

Customers that existed before the install are recorded as `imported` profiles: the
referral flow must never write to them (it runs only for customers the store captured). A
customer already profiled as captured, because her order or checkout came before this import,
is made imported when Shopify created her before the install and her referral journey has not
started (shop_app/referral/profiles.correct_origin).
Each run counts as an attempt before it starts (jobs/attempts.py), so a setup that keeps
breaking, or keeps killing its worker, stops after MAX_JOB_ATTEMPTS with its reason kept.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from jobs import attempts
from shop_app import runtime
from shop_app.billing.refresh import read_state
from shop_app.billing.subscriptions import store_state
from shop_app.compliance.consent_records import record_consent
from shop_app.domain.payloads import normal_email, normal_phone
from shop_app.errors import describe
from shop_app.recovery.phones import e164, region_code
from shop_app.referral.profiles import correct_origin, find_profile
from shop_app.runtime import Runtime
from shop_app.shopify.offline_tokens import open_admin_client
from shop_app.shopify.shops import save_settings
from shop_app.storage.database import transaction
from shop_app.storage.tables import Profile, Shop, ShopSettingsRow

log = logging.getLogger(__name__)
MAX_IMPORT_PAGES = 1000


def after_install(shop_id: int) -> str:
    rt = runtime.current()
    now = datetime.now(UTC)
    with transaction(rt.sessions) as session:
        shop = session.get(Shop, shop_id, with_for_update=True)
        if shop is None or shop.status != "installed" or shop.setup_completed_at is not None:
            return "nothing to do"
        if attempts.exhausted(shop.setup_attempts):
            return f"not set up: {shop.setup_error}"
        shop.setup_attempts += 1
        run = shop.setup_attempts
        # No other run before this time, even if this one dies with its worker.
        shop.setup_retry_at = attempts.retry_at(run, now)
    try:
        return _set_up(rt, shop_id, now)
    except Exception as error:
        return _failed(rt, shop_id, run, now, error)


def _failed(rt: Runtime, shop_id: int, run: int, now: datetime, error: Exception) -> str:
    next_run = None if attempts.exhausted(run) else attempts.retry_at(run, now)
    reason = attempts.failure_reason(run, error, next_run)
    try:
        with transaction(rt.sessions) as session:
            session.get_one(Shop, shop_id).setup_error = reason
    except Exception as second:
        raise attempts.JobFailed(f"{describe(error)}; recording it failed too: {describe(second)}") from None
    log.warning("setup of shop %s: %s", shop_id, reason)
    return f"not set up: {reason}"


def _set_up(rt: Runtime, shop_id: int, now: datetime) -> str:
    with open_admin_client(rt.sessions, rt.box, rt.settings, shop_id, now, rt.admin_sleep) as client:
        info = client.shop_info()
        billing = read_state(client, shop_id)  # None: the Admin API failed; read again later (billing/refresh.py)
        with transaction(rt.sessions) as session:
            shop = session.get_one(Shop, shop_id)
            shop.name, shop.email = info.name, info.email
            shop.timezone, shop.currency = info.iana_timezone, info.currency_code
            shop.country_code = region_code(info.country_code)
            if billing is not None:
                store_state(session, shop, billing, now)  # the plan and development flag (issue 14, billing)
            if session.get(ShopSettingsRow, shop_id) is None:
                save_settings(session, shop, {})  # the defaults, delivery windows in the shop's zone
            region = shop.country_code
        imported, after = 0, None
        for _ in range(MAX_IMPORT_PAGES):
            page = client.customers_page(after)
            with transaction(rt.sessions) as session:
                imported += sum(_import(session, shop_id, customer, region, now) for customer in page.customers)
            if not page.has_next_page:
                break
            after = page.end_cursor
    with transaction(rt.sessions) as session:
        shop = session.get_one(Shop, shop_id)
        shop.setup_completed_at, shop.setup_error = now, None
    plan = "" if billing is not None else "; plan not read (Admin API failed): read again later"
    return f"set up {info.myshopify_domain}: {imported} existing customer(s) imported{plan}"


#: Shopify's marketing states that are a statement by the customer (the others — NOT_SUBSCRIBED,
#: PENDING, INVALID, REDACTED — say nothing about consent).
MARKETING_STATEMENTS = {"SUBSCRIBED": True, "UNSUBSCRIBED": False}


def _import(session, shop_id: int, customer, region: str | None, now: datetime) -> int:
    # Shopify keeps customer phones in E.164; read like any other, an odd one is dropped, not stored.
    email, phone = normal_email(customer.email), e164(normal_phone(customer.phone), region, "imported customer phone")
    if not (email or phone):
        return 0
    customer_id = customer.id.rsplit("/", 1)[-1]
    known = find_profile(session, shop_id, customer_id=customer_id, email=email, phone=phone)
    if known is not None:
        # Already known (captured by the store since install, or imported before). One captured
        # only because her order or checkout came before this import, with no journey yet, is
        # imported after all (referral/profiles.correct_origin).
        return int(correct_origin(session, session.get_one(Shop, shop_id), known, customer.created_at))
    profile = Profile(
        shop_id=shop_id,
        email=email,
        phone=phone,
        customer_id=customer_id,
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
