"""The incremental results in a merchant's words (reporting/holdout_verdict.py): each state, the
interval's direction, and what the holdout setting holds out before and after the validation cycle."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from shop_app.domain.incremental import incremental
from shop_app.reporting.holdout_verdict import CONCLUSIVE, NO_TREATED, verdict
from shop_app.reporting.measurement import Measurement, RangeFigures
from shop_app.reporting.periods import Period

INSTALLED = datetime(2026, 3, 1, 22, 30, tzinfo=UTC)  # 1 March, 23:30 in Madrid: the cycle ends 16 March
DAY = Period(
    date(2026, 3, 2), date(2026, 3, 2), datetime(2026, 3, 1, 23, tzinfo=UTC), datetime(2026, 3, 2, 23, tzinfo=UTC)
)


def measured(treated: int, treated_converted: int, control: int, control_converted: int) -> Measurement:
    """Every treated journey converted is one credited order of 10.00."""
    revenue, orders = Decimal(10 * treated_converted), treated_converted
    return Measurement(
        shop_domain="x.myshopify.com", currency="EUR", timezone="Europe/Madrid", period=DAY, previous_period=DAY,
        attribution_days=5, current=RangeFigures(treated=treated, control=control, recovered_orders=orders,
                                                 recovered_revenue=revenue, recovered_journeys=orders),
        previous=RangeFigures(), by_step=(), treated_converted=treated_converted, control_converted=control_converted,
        incremental=incremental(treated_converted, treated, control_converted, control, orders, revenue),
        daily=(), referral=None,
    )  # fmt: skip


def test_messages_that_lower_the_conversion_are_conclusive_too():
    said = verdict(measured(10, 0, 10, 10), None, INSTALLED, INSTALLED)
    assert said.state == CONCLUSIVE and said.headline == "conclusive"
    assert said.sentences[0].startswith("Conclusive: treated journeys converted less than the control group, by ")
    assert said.figures[:2] == (("Treated journeys converted", "0.0 % (0 of 10)"),
                                ("Control group converted", "100.0 % (10 of 10)"))  # fmt: skip


def test_control_journeys_without_a_treated_one():
    said = verdict(measured(0, 0, 3, 1), 50, INSTALLED, INSTALLED)
    assert said.state == NO_TREATED and said.figures[0] == ("Treated journeys converted", "–")
    assert said.sentences == (
        "Every reachable journey of this range (3) was held out: none got a message to compare.",
        "Holdout setting: 50 % of new abandoned checkouts are held out from the messages.",
    )


@pytest.mark.parametrize(
    ("setting", "now", "says"),
    [
        (None, datetime(2026, 3, 16, 22, 29, tzinfo=UTC), "days after install, until 16 Mar 2026), none after it."),
        (None, datetime(2026, 3, 16, 22, 30, tzinfo=UTC), "until 16 Mar 2026); none is held out now. Set "
         "measurement.holdout_percent (1 to 50) to keep measuring."),
        (0, INSTALLED, "Holdout setting: 0 %, no checkout is held out. Set measurement.holdout_percent (1 to 50)"),
        (20, INSTALLED, "Holdout setting: 20 % of new abandoned checkouts are held out from the messages."),
    ],
)  # fmt: skip
def test_the_holdout_setting_is_said_as_it_applies_now(setting, now, says):
    assert says in verdict(measured(4, 1, 0, 0), setting, INSTALLED, now).sentences[-1]
