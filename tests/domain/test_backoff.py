"""The shared backoff (domain/backoff.py): a minute after the first failure, doubling, at most 6 hours."""

from __future__ import annotations

from shop_app.domain.backoff import backoff_seconds


def test_a_minute_then_doubling_up_to_six_hours() -> None:
    assert [backoff_seconds(n) for n in (0, 1, 2, 3, 9, 10, 100)] == [60, 60, 120, 240, 15_360, 21_600, 21_600]
