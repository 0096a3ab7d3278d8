"""The Referral Generation flow's results for a window of days against the window before (issue 11).

The windows are the validation cycle's (periods.py: whole local days of the shop, the current one
ending today) and rows are grouped by the shop's local day in SQL (grouping.local_day). For one shop:

- **invites sent**: the flow's `invite` messages whose send was confirmed (`sent`) in the window, every
  channel (messages(shop, sent_at, status, flow, step, channel), migration 0010);
- **codes redeemed**: friends' orders placed in the window with an advocate's code, whatever was
  decided about them (one `referral_rewards` row per friend order; orders(shop, shopify_created_at),
  then the unique friend_order_id);
- **referred orders / revenue**: those of them that count (the reward is pending or issued, not
  refused by a fraud rule nor cancelled by a refund), and their orders' total in the shop's currency
  (Shopify's order `total_price` is shop money);
- **rewards issued**: those of them whose advocate was given a reward code (status `issued`), on the
  friend order's day.

Two aggregate queries read both windows at once; no row is read into Python.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from shop_app.domain.models import Status
from shop_app.reporting.grouping import CENT, ZERO, local_day
from shop_app.reporting.periods import Period, day_from_number, offsets, periods, zone
from shop_app.storage.referral_tables import ReferralReward
from shop_app.storage.tables import Message, OrderRow, Shop

FLOW = "referral"
INVITE = "invite"
#: Reward decisions whose friend order counts as referred (refused and cancelled do not).
COUNTED = ("pending", "issued")
ISSUED = "issued"


@dataclass(frozen=True)
class ReferralFigures:
    """One window's figures (see the module's docstring for what each counts)."""

    invites_sent: int = 0
    codes_redeemed: int = 0
    referred_orders: int = 0
    referred_revenue: Decimal = ZERO
    rewards_issued: int = 0

    def __add__(self, other: ReferralFigures) -> ReferralFigures:
        return ReferralFigures(
            self.invites_sent + other.invites_sent,
            self.codes_redeemed + other.codes_redeemed,
            self.referred_orders + other.referred_orders,
            self.referred_revenue + other.referred_revenue,
            self.rewards_issued + other.rewards_issued,
        )


@dataclass(frozen=True)
class ReferralResults:
    """The report: the current window and the previous one, in the shop's currency."""

    shop_domain: str
    currency: str
    days: int
    current_period: Period
    previous_period: Period
    current: ReferralFigures
    previous: ReferralFigures


def referral_results(session: Session, shop: Shop, range_days: int, now: datetime) -> ReferralResults:
    """The shop's referral figures for the `range_days` local days ending on `now`'s day, and the days before."""
    tz = zone(shop.timezone)
    current, previous = periods(now.astimezone(UTC), range_days, tz)
    days = per_day(session, shop.id, previous.start, current.end, offsets(tz, previous.start, current.end))
    return ReferralResults(
        shop_domain=shop.domain,
        currency=shop.currency,
        days=range_days,
        current_period=current,
        previous_period=previous,
        current=window_figures(current, days),
        previous=window_figures(previous, days),
    )


def window_figures(period: Period, days: dict[date, ReferralFigures]) -> ReferralFigures:
    """A window's figures: its days' figures added up."""
    return sum((days[day] for day in period.days if day in days), ReferralFigures())


def per_day(session: Session, shop_id: int, start: datetime, end: datetime,
            zone_offsets: tuple[tuple[datetime | None, int], ...]) -> dict[date, ReferralFigures]:  # fmt: skip
    """The referral figures of each local day in [start, end) (the Home card's and the report's)."""
    tallies: defaultdict[date, ReferralFigures] = defaultdict(ReferralFigures)
    sent_day = local_day(session, Message.sent_at, zone_offsets)
    invites = (
        select(sent_day, func.count())
        .where(
            Message.shop_id == shop_id,
            Message.status == Status.SENT.value,
            and_(Message.sent_at >= start, Message.sent_at < end),
            Message.flow == FLOW,
            Message.step == INVITE,
        )
        .group_by("day")
    )
    for number, count in session.execute(invites).all():
        tallies[day_from_number(number)] += ReferralFigures(invites_sent=count)
    for number, redeemed, referred, revenue, issued in session.execute(_orders_query(session, shop_id, start, end,
                                                                                      zone_offsets)).all():  # fmt: skip
        tallies[day_from_number(number)] += ReferralFigures(
            codes_redeemed=redeemed,
            referred_orders=int(referred or 0),
            referred_revenue=_money(revenue),
            rewards_issued=int(issued or 0),
        )
    return dict(tallies)


def _orders_query(session: Session, shop_id: int, start: datetime, end: datetime,
                  zone_offsets: tuple[tuple[datetime | None, int], ...]) -> Any:  # fmt: skip
    """Friends' orders with an advocate's code per local day: all, counted, their revenue, rewarded."""
    counted = ReferralReward.status.in_(COUNTED)
    return (
        select(
            local_day(session, OrderRow.shopify_created_at, zone_offsets),
            func.count(),
            func.sum(case((counted, 1), else_=0)),
            func.sum(case((counted, OrderRow.total_price), else_=0)),
            func.sum(case((ReferralReward.status == ISSUED, 1), else_=0)),
        )
        .select_from(OrderRow)
        .join(ReferralReward, ReferralReward.friend_order_id == OrderRow.id)
        .where(
            OrderRow.shop_id == shop_id,
            and_(OrderRow.shopify_created_at >= start, OrderRow.shopify_created_at < end),
            ReferralReward.shop_id == shop_id,
        )
        .group_by("day")
    )


def _money(value: Any) -> Decimal:
    return ZERO if value is None else Decimal(str(value)).quantize(CENT)
