"""The referral codes are created once in Shopify (issue 11), whatever fails on the way:
THROTTLED, 5xx, an answer lost once or on every attempt, a clash with someone else's code."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select

from shop_app.adapters.shopify_admin import AdminClient, RetryPolicy
from shop_app.adapters.shopify_oauth import OAuthClient
from shop_app.errors import AdminApiUnavailable, DiscountUnavailable
from shop_app.referral.codes import advocate_code, reward_code_for
from shop_app.shopify.offline_tokens import access_token
from shop_app.storage.database import transaction
from shop_app.storage.referral_tables import ReferralAdvocate, ReferralReward
from shop_app.storage.tables import Journey, OrderRow, Profile, Shop

NOW = datetime(2026, 3, 2, 18, 0, tzinfo=UTC)
POLICY = RetryPolicy(max_attempts=3, base_delay=1.0, max_delay=30.0)


@pytest.fixture
def admin(rt, store):
    shop_id = _shop_id(rt, store.domain)
    domain, token = access_token(rt.sessions, rt.box, OAuthClient(rt.settings), shop_id, NOW)
    with AdminClient(rt.settings, domain, token, sleep=lambda _: None, policy=POLICY) as admin:
        yield admin


def _shop_id(rt, domain: str) -> int:
    with transaction(rt.sessions) as session:
        return session.scalars(select(Shop.id).where(Shop.domain == domain)).one()


@pytest.fixture
def advocate(rt, store) -> int:
    """An advocate row (its profile, journey and triggering order) without a code yet."""
    shop_id = _shop_id(rt, store.domain)
    with transaction(rt.sessions) as session:
        profile = Profile(shop_id=shop_id, email="ana@example.com", customer_id="6214912893", origin="captured")
        order = OrderRow(
            shop_id=shop_id, shopify_id="9001", currency="EUR", total_price=Decimal("40"), shopify_created_at=NOW
        )
        session.add_all([profile, order])
        session.flush()
        journey = Journey(shop_id=shop_id, profile_id=profile.id, trigger_order_id=order.id, flow="referral",
                          abandoned_at=NOW)  # fmt: skip
        session.add(journey)
        session.flush()
        row = ReferralAdvocate(shop_id=shop_id, profile_id=profile.id, journey_id=journey.id, order_id=order.id)
        session.add(row)
        session.flush()
        return row.id


def _advocate(rt, advocate_id: int) -> ReferralAdvocate:
    with transaction(rt.sessions) as session:
        row = session.get(ReferralAdvocate, advocate_id)
        session.expunge(row)
        return row


def test_the_code_is_created_once_and_reused(rt, store, admin_api, admin, advocate) -> None:
    first = advocate_code(rt.sessions, admin, advocate, NOW, first_name="Ana", percent=Decimal(15))
    again = advocate_code(rt.sessions, admin, advocate, NOW, first_name="Ana")
    assert first == again and first.code.startswith("ANA-")
    [stored] = admin_api.discounts(store.domain)
    assert stored.id == first.discount_id and stored.input["customerGets"]["value"] == {"percentage": 0.15}
    row = _advocate(rt, advocate)
    assert (row.code, row.code_discount_id, row.code_created_at) == (first.code, first.discount_id, NOW)
    assert len(admin_api.graphql_requests("DiscountCodeBasicCreate", shop=store.domain)) == 1


def test_throttled_and_5xx_make_one_code(rt, store, admin_api, admin, advocate) -> None:
    admin_api.inject_throttled()
    admin_api.inject_status(502)
    issued = advocate_code(rt.sessions, admin, advocate, NOW)
    assert [d.id for d in admin_api.discounts(store.domain)] == [issued.discount_id]


def test_a_job_whose_answers_were_all_lost_is_retried_into_the_same_code(rt, store, admin_api, admin, advocate) -> None:
    admin_api.inject_status(500, count=POLICY.max_attempts, after_processing=True)
    with pytest.raises(AdminApiUnavailable):
        advocate_code(rt.sessions, admin, advocate, NOW)
    reserved = _advocate(rt, advocate)
    assert reserved.code and reserved.code_discount_id is None
    [created] = admin_api.discounts(store.domain)  # Shopify did it; we never heard
    admin_api.clear_requests()
    issued = advocate_code(rt.sessions, admin, advocate, NOW)  # the retried job
    assert issued == (reserved.code, created.id)
    assert admin_api.graphql_requests("DiscountCodeBasicCreate", shop=store.domain) == []  # found, not made
    assert len(admin_api.graphql_requests("CodeDiscountTitleByCode", shop=store.domain)) == 1


def test_an_answer_lost_once_is_found_by_its_title(rt, store, admin_api, admin, advocate) -> None:
    admin_api.inject_status(500, after_processing=True)
    issued = advocate_code(rt.sessions, admin, advocate, NOW)
    [created] = admin_api.discounts(store.domain)
    assert issued.discount_id == created.id


def test_a_code_someone_else_holds_is_drawn_again(rt, store, admin_api, admin, advocate) -> None:
    draws = iter([bytes(6), bytes(6), bytes(range(6))])
    foreign = admin_api.add_discount(store.domain, "ANA-222222", "Summer sale")
    issued = advocate_code(rt.sessions, admin, advocate, NOW, first_name="Ana", random=lambda n: next(draws))
    assert issued.code == "ANA-234567" and issued.discount_id != foreign.id
    assert _advocate(rt, advocate).code == "ANA-234567"


def test_without_the_admin_api_nothing_is_sent_and_the_code_waits(rt, store, admin_api, advocate) -> None:
    with pytest.raises(DiscountUnavailable):
        advocate_code(rt.sessions, None, advocate, NOW)
    assert admin_api.discounts(store.domain) == []


def test_the_reward_code_is_created_once_for_the_advocate(rt, store, admin_api, admin, advocate) -> None:
    with transaction(rt.sessions) as session:
        row = session.get(ReferralAdvocate, advocate)
        friend = OrderRow(shop_id=row.shop_id, shopify_id="9002", currency="EUR", total_price=Decimal("30"),
                          shopify_created_at=NOW)  # fmt: skip
        session.add(friend)
        session.flush()
        reward = ReferralReward(shop_id=row.shop_id, advocate_id=advocate, friend_order_id=friend.id, status="pending")
        session.add(reward)
        session.flush()
        reward_id = reward.id
    admin_api.inject_status(500, count=POLICY.max_attempts, after_processing=True)
    with pytest.raises(AdminApiUnavailable):
        reward_code_for(rt.sessions, admin, reward_id, "6214912893", NOW)
    issued = reward_code_for(rt.sessions, admin, reward_id, "6214912893", NOW)
    again = reward_code_for(rt.sessions, admin, reward_id, "6214912893", NOW)
    [stored] = admin_api.discounts(store.domain)
    assert issued == again and stored.id == issued.discount_id and issued.code.startswith("THANKS-")
    assert stored.input["usageLimit"] == 1
    assert stored.input["context"] == {"customers": {"add": ["gid://shopify/Customer/6214912893"]}}
