"""The plan's monthly journey limit, as a pure rule (shop_app/domain/plan_limits.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from shop_app.billing.plans import FREE, GROWTH, PLANS, SCALE
from shop_app.domain.plan_limits import (
    REASON,
    ShopPlanFacts,
    allows_new_journey,
    entitlement,
    find_plan,
    refusal_reason,
    usage_month,
)

NOW = datetime(2026, 3, 14, 10, 0, tzinfo=UTC)


def granted(**facts):
    return entitlement(PLANS, FREE, ShopPlanFacts(checked=True, **facts))


def test_no_active_subscription_is_the_free_plan_with_its_fifty_journeys():
    free = granted()
    assert (free.label, free.monthly_journeys) == ("Free", 50)
    assert allows_new_journey(free, 49) and not allows_new_journey(free, 50)


def test_an_active_subscription_names_its_plan_by_handle_then_by_name():
    assert granted(handle="growth", name="Whatever", status="ACTIVE").monthly_journeys == 1_000
    assert granted(handle=None, name="growth ", status="ACTIVE").label == "Growth"
    scale = granted(handle="scale", name="Scale", status="ACTIVE")
    assert scale.monthly_journeys is None and allows_new_journey(scale, 10**9)


@pytest.mark.parametrize("status", ["FROZEN", "CANCELLED", "DECLINED", "EXPIRED", "PENDING", None])
def test_a_subscription_that_is_not_active_leaves_the_free_plan(status):
    assert granted(handle="scale", name="Scale", status=status).monthly_journeys == FREE.monthly_journeys


def test_development_stores_are_free_and_unlimited_whatever_they_subscribed():
    dev = granted(development=True, handle="growth", name="Growth", status="ACTIVE")
    assert dev.monthly_journeys is None and dev.label == "Development store"


def test_a_plan_never_read_or_unknown_to_the_app_is_not_limited_and_says_why():
    unread = entitlement(PLANS, FREE, ShopPlanFacts(checked=False))
    assert not unread.limited and "not read" in (unread.note or "")
    unknown = granted(handle="enterprise", name="Enterprise", status="ACTIVE")
    assert not unknown.limited and unknown.label == "Enterprise"
    assert "not one of the app's plans" in (unknown.note or "")


def test_find_plan():
    assert find_plan(PLANS, "GROWTH", None) is GROWTH
    assert find_plan(PLANS, "nope", "Scale") is SCALE
    assert find_plan(PLANS, None, None) is None


def test_the_month_is_the_utc_calendar_month():
    assert usage_month(NOW) == (datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))
    december = datetime(2026, 12, 31, 23, 59, tzinfo=UTC)
    assert usage_month(december) == (datetime(2026, 12, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
    # 00:30 on April 1st in Madrid (UTC+2) is still March in UTC.
    madrid = datetime(2026, 4, 1, 0, 30, tzinfo=timezone(timedelta(hours=2)))
    assert usage_month(madrid)[0] == datetime(2026, 3, 1, tzinfo=UTC)
    with pytest.raises(ValueError):
        usage_month(datetime(2026, 3, 1))


def test_the_refusal_reason_starts_with_plan_limit_and_names_the_plan_and_month():
    reason = refusal_reason(granted(), NOW)
    assert reason.startswith(REASON + ":")
    assert "Free plan includes 50 recovery journeys a month" in reason and "March 2026" in reason


def test_a_custom_app_has_no_app_pricing_plan_and_is_not_limited():
    custom = granted(public_app=False)
    assert not custom.limited and custom.label == "Custom app"
