"""customers/redact of an advocate deletes the discounts the app made for them in the shop's Shopify
(found by a review): their personal referral code, made from their first name (ZULEIKA-…), and the
reward codes it earned them. The redact records each discount's gid in its own transaction; the
reconciler's next pass deletes it through the Admin API (discountCodeDelete) and the row goes.

The real signed webhooks, the worker (`store.drain`), the reconciler (`store.tick`) and the
development Admin API, which validates every request against the 2026-07 schema. Shopify down keeps
the row with its reason for a later pass; a discount deleted in Shopify already just lets the row go.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from shop_app.shopify.offline_tokens import open_admin_client
from shop_app.storage.database import transaction
from shop_app.storage.referral_tables import DiscountRemoval, ReferralAdvocate, ReferralReward
from shop_app.storage.tables import Shop
from tests.compliance.test_redact_advocate import (
    BEA,
    BY_EMAIL_AND_SMS,
    CARLA,
    ZULEIKA,
    becomes_an_advocate,
    next_morning,
    person,
    scan,
)

START = datetime(2026, 3, 1, 18, 0, tzinfo=UTC)


def redact_zuleika(store) -> None:
    store.deliver("customers/redact", {"shop_id": 1, "shop_domain": store.domain,
                                       "customer": {"id": ZULEIKA["id"], "email": ZULEIKA["email"]},
                                       "orders_to_redact": [3001]})  # fmt: skip


def codes_in_shopify(store) -> dict[str, str]:
    """The shop's discounts in Shopify: gid → code."""
    return {discount.id: discount.code for discount in store.admin_api.discounts(store.domain)}


def ids_of(store, code: str) -> tuple[str, list[str]]:
    """The gid of an advocate's code and of the reward codes it earned them."""
    with transaction(store.rt.sessions) as session:
        advocate, code_id = session.execute(
            select(ReferralAdvocate.id, ReferralAdvocate.code_discount_id).where(ReferralAdvocate.code == code)
        ).one()
        rewards = session.scalars(
            select(ReferralReward.reward_discount_id).where(ReferralReward.advocate_id == advocate)
        )
        return code_id, [reward for reward in rewards if reward]


def removals(store) -> list[tuple[str, int, str | None]]:
    with transaction(store.rt.sessions) as session:
        rows = session.execute(select(DiscountRemoval.discount_id, DiscountRemoval.attempts, DiscountRemoval.reason))
        return sorted(tuple(row) for row in rows)


def zuleika_advocate(store) -> str:
    """Zuleika pays, becomes an advocate: her code, made in Shopify from her first name."""
    store.set_settings(BY_EMAIL_AND_SMS)
    person(store, ZULEIKA, "z1", 3001, START)
    code = becomes_an_advocate(store, 3001, START + timedelta(hours=15))
    assert code.startswith("ZULEIKA-") and code in codes_in_shopify(store).values()
    return code


def test_the_advocates_code_and_rewards_leave_shopify_and_other_advocates_codes_stay(store, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    store.set_settings(BY_EMAIL_AND_SMS)
    person(store, BEA, "b1", 2001, START)
    bea_code = becomes_an_advocate(store, 2001, START + timedelta(hours=15))
    person(store, ZULEIKA, "z1", 3001, START + timedelta(days=8), code=bea_code)  # Bea's friend: Bea's reward
    zuleika_code = becomes_an_advocate(store, 3001, START + timedelta(days=8, hours=15))
    person(store, CARLA, None, 4001, START + timedelta(days=16), code=zuleika_code)  # Zuleika's reward
    store.tick(next_morning())  # both rewards go out, their codes made in Shopify
    her_code_id, her_rewards = ids_of(store, zuleika_code)
    bea_code_id, bea_rewards = ids_of(store, bea_code)
    assert len(her_rewards) == len(bea_rewards) == 1
    assert {her_code_id, *her_rewards, bea_code_id, *bea_rewards} <= set(codes_in_shopify(store))

    redact_zuleika(store)
    assert removals(store) == sorted((gid, 0, None) for gid in [her_code_id, *her_rewards])  # with the redact
    store.tick(next_morning() + timedelta(minutes=1))  # the reconciler's next pass

    left = codes_in_shopify(store)
    assert [code for code in left.values() if "ZULEIKA" in code.upper()] == []
    assert her_code_id not in left and not set(her_rewards) & set(left)  # the reward she earned too
    assert left[bea_code_id] == bea_code and set(bea_rewards) <= set(left)  # Bea's code and reward stay
    assert removals(store) == []
    assert len(store.admin_api.graphql_requests("DiscountCodeDelete")) == 2
    assert scan(store.rt, caplog) == {}  # nothing of hers anywhere: tables, Redis, logs


def test_shopify_down_keeps_the_row_with_its_reason_and_the_next_pass_deletes(store, caplog) -> None:
    code = zuleika_advocate(store)
    code_id, _ = ids_of(store, code)
    redact_zuleika(store)
    at = START + timedelta(days=10)
    store.admin_api.inject_status(503, count=1, operation="DiscountCodeDelete")

    store.tick(at)
    [(gid, attempts, reason)] = removals(store)
    assert (gid, attempts) == (code_id, 1) and code_id in codes_in_shopify(store)
    assert reason is not None and reason.startswith("not deleted in Shopify: AdminApiUnavailable")
    assert "zuleika" not in reason.lower() and "zuleika" not in caplog.text.lower()
    store.tick(at + timedelta(seconds=30))  # within the backoff: not asked again
    assert len(store.admin_api.graphql_requests("DiscountCodeDelete")) == 1

    store.tick(at + timedelta(minutes=2))
    assert removals(store) == [] and code_id not in codes_in_shopify(store)


def test_a_discount_already_deleted_in_shopify_lets_its_row_go(store, caplog) -> None:
    code = zuleika_advocate(store)
    code_id, _ = ids_of(store, code)
    redact_zuleika(store)
    rt = store.rt
    with transaction(rt.sessions) as session:
        shop_id = session.scalar(select(Shop.id).where(Shop.domain == store.domain))
    now = datetime.now(UTC)
    with open_admin_client(rt.sessions, rt.box, rt.settings, shop_id, now, rt.admin_sleep) as client:
        assert client.delete_discount_code(code_id) is True  # the merchant deleted it in the admin
        assert client.delete_discount_code(code_id) is False  # Shopify has none of that id now
    caplog.set_level(logging.WARNING)

    store.tick(START + timedelta(days=10))
    assert removals(store) == []
    assert "not deleted in Shopify" not in caplog.text
    [answer] = [r.answer for r in store.admin_api.graphql_requests("DiscountCodeDelete")][-1:]
    assert answer["data"]["discountCodeDelete"]["userErrors"][0]["field"] == ["id"]
