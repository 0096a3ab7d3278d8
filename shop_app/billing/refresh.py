"""Reading a shop's plan when the setup could not, or long ago (issue 14 review).

- `read_state`: the shop's billing state, or None when the Admin API failed. The setup job
  (jobs/shop.py) goes on without it: a failed plan read must not hold back the shop's details
  and its customer import. It tries twice only (the reconciler's pass reads it again). The
  failure is logged with the shop's id and the failure's kind only.
- `refresh_due`: a pass of the reconciler (jobs/dispatch.py) reads the plan of installed shops the
  app never read one of, or read more than a day ago, a couple of shops a pass. A shop whose read
  fails waits before its next try (1 minute, doubling up to 6 hours): the reconciler runs every
  few seconds and must not hammer Shopify. The next-try times are Redis keys that expire.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from shop_app.adapters.shopify_admin import AdminClient, RetryPolicy
from shop_app.adapters.shopify_admin_billing import BillingState, read_billing_state
from shop_app.billing.subscriptions import store_state
from shop_app.domain.backoff import backoff_seconds
from shop_app.errors import AdminApiError, AdminApiUnavailable, describe
from shop_app.runtime import Runtime
from shop_app.shopify.offline_tokens import open_admin_client
from shop_app.storage.billing_tables import ShopPlan
from shop_app.storage.database import transaction
from shop_app.storage.tables import Shop

log = logging.getLogger(__name__)

#: What a plan read may fail with and still leave the rest of the setup to do.
READ_FAILURES = (AdminApiError, AdminApiUnavailable)
#: A read that can be done again later waits briefly: two tries, half a second apart.
BRIEF = RetryPolicy(max_attempts=2, base_delay=0.5, max_delay=2.0)


def read_state(client: AdminClient, shop_id: int) -> BillingState | None:
    """The shop's subscriptions and development flag, or None (logged) when the Admin API failed."""
    policy, client.policy = client.policy, BRIEF
    try:
        return read_billing_state(client)
    except READ_FAILURES as error:
        log.warning("plan of shop %s not read: %s; the reconciler reads it later", shop_id, describe(error))
        return None
    finally:
        client.policy = policy


# --- the reconciler's pass ----------------------------------------------------------------------

#: A plan read longer ago than this is read again (a development store transferred to a merchant
#: becomes limited; a missed app_subscriptions/update is caught up).
STALE_AFTER = timedelta(days=1)
#: A shop installed less than this long ago is its setup job's to read (jobs/shop.py).
SETTLE = timedelta(minutes=10)
#: Shops read per pass (the reconciler runs every few seconds), and candidates looked at per pass.
PER_PASS = 2
CANDIDATES = 100
#: A shop being read, or whose last read failed, is not tried again before its next-try time
#: (a Redis key per shop): domain/backoff.py, 1 minute after the first failure, doubling up to 6 hours.
CLAIM_SECONDS = 60
#: The pass holds up the reconciler while it reads: one try, a short timeout, and the pass ends at
#: its first failure (when Shopify is down, one shop a pass finds out, not every due shop).
PASS_POLICY = RetryPolicy(max_attempts=1, base_delay=0.5, max_delay=2.0)
PASS_TIMEOUT = (3.0, 5.0)
FAILURES_KEPT_SECONDS = 2 * 86_400


def _wait_key(shop_id: int) -> str:
    return f"reclaim:plan-read:wait:{shop_id}"


def _failures_key(shop_id: int) -> str:
    return f"reclaim:plan-read:failures:{shop_id}"


def due_shops(session: Session, now: datetime, limit: int = CANDIDATES) -> list[int]:
    """Installed, set-up shops (for SETTLE at least) whose plan was never read or read before
    `now - STALE_AFTER`, never read first, then the oldest read."""
    stale = now - STALE_AFTER
    query = (
        select(Shop.id)
        .outerjoin(ShopPlan, ShopPlan.shop_id == Shop.id)
        .where(
            Shop.status == "installed",
            Shop.access_token.is_not(None),
            Shop.setup_completed_at.is_not(None),  # the setup reads it first
            Shop.installed_at < now - SETTLE,
            or_(ShopPlan.shop_id.is_(None), ShopPlan.checked_at < stale),
        )
        .order_by(ShopPlan.checked_at.is_not(None), ShopPlan.checked_at, Shop.id)
        .limit(limit)
    )
    return list(session.scalars(query))


def refresh_due(rt: Runtime, now: datetime, per_pass: int = PER_PASS) -> int:
    """The reconciler's pass: read the plan of at most `per_pass` due shops whose next-try time
    has come; returns how many were read. A failed read is logged and backed off, never raised."""
    with transaction(rt.sessions) as session:
        due = due_shops(session, now)
    if not due:
        return 0
    next_tries = rt.redis.mget([_wait_key(shop_id) for shop_id in due])
    ready = [shop_id for shop_id, at in zip(due, next_tries, strict=True) if at is None or float(at) <= now.timestamp()]
    read = 0
    for shop_id in ready[:per_pass]:
        _wait_until(rt, shop_id, now, CLAIM_SECONDS)  # another pass leaves it alone meanwhile
        if not _refresh_one(rt, shop_id, now):
            break
        read += 1
    return read


def _wait_until(rt: Runtime, shop_id: int, now: datetime, seconds: int) -> None:
    """The shop's next-try time: `seconds` after `now` (the key itself goes a day after that)."""
    rt.redis.set(_wait_key(shop_id), str(now.timestamp() + seconds), ex=seconds + 86_400)


def _refresh_one(rt: Runtime, shop_id: int, now: datetime) -> int:
    try:
        with open_admin_client(rt.sessions, rt.box, rt.settings, shop_id, now, rt.admin_sleep) as client:
            client.policy, client.timeout = PASS_POLICY, PASS_TIMEOUT
            state = read_billing_state(client)
        with transaction(rt.sessions) as session:
            shop = session.get_one(Shop, shop_id)
            if shop.status != "installed":
                return 1  # uninstalled meanwhile: nothing to read, not a failure
            said = store_state(session, shop, state, now)
    except Exception as error:
        failures = int(rt.redis.incr(_failures_key(shop_id)))
        rt.redis.expire(_failures_key(shop_id), FAILURES_KEPT_SECONDS)
        wait = backoff_seconds(failures)
        _wait_until(rt, shop_id, now, wait)
        log.warning("plan of shop %s not read (failure %s in a row): %s; next try in %s s",
                    shop_id, failures, describe(error), wait)  # fmt: skip
        return 0
    rt.redis.delete(_failures_key(shop_id), _wait_key(shop_id))
    log.info("plan of shop %s: %s", shop_id, said)
    return 1
