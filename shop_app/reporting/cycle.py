"""The validation cycle: a shop's recovery figures for a window of days against the window before.

What each figure counts (the Revenue Recovery flow's journeys and messages, one shop):

- **abandoned checkouts**: checkouts whose journey started in the window (its `abandoned_at`,
  the checkout's last activity, which every delay counts from);
- **reachable**: those of them with at least one planned message (any channel, any status: the
  journey's `reached`, which the outbox sets when it plans the first);
- **journeys**: the same journeys by their state now (active, converted, stopped);
- **messages sent**: messages whose send was confirmed (`sent`) in the window, per stage and channel;
- **clicks**: tracked links followed (`/c/…`, messaging/links.py), counted on the day of a
  message's first click; `clicked_messages` is how many messages were clicked at all;
- **recovered orders / revenue**: journeys converted by an order placed in the window after we had
  reached the customer (status converted, with `recovered_revenue`: the order's total in the shop's
  currency, which is what Shopify's `total_price` is in);
- **recovery rate**: recovered orders ÷ abandoned checkouts of the same window.

Four aggregate queries (GROUP BY the shop's local day, and the state, or the stage and channel)
over covering indexes on (shop, time) (migrations 0010, 0015) read both windows at once; no row is
read into Python.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, select
from sqlalchemy.orm import Session

from shop_app.domain.models import JourneyStatus, Status
from shop_app.messaging import links
from shop_app.reporting.grouping import CENT, ZERO, local_day, stage_channel_rank
from shop_app.reporting.periods import Period, day_from_number, offsets, periods, zone
from shop_app.storage.tables import Journey, Message, MessageEvent, OrderRow, Shop

FLOW = "recovery"


@dataclass(frozen=True)
class Figures:
    """One window's figures (see the module's docstring for what each counts)."""

    abandoned: int = 0
    reachable: int = 0
    active: int = 0
    converted: int = 0
    stopped: int = 0
    #: (stage, channel, messages sent), every pair that sent at least one, in the flow's order.
    sent: tuple[tuple[str, str, int], ...] = ()
    clicks: int = 0
    clicked_messages: int = 0
    recovered_orders: int = 0
    recovered_revenue: Decimal = ZERO

    @property
    def messages_sent(self) -> int:
        return sum(count for _, _, count in self.sent)

    @property
    def recovery_rate(self) -> Decimal | None:
        """Recovered orders per abandoned checkout (0.125 is 12.5 %); None without abandonments."""
        if not self.abandoned:
            return None
        return Decimal(self.recovered_orders) / Decimal(self.abandoned)


@dataclass(frozen=True)
class Day:
    """One local day of the current window."""

    day: date
    abandoned: int = 0
    reachable: int = 0
    sent: int = 0
    clicks: int = 0
    clicked_messages: int = 0
    recovered_orders: int = 0
    recovered_revenue: Decimal = ZERO


@dataclass(frozen=True)
class Cycle:
    """The report: the current window, the previous one, and the current window day by day."""

    shop_domain: str
    currency: str
    timezone: str
    days: int
    now: datetime
    current_period: Period
    previous_period: Period
    current: Figures
    previous: Figures
    series: tuple[Day, ...]


def cycle(session: Session, shop: Shop, range_days: int, now: datetime) -> Cycle:
    """The shop's figures for the `range_days` local days ending on `now`'s day, and the days before."""
    tz = zone(shop.timezone)
    current, previous = periods(now.astimezone(UTC), range_days, tz)
    tallies = _Aggregates(session, shop.id, previous.start, current.end, offsets(tz, previous.start, current.end)).run()
    return Cycle(
        shop_domain=shop.domain,
        currency=shop.currency,
        timezone=shop.timezone,
        days=range_days,
        now=now,
        current_period=current,
        previous_period=previous,
        current=_figures(current, tallies),
        previous=_figures(previous, tallies),
        series=tuple(tallies[day].day(day) if day in tallies else Day(day) for day in current.days),
    )


@dataclass
class _Tally:
    """What one local day counted, with the breakdowns a window needs."""

    abandoned: int = 0
    reachable: int = 0
    states: Counter[str] = field(default_factory=Counter)
    sent: Counter[tuple[str, str]] = field(default_factory=Counter)
    clicks: int = 0
    clicked_messages: int = 0
    recovered_orders: int = 0
    recovered_revenue: Decimal = ZERO

    def day(self, day: date) -> Day:
        return Day(
            day,
            abandoned=self.abandoned,
            reachable=self.reachable,
            sent=sum(self.sent.values()),
            clicks=self.clicks,
            clicked_messages=self.clicked_messages,
            recovered_orders=self.recovered_orders,
            recovered_revenue=self.recovered_revenue,
        )


def _figures(period: Period, tallies: dict[date, _Tally]) -> Figures:
    """A window's figures: its days' tallies added up."""
    days = [tallies[day] for day in period.days if day in tallies]
    states: Counter[str] = sum((d.states for d in days), Counter())
    sent: Counter[tuple[str, str]] = sum((d.sent for d in days), Counter())
    return Figures(
        abandoned=sum(d.abandoned for d in days),
        reachable=sum(d.reachable for d in days),
        active=states[JourneyStatus.ACTIVE.value],
        converted=states[JourneyStatus.CONVERTED.value],
        stopped=states[JourneyStatus.STOPPED.value],
        sent=tuple((step, channel, sent[(step, channel)]) for step, channel in sorted(sent, key=stage_channel_rank)),
        clicks=sum(d.clicks for d in days),
        clicked_messages=sum(d.clicked_messages for d in days),
        recovered_orders=sum(d.recovered_orders for d in days),
        recovered_revenue=sum((d.recovered_revenue for d in days), ZERO),
    )


def _money(value: Any) -> Decimal:
    return ZERO if value is None else Decimal(str(value)).quantize(CENT)


@dataclass
class _Aggregates:
    """The four queries of one report: one shop, both windows at once, grouped by local day in SQL."""

    session: Session
    shop_id: int
    start: datetime
    end: datetime
    zone_offsets: tuple[tuple[datetime | None, int], ...]

    def run(self) -> dict[date, _Tally]:
        tallies: defaultdict[date, _Tally] = defaultdict(_Tally)
        for number, status, count, reached in self._journeys():
            tally = tallies[day_from_number(number)]
            tally.abandoned += count
            tally.reachable += int(reached or 0)
            tally.states[status] += count
        for number, step, channel, count in self._sent():
            tallies[day_from_number(number)].sent[(step, channel)] += count
        for number, messages, clicks in self._clicks():
            tally = tallies[day_from_number(number)]
            tally.clicked_messages, tally.clicks = messages, int(clicks or 0)
        for number, orders, revenue in self._recovered():
            tally = tallies[day_from_number(number)]
            tally.recovered_orders, tally.recovered_revenue = orders, _money(revenue)
        return dict(tallies)

    def _day(self, column: Any) -> ColumnElement[int]:
        return local_day(self.session, column, self.zone_offsets)

    def _between(self, column: Any) -> ColumnElement[bool]:
        return and_(column >= self.start, column < self.end)

    def _journeys(self) -> Any:
        """Journeys started per day and state, and how many of them have a message planned."""
        day = self._day(Journey.abandoned_at)
        reached = func.sum(case((Journey.reached, 1), else_=0))  # set by the outbox (migration 0015)
        query = (
            select(day, Journey.status, func.count(), reached)
            .where(Journey.shop_id == self.shop_id, Journey.flow == FLOW, self._between(Journey.abandoned_at))
            .group_by("day", Journey.status)
        )
        return self.session.execute(query).all()

    def _sent(self) -> Any:
        day = self._day(Message.sent_at)
        query = (
            select(day, Message.step, Message.channel, func.count())
            .where(
                Message.shop_id == self.shop_id,
                Message.status == Status.SENT.value,
                self._between(Message.sent_at),
                Message.flow == FLOW,
            )
            .group_by("day", Message.step, Message.channel)
        )
        return self.session.execute(query).all()

    def _clicks(self) -> Any:
        """Clicked messages and their clicks, on the day of each message's first click (the day its
        click row was created: one row per message, counting every later click too)."""
        day = self._day(MessageEvent.created_at)
        clicks = func.coalesce(MessageEvent.raw["clicks"].as_integer(), 1)
        query = (
            select(day, func.count(), func.sum(clicks))
            .where(
                MessageEvent.shop_id == self.shop_id,
                MessageEvent.event == links.EVENT,
                self._between(MessageEvent.created_at),
                MessageEvent.provider == links.PROVIDER,
            )
            .group_by("day")
        )
        return self.session.execute(query).all()

    def _recovered(self) -> Any:
        """Journeys converted with recovered revenue, on the day their order was placed."""
        day = self._day(OrderRow.shopify_created_at)
        query = (
            select(day, func.count(), func.sum(Journey.recovered_revenue))
            .select_from(OrderRow)
            .join(Journey, Journey.order_id == OrderRow.id)
            .where(
                OrderRow.shop_id == self.shop_id,
                self._between(OrderRow.shopify_created_at),
                Journey.shop_id == self.shop_id,
                Journey.flow == FLOW,
                Journey.status == JourneyStatus.CONVERTED.value,
                Journey.recovered_revenue.is_not(None),
            )
            .group_by("day")
        )
        return self.session.execute(query).all()
