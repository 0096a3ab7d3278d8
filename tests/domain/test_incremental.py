"""The incremental rule and interval (shop_app/domain/incremental.py), by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shop_app.domain.incremental import conversion_days, converts, difference, incremental, wilson

ANCHOR = datetime(2026, 11, 16, 11, 0, tzinfo=UTC)


def test_an_order_converts_from_the_anchor_on_the_same_person_only_within_the_window():
    day = timedelta(days=1)
    assert not converts(ANCHOR, ANCHOR - timedelta(seconds=1), same_checkout=True, same_person=True, days=5)
    assert converts(ANCHOR, ANCHOR, same_checkout=False, same_person=True, days=5)
    assert converts(ANCHOR, ANCHOR + 5 * day, same_checkout=False, same_person=True, days=5)
    assert not converts(ANCHOR, ANCHOR + 5 * day + timedelta(seconds=1), same_checkout=False, same_person=True, days=5)
    assert converts(ANCHOR, ANCHOR + 30 * day, same_checkout=True, same_person=False, days=5)
    assert not converts(ANCHOR, ANCHOR + day, same_checkout=False, same_person=False, days=5)


def test_wilson_intervals_by_hand():
    # 0/10: centre 1.920729/13.841459 = 0.138767, half 1.959964 × √0.960365 / 13.841459 = 0.138766: (0, 0.277533).
    low, high = wilson(0, 10)
    assert low == 0 and high == pytest.approx(0.277533, abs=1e-6)
    low, high = wilson(2, 5)
    assert (low, high) == (pytest.approx(0.117621, abs=1e-6), pytest.approx(0.769276, abs=1e-6))
    with pytest.raises(ValueError):
        wilson(3, 2)


def test_the_difference_is_conclusive_only_when_its_interval_leaves_out_zero():
    small = difference(2, 5, 1, 3)
    assert (small.low, small.high) == (pytest.approx(-0.472245, abs=1e-6), pytest.approx(0.525210, abs=1e-6))
    assert not small.conclusive
    large = difference(300, 1000, 20, 200)  # 0.30 − 0.10 with hundreds in each group
    assert large.low > 0 and large.conclusive
    worse = difference(20, 200, 300, 1000)
    assert worse.high < 0 and worse.conclusive


def test_incremental_orders_and_revenue_are_exact_and_need_both_groups():
    result = incremental(2, 5, 1, 3, 2, Decimal("160.00"))
    assert result is not None
    assert result.orders == pytest.approx(1 / 3) and result.revenue == Decimal("26.67")
    assert incremental(2, 5, 0, 0, 2, Decimal("160.00")) is None
    assert incremental(0, 0, 1, 3, 0, Decimal("0")) is None
    none_recovered = incremental(1, 4, 0, 4, 0, Decimal("0"))
    assert none_recovered is not None and none_recovered.revenue == Decimal("0.00") and none_recovered.orders == 1


ANCHOR = datetime(2026, 3, 2, 19, 0, tzinfo=UTC)
#: Orders around the anchor: up to 40 days either side, to the microsecond, some exactly on a day's edge.
_offsets = st.one_of(
    st.integers(-40 * 86_400_000_000, 40 * 86_400_000_000),
    st.integers(-40, 40).map(lambda days: days * 86_400_000_000),
)
_orders = st.lists(st.tuples(_offsets.map(lambda us: ANCHOR + timedelta(microseconds=us)), st.booleans()), max_size=6)


@given(_orders)
def test_conversion_days_is_the_rule_for_every_window(orders):
    """What the journeys keep (conversion_days, up to 30) answers `converts` for each window of 1–30 days."""
    kept = conversion_days(ANCHOR, orders, 30)
    for days in range(1, 31):
        by_rule = any(converts(ANCHOR, at, same_checkout=same, same_person=not same, days=days) for at, same in orders)
        assert by_rule == (kept is not None and kept <= days), (days, kept)


def test_conversion_days_by_hand():
    assert conversion_days(ANCHOR, [], 30) is None
    assert conversion_days(ANCHOR, [(ANCHOR - timedelta(seconds=1), True)], 30) is None  # before the anchor
    assert conversion_days(ANCHOR, [(ANCHOR + timedelta(days=40), True)], 30) == 0  # its own checkout: any time
    assert conversion_days(ANCHOR, [(ANCHOR + timedelta(days=5), False)], 30) == 5  # on the edge: inside 5 days
    assert conversion_days(ANCHOR, [(ANCHOR + timedelta(days=5, microseconds=1), False)], 30) == 6
    assert conversion_days(ANCHOR, [(ANCHOR + timedelta(days=31), False)], 30) is None
    assert conversion_days(ANCHOR, [(ANCHOR + timedelta(days=9), False), (ANCHOR + timedelta(hours=1), False)], 30) == 1
