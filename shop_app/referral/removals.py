"""The codes of erased customers, deleted in the shop's Shopify (customers/redact; found by a review).

An advocate's personal referral code is made from their first name (`ZULEIKA-KX5CXZ`) and lives in
the merchant's Shopify, as do the reward codes they earned. Erasing the customer's rows here left
those discounts live there.

- `record_for_profiles`: in the redact's own transaction, before the rows go, each such discount's
  gid becomes a `discount_removals` row (never the code: it holds the name). Nothing is lost on a
  crash or a Redis flush: the row is in the database with the redact, or neither is.
- `remove_due`: a step of the reconciler's pass (jobs/dispatch.py). For a few shops a pass, a
  bounded batch of their rows: each discount is deleted through the Admin API (discountCodeDelete),
  and its row goes when Shopify says it deleted it or has no discount of that id. A failed try keeps
  the row: one attempt more, its reason (the failure's kind, without personal data), and no new try
  before a backoff (1 minute, doubling up to 6 hours). Shopify not answering ends the shop's batch:
  a shop that is down costs one call a pass. Shops without a usable token (uninstalled) wait: their
  rows go with the shop at shop/redact, or are tried again after a reinstall.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from shop_app.adapters.shopify_admin import RetryPolicy
from shop_app.domain.backoff import backoff_seconds
from shop_app.errors import AdminUserError, describe
from shop_app.runtime import Runtime
from shop_app.shopify.offline_tokens import open_admin_client
from shop_app.storage.database import insert_new, transaction
from shop_app.storage.referral_tables import DiscountRemoval, ReferralAdvocate, ReferralReward
from shop_app.storage.tables import Shop

log = logging.getLogger(__name__)

#: Shops served per pass, and discounts deleted per shop per pass (10 points each in Shopify).
SHOPS_PER_PASS = 5
PER_SHOP = 10
#: The pass holds up the reconciler while it calls Shopify: one try, a short timeout.
PASS_POLICY = RetryPolicy(max_attempts=1, base_delay=0.5, max_delay=2.0)
PASS_TIMEOUT = (3.0, 5.0)


def record_for_profiles(session: Session, shop_id: int, profile_ids: Iterable[int]) -> int:
    """Record for removal the Shopify discounts made for these profiles: their advocate codes and
    the rewards those codes earned them. Called before the rows go; returns how many were new."""
    advocates = select(ReferralAdvocate.id).where(
        ReferralAdvocate.shop_id == shop_id, ReferralAdvocate.profile_id.in_(list(profile_ids))
    )
    codes = select(ReferralAdvocate.code_discount_id).where(ReferralAdvocate.id.in_(advocates))
    rewards = select(ReferralReward.reward_discount_id).where(
        ReferralReward.shop_id == shop_id, ReferralReward.advocate_id.in_(advocates)
    )
    found = {*session.scalars(codes), *session.scalars(rewards)}
    return sum(
        insert_new(session, DiscountRemoval, shop_id=shop_id, discount_id=discount_id)
        for discount_id in sorted(gid for gid in found if gid)
    )


def remove_due(rt: Runtime, now: datetime) -> int:
    """The reconciler's step: delete the due discounts of at most SHOPS_PER_PASS shops; returns how
    many rows went. A failure is kept on its row and logged without personal data, never raised."""
    due = or_(DiscountRemoval.retry_at.is_(None), DiscountRemoval.retry_at <= now)
    with transaction(rt.sessions) as session:
        shops = list(
            session.scalars(
                select(DiscountRemoval.shop_id)
                .join(Shop, Shop.id == DiscountRemoval.shop_id)
                .where(due, Shop.status == "installed", Shop.access_token.is_not(None))
                .group_by(DiscountRemoval.shop_id)
                .order_by(DiscountRemoval.shop_id)
                .limit(SHOPS_PER_PASS)
            )
        )
        batches = {
            shop_id: session.execute(
                select(DiscountRemoval.id, DiscountRemoval.discount_id)
                .where(DiscountRemoval.shop_id == shop_id, due)
                .order_by(DiscountRemoval.id)
                .limit(PER_SHOP)
            ).all()
            for shop_id in shops
        }
    return sum(_remove_for_shop(rt, shop_id, [(row.id, row.discount_id) for row in rows], now)
               for shop_id, rows in batches.items())  # fmt: skip


def _remove_for_shop(rt: Runtime, shop_id: int, rows: list[tuple[int, str]], now: datetime) -> int:
    """Delete the batch's discounts in the shop's Shopify, one call each; the rows done go. A
    userError keeps its row only; a failure to reach Shopify keeps every row not yet done."""
    done: list[int] = []
    refused: list[int] = []
    try:
        with open_admin_client(rt.sessions, rt.box, rt.settings, shop_id, now, rt.admin_sleep) as client:
            client.policy, client.timeout = PASS_POLICY, PASS_TIMEOUT
            for row_id, discount_id in rows:
                try:
                    client.delete_discount_code(discount_id)  # deleted now, or Shopify had none of that id
                except AdminUserError as error:
                    _failed(rt, shop_id, [row_id], error, now)
                    refused.append(row_id)
                    continue
                done.append(row_id)
    except Exception as error:  # Shopify down, the token refused, …: the rows not done wait
        _failed(rt, shop_id, [row_id for row_id, _ in rows if row_id not in done + refused], error, now)
    finally:
        if done:
            with transaction(rt.sessions) as session:
                session.execute(delete(DiscountRemoval).where(DiscountRemoval.id.in_(done)))
    return len(done)


def _failed(rt: Runtime, shop_id: int, row_ids: list[int], error: BaseException, now: datetime) -> None:
    """The rows' try failed: one attempt more, the failure's kind as reason, and a backoff."""
    if not row_ids:
        return
    reason = f"not deleted in Shopify: {describe(error)}"[:500]
    with transaction(rt.sessions) as session:
        for row in session.scalars(select(DiscountRemoval).where(DiscountRemoval.id.in_(row_ids))):
            row.attempts += 1
            row.reason = reason
            row.retry_at = now + timedelta(seconds=backoff_seconds(row.attempts))
    log.warning("%s discount(s) of shop %s not deleted in Shopify: %s; tried again later",
                len(row_ids), shop_id, describe(error))  # fmt: skip
