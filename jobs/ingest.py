"""The ingest job: a recorded webhook delivery → domain values → database → plan."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy import or_, select, true, update
from sqlalchemy.orm import Session

from jobs import attempts, order_wait, referral_check, referral_ingest
from shop_app import runtime
from shop_app.billing import subscriptions as billing
from shop_app.compliance import privacy
from shop_app.compliance.consent_records import record_order_consent
from shop_app.domain.models import JourneyStatus, WebhookStatus
from shop_app.domain.payloads import (
    PayloadProblem,
    load_body,
    parse_checkout,
    parse_checkout_delete,
    parse_order,
    parse_privacy_request,
    parse_time,
)
from shop_app.domain.settings import ShopSettings
from shop_app.errors import describe
from shop_app.recovery import attribution, checkouts, outbox
from shop_app.recovery.contacts import accepted, accepted_order, phone_region
from shop_app.recovery.journeys import convert_journey, replan, stop_journey
from shop_app.recovery.orders import equal_where_given, journeys_paid_by, store_order
from shop_app.recovery.phones import e164
from shop_app.referral.profiles import customer_created_at
from shop_app.referral.rewards import RewardTerms, on_friend_order
from shop_app.runtime import Runtime
from shop_app.shopify.offline_tokens import forget_token
from shop_app.shopify.shops import load_settings, settings_of
from shop_app.shopify.topics import AFTER_UNINSTALL
from shop_app.storage.billing_tables import ShopPlan
from shop_app.storage.database import transaction
from shop_app.storage.tables import (
    CheckoutRow,
    Journey,
    OrderRow,
    Shop,
    ShopSettingsRow,
    WebhookDelivery,
)

log = logging.getLogger(__name__)
#: The topics whose handler may start a referral journey that asks Shopify for an order count.
STARTS_REFERRALS = frozenset({"orders/paid"})
#: data_requests.phone holds this many characters.
MAX_PHONE_TEXT = 32
#: session.info's key for the shop's settings as the delivery's read found them.
SETTINGS = "ingest.shop_settings"


def ingest_delivery(delivery_id: int) -> str:
    rt = runtime.current()
    now = datetime.now(UTC)
    try:
        outcome, topic = _ingest(rt, delivery_id, now)
    except Exception as error:  # whatever broke, the delivery is retried a bounded number of times
        return _failed(rt, delivery_id, now, error)
    if topic in STARTS_REFERRALS:  # committed: a referral journey it started is asked Shopify's count (issue 11)
        referral_check.after_ingest(rt)
    return outcome


def _failed(rt: Runtime, delivery_id: int, now: datetime, error: Exception) -> str:
    """Count the broken run: the delivery waits for its next attempt, or is rejected for good."""
    try:
        with transaction(rt.sessions) as session:
            delivery = session.get(WebhookDelivery, delivery_id, with_for_update=True)
            if delivery is None or delivery.status != WebhookStatus.RECEIVED:
                return f"failed after the delivery moved on: {describe(error)}"
            delivery.attempts += 1
            if attempts.exhausted(delivery.attempts):
                delivery.status, delivery.processed_at = WebhookStatus.REJECTED.value, now
                delivery.retry_at = None
            else:
                delivery.retry_at = attempts.retry_at(delivery.attempts, now)
            # Released: the reconciler starts the next run once retry_at has passed.
            delivery.reason = attempts.failure_reason(delivery.attempts, error, delivery.retry_at)
            delivery.job_id = None
            reason = delivery.reason
            outcome = delivery.status if delivery.status == WebhookStatus.REJECTED else "failed"
            shop, topic = session.get(Shop, delivery.shop_id), delivery.topic
    except Exception as second:
        raise attempts.JobFailed(f"{describe(error)}; recording it failed too: {describe(second)}") from None
    _log(shop.domain if shop else None, delivery_id, topic, outcome, reason, logging.WARNING)
    return reason


def _log(
    shop: str | None, delivery_id: int, topic: str, outcome: str, reason: str | None, level: int = logging.INFO
) -> None:
    """The ingest event: one line per run that moved the delivery (README "Logs"). Its reason, as
    every stored reason, holds no personal data."""
    log.log(
        level,
        "delivery %s (%s) %s: %s",
        delivery_id,
        topic,
        outcome,
        reason,
        extra={
            "event": "ingest",
            "shop": shop,
            "delivery_id": delivery_id,
            "topic": topic,
            "outcome": outcome,
            "reason": reason,
        },
    )


def not_for_this_install(shop: Shop, topic: str, triggered_at: str | None) -> str | None:
    """Why a delivery is not ingested for the shop as it is now (None: it is). A shop not installed
    gets only the topics the routes accept after an uninstall: a webhook another web process
    accepted just after it, or one recorded before it and run after, sends nothing. An
    app/uninstalled triggered before the current install (Shopify retries late) does not end it."""
    if shop.status != "installed":
        return None if topic in AFTER_UNINSTALL else "shop not installed: ignored"
    if topic == "app/uninstalled":
        try:
            triggered = parse_time(triggered_at, "X-Shopify-Triggered-At", required=False)
        except PayloadProblem:  # an unreadable time: the uninstall is taken as it comes
            triggered = None
        if triggered is not None and triggered < shop.installed_at:
            return "an uninstall from before the shop's current install: ignored"
    return None


def _ingest(rt: Runtime, delivery_id: int, now: datetime) -> tuple[str, str | None]:
    """What the delivery's handler said, and the delivery's topic (None: nothing to do)."""
    with transaction(rt.sessions) as session:
        # One read: the delivery (locked), its shop, the shop's settings row (parsed once, kept in
        # the session for this run: see _settings), its plan row (now in the session, so the
        # plan's limit finds it there rather than asking again) and the checkout it names, locked
        # (kept for store_checkout, which then reads what it needs after this lock).
        named = checkouts.locked_with_delivery(delivery_id)
        found = session.execute(
            select(WebhookDelivery, Shop, ShopSettingsRow, ShopPlan, named)
            .join(Shop, Shop.id == WebhookDelivery.shop_id)
            .outerjoin(ShopSettingsRow, ShopSettingsRow.shop_id == Shop.id)
            .outerjoin(ShopPlan, ShopPlan.shop_id == Shop.id)
            .outerjoin(named, true())
            .where(WebhookDelivery.id == delivery_id)
            .with_for_update(of=WebhookDelivery)
        ).first()
        if found is None or found[0].status != WebhookStatus.RECEIVED:
            return "nothing to do", None
        delivery, shop, row = found[0], found[1], found[2]
        if delivery.subject is not None:
            session.info[checkouts.LOCKED] = (delivery.subject, found[4])
        document, updated_at = (row.document, row.updated_at) if row is not None else (None, None)
        session.info[SETTINGS] = settings_of(shop.id, shop.timezone, document, updated_at)
        domain, topic = shop.domain, delivery.topic  # read before shop/redact deletes both rows
        try:
            reason = not_for_this_install(shop, topic, delivery.triggered_at) or HANDLERS[topic](
                session, shop, load_body(delivery.body), now
            )
        except PayloadProblem as exc:
            delivery.status, delivery.reason = WebhookStatus.REJECTED.value, f"unusable payload: {exc}"
            delivery.processed_at = now
            outcome, reason = delivery.status, delivery.reason
        except order_wait.OrderNotKnownYet as waiting:  # Shopify's webhooks come in any order
            reason = order_wait.wait_or_give_up(delivery, waiting, now)
            outcome = "waiting" if delivery.status == WebhookStatus.RECEIVED else delivery.status
        else:
            outcome = WebhookStatus.PROCESSED.value
            if topic != "shop/redact":  # else the delivery row went with the rest of the shop
                # Processed bodies are not kept: the facts now live in their tables.
                delivery.status, delivery.reason, delivery.body, delivery.subject = outcome, reason, None, None
                delivery.processed_at = now
    _log(domain, delivery_id, topic, outcome, reason)  # committed
    return reason, topic


def on_checkout(session: Session, shop: Shop, payload: dict, now: datetime) -> str:
    checkout = accepted(parse_checkout(payload), phone_region(shop.country_code, payload))
    stored = checkouts.store_checkout(session, shop, checkout, customer_created_at=customer_created_at(payload))
    if stored.ignored:
        return stored.ignored
    settings = _settings(session, shop)
    return replan(session, shop, stored.row, settings, now, keys_moved=stored.keys_moved, facts=stored.facts)


def _settings(session: Session, shop: Shop) -> ShopSettings:
    """The shop's settings as this run's first read found them (a shop without a settings row
    included, which the session's identity map cannot remember), else read now."""
    kept = session.info.get(SETTINGS)
    return kept if kept is not None else load_settings(session, shop)


def on_checkout_delete(session: Session, shop: Shop, payload: dict, now: datetime) -> str:
    checkout_id, cart_token = parse_checkout_delete(payload)
    match = equal_where_given((CheckoutRow.shopify_id, checkout_id), (CheckoutRow.cart_token, cart_token))
    rows = session.scalars(select(CheckoutRow).where(CheckoutRow.shop_id == shop.id, or_(*match))).all()
    for row in rows:
        row.deleted_at = now
        active = select(Journey).where(Journey.checkout_id == row.id, Journey.status == JourneyStatus.ACTIVE.value)
        for journey in session.scalars(active):
            stop_journey(session, journey, JourneyStatus.STOPPED, "checkout deleted in Shopify")
    return f"deleted {len(rows)} checkout(s)"


def on_order(session: Session, shop: Shop, payload: dict, now: datetime) -> str:
    accepted_one = accepted_order(parse_order(payload), phone_region(shop.country_code, payload))
    order = store_order(session, shop, accepted_one, referral_ingest.order_facts(payload))  # + address key, locale
    record_order_consent(session, shop.id, accepted_one)  # the box as she paid: the newest statement decides
    journeys = journeys_paid_by(session, shop.id, order)
    for journey in journeys:
        convert_journey(session, journey, order)
    outcome = f"order {order.name or order.shopify_id}: {len(journeys)} journey(s) converted"
    if released := order_wait.release(session, shop.id, order.shopify_id):
        outcome += f"; {released} cancellation or refund(s) that came first released"
    terms = RewardTerms.of(_settings(session, shop).referral)
    referral = on_friend_order(session, shop, order, payload, now, terms)  # issue 11: a friend used a code
    return f"{outcome}; {referral}" if referral else outcome


def on_order_paid(session: Session, shop: Shop, payload: dict, now: datetime) -> str:
    """As on_order, then the referral trigger (issue 11); its reason is the delivery's."""
    converted = on_order(session, shop, payload, now)
    order_id = parse_order(payload).shopify_id
    order = session.scalars(select(OrderRow).where(OrderRow.shop_id == shop.id, OrderRow.shopify_id == order_id)).one()
    converted = f"{converted}; {attribution.on_paid(session, shop, order, payload, now)}"  # issue 12
    return f"{converted}; {referral_ingest.start_referral(session, shop, order, payload, now)}"


def on_app_uninstalled(session: Session, shop: Shop, payload: dict, now: datetime) -> str:
    reason = "app uninstalled"
    cancelled = outbox.cancel_pending(session, shop.id, reason)
    session.execute(
        update(Journey)
        .where(Journey.shop_id == shop.id, Journey.status == JourneyStatus.ACTIVE.value)
        .values(status=JourneyStatus.STOPPED.value, stop_reason=reason)
    )
    shop.status, shop.uninstalled_at = "uninstalled", now
    forget_token(shop)
    return f"{reason}: {cancelled} pending message(s) cancelled"


def _customer(shop: Shop, payload: dict) -> tuple[privacy.Customer, str | None]:
    customer_id, email, phone, orders, request_id = parse_privacy_request(payload)
    # In E.164 like every stored number; one we cannot read is still matched as written (when
    # it fits the request's record: a longer text is no phone any shop stored).
    read = e164(phone, shop.country_code, "privacy request phone")
    phone = read or (phone if phone and len(phone) <= MAX_PHONE_TEXT else None)
    return privacy.Customer(customer_id, email, phone, orders), request_id


def on_data_request(session: Session, shop: Shop, payload: dict, now: datetime) -> str:
    customer, request_id = _customer(shop, payload)
    request = privacy.export_customer(session, shop, customer, request_id)
    found = {k: len(v) for k, v in request.export.items() if isinstance(v, list)}
    return f"export #{request.id} recorded for the merchant: " + ", ".join(f"{n} {k}" for k, n in found.items())


def on_customer_redact(session: Session, shop: Shop, payload: dict, now: datetime) -> str:
    customer, _ = _customer(shop, payload)
    return privacy.redact_customer(session, shop, customer, runtime.current().settings.secret_key)


def on_shop_redact(session: Session, shop: Shop, payload: dict, now: datetime) -> str:
    return privacy.redact_shop(session, shop)


HANDLERS = {
    "checkouts/create": on_checkout,
    "checkouts/update": on_checkout,
    "checkouts/delete": on_checkout_delete,
    "orders/create": on_order,
    "orders/paid": on_order_paid,
    "app/uninstalled": on_app_uninstalled,
    "customers/data_request": on_data_request,
    "customers/redact": on_customer_redact,
    "shop/redact": on_shop_redact,
    **referral_ingest.HANDLERS,
    **billing.HANDLERS,  # app_subscriptions/update (issue 14)
}
