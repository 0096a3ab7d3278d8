"""The discount memory's rule (domain/discount_memory.py): a code sent to the person within the
memory's days withholds the next offer, with a reason that names no one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shop_app.domain.discount_memory import withheld_reason

NOW = datetime(2026, 4, 1, 12, 0, tzinfo=UTC)


def test_never_sent_or_memory_off_offers_as_configured() -> None:
    assert withheld_reason(None, 30, NOW) is None
    assert withheld_reason(NOW - timedelta(hours=1), 0, NOW) is None


@pytest.mark.parametrize(
    ("ago", "said"),
    [
        (timedelta(0), "less than a day ago"),
        (timedelta(hours=23, minutes=59), "less than a day ago"),
        (timedelta(days=1), "1 day ago"),
        (timedelta(days=1, hours=23), "1 day ago"),
        (timedelta(days=10, hours=5), "10 days ago"),
        (timedelta(days=29, hours=23, minutes=59, seconds=59), "29 days ago"),
    ],
)
def test_within_the_memory_the_offer_is_withheld_with_how_long_ago(ago: timedelta, said: str) -> None:
    assert withheld_reason(NOW - ago, 30, NOW) == (
        f"no discount: one was sent to this customer {said} (discount memory: 30 days)"
    )


def test_the_memory_ends_after_exactly_its_days() -> None:
    assert withheld_reason(NOW - timedelta(days=30), 30, NOW) is None
    assert withheld_reason(NOW - timedelta(days=30, microseconds=-1), 30, NOW) is not None
    assert withheld_reason(NOW - timedelta(days=1), 1, NOW) is None
    assert withheld_reason(NOW - timedelta(days=364), 365, NOW) is not None


def test_a_send_time_after_now_counts_as_just_now() -> None:
    """Clocks of two workers differ by a little: a code sent "later" was still sent."""
    assert withheld_reason(NOW + timedelta(seconds=5), 30, NOW) == (
        "no discount: one was sent to this customer less than a day ago (discount memory: 30 days)"
    )
