"""Finishing an install, however it started (token exchange, authorization code, CLI)."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select

from shop_app.adapters.shopify_oauth import OfflineToken
from shop_app.errors import describe
from shop_app.runtime import Runtime
from shop_app.shopify.offline_tokens import store_token
from shop_app.shopify.signatures import clean_shop_domain
from shop_app.storage.database import transaction
from shop_app.storage.tables import Shop

log = logging.getLogger(__name__)
_SETUP_KEY = "reclaim:setup-job:{}"  # which job is setting the shop up (Redis holds work in flight only)


def complete_install(rt: Runtime, domain: str, token: OfflineToken, now: datetime) -> Shop:
    """Store the offline token (sealed), mark the shop installed, and queue the setup job
    that reads the shop from Shopify, seeds its settings and imports existing customers."""
    domain = clean_shop_domain(domain)
    with transaction(rt.sessions) as session:
        shop = session.scalar(select(Shop).where(Shop.domain == domain))
        if shop is None:
            shop = Shop(
                domain=domain, name=domain.split(".")[0].replace("-", " ").title(), timezone="UTC", currency="USD"
            )
            session.add(shop)
        shop.status, shop.installed_at, shop.uninstalled_at = "installed", now, None
        shop.setup_completed_at, shop.setup_attempts, shop.setup_retry_at, shop.setup_error = None, 0, None, None
        store_token(shop, token, rt.box)
        session.flush()
        shop_id = shop.id
    enqueue_setup(rt, shop_id)
    return shop


def setup_job_id(rt: Runtime, shop_id: int) -> str | None:
    value = rt.redis.get(_SETUP_KEY.format(shop_id))
    if isinstance(value, bytes):  # our client does not decode responses
        value = value.decode()
    return value or None


def enqueue_setup(rt: Runtime, shop_id: int) -> None:
    job_id = rt.queue.new_job_id("setup")
    try:
        rt.redis.set(_SETUP_KEY.format(shop_id), job_id, ex=86400)
        rt.queue.enqueue_setup(shop_id, job_id)
    except Exception as exc:  # Redis down: the reconciler finds shops whose setup never finished
        log.warning("could not enqueue setup of shop %s (%s); the reconciler will retry", shop_id, describe(exc))
