"""The results report (issue 12, point 3): attributed and incremental recovery for a range of days.

A range is whole local days of the shop, `start` … `end` inclusive; it covers the Revenue Recovery
journeys whose checkout was abandoned in it (`journeys.abandoned_at`), and an order counts toward
the journey it is credited to (the `attributions` rows, recovery/attribution.py), whenever it was
placed. The previous range is the same number of days just before. For one shop:

- **abandoned**: the journeys of the range; **reachable**: those with a message planned (`reached`);
- **journeys**: the reachable ones, **treated** (messaged) or **control** (the holdout group);
- **by_step**, per flow, step and channel of the range's journeys' messages: **sent** (confirmed
  sent), **delivered** (of those, the provider said delivered, or read, opened or clicked: the
  message's delivery status), **clicked** (of those, a tracked link followed: the status `clicked`), and the
  **recovered orders / revenue** credited to that step and channel;
- **recovered**: the credited orders (not removed: cancelled or refunded) and their revenue in the
  shop's currency; **recovery_rate**: treated journeys with a credited order ÷ treated journeys;
- **control_conversion_rate** and **incremental**: domain/incremental.py's rule and interval; each
  journey keeps the rule's answer (`conversion_days`, recovery/conversion.py), counted here;
- **daily**: per local day of the range, the journeys abandoned, and the orders credited to them;
- **referral**: the Referral Generation flow's figures (reporting/referral.py) for the range, or
  None when the flow is off.

Every figure is an aggregate the database computes for the shop (GROUP BY the local day, the
holdout side, the step and channel); no row is read into Python. Each query reads one range of one
index: the journeys by abandonment time, and the sent messages and credited orders by their copy of
their journey's abandonment time (migration 0023).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.orm import Session

from shop_app.domain import incremental as incremental_rules
from shop_app.domain.delivery import CLICKED
from shop_app.domain.incremental import Incremental
from shop_app.domain.models import Status
from shop_app.errors import ReclaimError
from shop_app.reporting import referral
from shop_app.reporting.grouping import CENT, ZERO, local_day, stage_channel_rank
from shop_app.reporting.periods import MAX_DAYS, Period, day_from_number, midnight, offsets, zone
from shop_app.shopify.shops import load_settings
from shop_app.storage.measurement_tables import CREDITED, Attribution
from shop_app.storage.tables import Journey, Message, Shop

FLOW = "recovery"
#: Delivery statuses that say the message reached the person (domain/delivery.RANK from `delivered` on).
DELIVERED = ("delivered", "read", "opened", "clicked")
RATE_PLACES = 4
#: The dates a range may name: its previous range and its last midnight stay representable.
EARLIEST, LATEST = date(1971, 1, 1), date(9998, 12, 31)


class BadRange(ReclaimError, ValueError):
    """A range the report cannot cover; the message says why, for the merchant."""


def parse_range(today: date, days: Any = None, start: Any = None, end: Any = None) -> tuple[date, date]:
    """(first, last) local day of the range asked by `--days N` / `?days=N` (the N days ending
    `today`) or `--from`/`--to` (ISO dates, both given). The default: the 15-day validation cycle."""
    if start is None and end is None:
        try:
            count = 15 if days is None else int(str(days))
        except ValueError:
            raise BadRange(f"days must be a whole number from 1 to {MAX_DAYS}, not {str(days)[:20]!r}") from None
        if not 1 <= count <= MAX_DAYS:
            raise BadRange(f"days must be a whole number from 1 to {MAX_DAYS}, not {count}")
        return today - timedelta(days=count - 1), today
    if days is not None:
        raise BadRange("give either days or from and to, not both")
    if start is None or end is None:
        raise BadRange("from and to go together: give both dates")
    first, last = _date("from", start), _date("to", end)
    for name, day in (("from", first), ("to", last)):
        if not EARLIEST <= day <= LATEST:
            raise BadRange(f"{name} must be a date from {EARLIEST} to {LATEST}, not {day}")
    if first > last:
        raise BadRange(f"from ({first}) is after to ({last})")
    if (last - first).days + 1 > MAX_DAYS:
        raise BadRange(f"a report covers at most {MAX_DAYS} days, not {(last - first).days + 1}")
    return first, last


def _date(name: str, value: Any) -> date:
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise BadRange(f"{name} must be a date as YYYY-MM-DD, not {str(value)[:20]!r}") from None


@dataclass(frozen=True)
class StepFigures:
    flow: str
    step: str
    channel: str
    sent: int = 0
    delivered: int = 0
    clicked: int = 0
    recovered_orders: int = 0
    recovered_revenue: Decimal = ZERO


@dataclass(frozen=True)
class DayFigures:
    day: date
    abandoned: int = 0
    recovered_orders: int = 0
    recovered_revenue: Decimal = ZERO


@dataclass(frozen=True)
class RangeFigures:
    """What one range's journeys came to (the current range's and the previous one's)."""

    abandoned: int = 0
    reachable: int = 0
    treated: int = 0
    control: int = 0
    recovered_orders: int = 0
    recovered_revenue: Decimal = ZERO
    #: Treated journeys with at least one credited order.
    recovered_journeys: int = 0

    @property
    def recovery_rate(self) -> float | None:
        return self.recovered_journeys / self.treated if self.treated else None


@dataclass(frozen=True)
class Measurement:
    shop_domain: str
    currency: str
    timezone: str
    period: Period
    previous_period: Period
    attribution_days: int
    current: RangeFigures
    previous: RangeFigures
    by_step: tuple[StepFigures, ...]
    #: Reachable journeys converted by domain/incremental.py's rule, treated and control.
    treated_converted: int
    control_converted: int
    incremental: Incremental | None
    daily: tuple[DayFigures, ...]
    referral: referral.ReferralFigures | None

    @property
    def control_conversion_rate(self) -> float | None:
        return self.control_converted / self.current.control if self.current.control else None


def measure(
    session: Session, shop: Shop, start: date, end: date, now: datetime, *, steps: bool = True, referrals: bool = True
) -> Measurement:
    """The shop's report for the local days `start` … `end` (inclusive) and the range before it, asked at
    `now` (the figures depend on the rows alone); `steps` / `referrals` false leave `by_step` / `referral`
    empty and unread, for a reader that shows neither (Home)."""
    if end < start or (end - start).days + 1 > MAX_DAYS:
        raise BadRange(f"no range of 1 to {MAX_DAYS} days from {start} to {end}")
    tz = zone(shop.timezone)
    length = timedelta(days=(end - start).days + 1)
    current = Period(start, end, midnight(start, tz), midnight(end + timedelta(days=1), tz))
    previous = Period(start - length, start - timedelta(days=1), midnight(start - length, tz), current.start)
    settings = load_settings(session, shop)
    days = settings.measurement.attribution_days
    q = _Queries(session, shop.id, offsets(tz, previous.start, current.end))
    counted = q.journeys(previous.start, current.end, days)
    per_day = {key: count for key, (count, _) in counted.items()}
    credited = q.credited(previous.start, current.end)
    recovered_journeys = q.recovered_journeys(previous.start, current.end)
    ranges = {
        name: _range(period, per_day, credited, recovered_journeys)
        for name, period in (("current", current), ("previous", previous))
    }
    cur = ranges["current"]
    converted = {False: 0, True: 0}
    for (day, holdout, reached), (_, n) in counted.items():
        if reached and day in current:
            converted[holdout] += n
    treated_converted, control_converted = converted[False], converted[True]
    daily = _daily(current, per_day, credited)
    referral_figures = None
    if referrals and settings.referral.enabled:
        by_day = referral.per_day(session, shop.id, current.start, current.end, offsets(tz, current.start, current.end))
        referral_figures = referral.window_figures(current, by_day)
    return Measurement(
        shop_domain=shop.domain,
        currency=shop.currency,
        timezone=shop.timezone,
        period=current,
        previous_period=previous,
        attribution_days=days,
        current=cur,
        previous=ranges["previous"],
        by_step=q.by_step(current, credited) if steps else (),
        treated_converted=treated_converted,
        control_converted=control_converted,
        incremental=incremental_rules.incremental(
            treated_converted, cur.treated, control_converted, cur.control, cur.recovered_orders, cur.recovered_revenue
        ),
        daily=daily,
        referral=referral_figures,
    )


def _daily(
    period: Period,
    per_day: dict[tuple[date, bool, bool], int],
    credited: dict[tuple[date, str, str], tuple[int, Decimal]],
) -> tuple[DayFigures, ...]:
    """Each day of the range: its journeys abandoned, and the orders credited to them (one pass
    over the counts, whatever the number of days)."""
    abandoned: dict[date, int] = {}
    for (day, _, _), count in per_day.items():
        abandoned[day] = abandoned.get(day, 0) + count
    orders: dict[date, tuple[int, Decimal]] = {}
    for (day, _, _), (count, revenue) in credited.items():
        before = orders.get(day, (0, ZERO))
        orders[day] = (before[0] + count, before[1] + revenue)
    return tuple(DayFigures(day, abandoned.get(day, 0), *orders.get(day, (0, ZERO))) for day in period.days)


def _range(
    period: Period,
    per_day: dict[tuple[date, bool, bool], int],
    credited: dict[tuple[date, str, str], tuple[int, Decimal]],
    recovered_journeys: dict[date, int],
) -> RangeFigures:
    """A range's figures: its days' counts added up."""
    journeys = [(holdout, reached, count) for (day, holdout, reached), count in per_day.items() if day in period]
    orders = [value for (day, _, _), value in credited.items() if day in period]
    return RangeFigures(
        abandoned=sum(count for _, _, count in journeys),
        reachable=sum(count for _, reached, count in journeys if reached),
        treated=sum(count for holdout, reached, count in journeys if reached and not holdout),
        control=sum(count for holdout, reached, count in journeys if reached and holdout),
        recovered_orders=sum(count for count, _ in orders),
        recovered_revenue=sum((revenue for _, revenue in orders), ZERO),
        recovered_journeys=sum(count for day, count in recovered_journeys.items() if day in period),
    )


@dataclass
class _Queries:
    """The report's aggregate queries for one shop, each grouped in SQL."""

    session: Session
    shop_id: int
    zone_offsets: tuple[tuple[datetime | None, int], ...]

    def _in_range(self, at: Any, start: datetime, end: datetime) -> ColumnElement[bool]:
        """A journey's abandonment time (`at`: the journey's, or a message's or credit's copy) in [start, end)."""
        return and_(at >= start, at < end)

    def journeys(self, start: datetime, end: datetime, days: int) -> dict[tuple[date, bool, bool], tuple[int, int]]:
        """Recovery journeys per (local day abandoned, in the holdout, reached): how many, and how
        many of them convert within `days` (domain/incremental.py's rule, kept on each journey as
        conversion_days by recovery/conversion.py)."""
        day = local_day(self.session, Journey.abandoned_at, self.zone_offsets)
        converts = func.count().filter(Journey.conversion_days <= days)
        query = (
            select(day, Journey.holdout, Journey.reached, func.count(), converts)
            .where(
                Journey.shop_id == self.shop_id, self._in_range(Journey.abandoned_at, start, end), Journey.flow == FLOW
            )
            .group_by("day", Journey.holdout, Journey.reached)
        )
        return {
            (day_from_number(n), bool(holdout), bool(reached)): (count, int(converted or 0))
            for n, holdout, reached, count, converted in self.session.execute(query)
        }

    def _credits(self, start: datetime, end: datetime) -> ColumnElement[bool]:
        """The shop's credited orders whose journey was abandoned in [start, end) (only recovery
        journeys are credited, and never one of the holdout: domain/attribution.py)."""
        return and_(
            Attribution.shop_id == self.shop_id,
            Attribution.status == CREDITED,
            self._in_range(Attribution.journey_abandoned_at, start, end),
        )

    def credited(self, start: datetime, end: datetime) -> dict[tuple[date, str, str], tuple[int, Decimal]]:
        """Credited orders and their revenue per (local day their journey was abandoned, step, channel)."""
        day = local_day(self.session, Attribution.journey_abandoned_at, self.zone_offsets)
        query = (
            select(day, Attribution.step, Attribution.channel, func.count(), func.sum(Attribution.revenue))
            .where(self._credits(start, end))
            .group_by("day", Attribution.step, Attribution.channel)
        )
        return {
            (day_from_number(n), step, channel): (count, _money(revenue))
            for n, step, channel, count, revenue in self.session.execute(query)
        }

    def recovered_journeys(self, start: datetime, end: datetime) -> dict[date, int]:
        """Treated journeys with a credited order, per local day abandoned."""
        day = local_day(self.session, Attribution.journey_abandoned_at, self.zone_offsets)
        query = (
            select(day, func.count(func.distinct(Attribution.journey_id)))
            .where(self._credits(start, end))
            .group_by("day")
        )
        return {day_from_number(n): count for n, count in self.session.execute(query)}

    def by_step(
        self, period: Period, credited: dict[tuple[date, str, str], tuple[int, Decimal]]
    ) -> tuple[StepFigures, ...]:
        """Sent, delivered and clicked messages of the range's journeys per flow, step and channel,
        with the orders credited to each step and channel (`credited`, per day, added up here).
        The range's sent messages are one range of their index (each keeps its journey's
        abandonment time), clicked ones among them by their delivery status (`clicked` once a link
        was followed: domain/delivery.py)."""
        query = (
            select(
                Message.flow,
                Message.step,
                Message.channel,
                func.count(),
                func.count().filter(Message.delivery_status.in_(DELIVERED)),
                func.count().filter(Message.delivery_status == CLICKED),
            )
            .where(
                Message.shop_id == self.shop_id,
                Message.status == Status.SENT.value,
                Message.sent_at.is_not(None),  # the index's predicate: it holds sent rows only (0028)
                self._in_range(Message.journey_abandoned_at, period.start, period.end),
                Message.flow == FLOW,
            )
            .group_by(Message.flow, Message.step, Message.channel)
        )
        rows: dict[tuple[str, str], StepFigures] = {}
        for flow, step, channel, sent, delivered, clicks in self.session.execute(query):
            rows[(step, channel)] = StepFigures(flow, step, channel, sent, int(delivered or 0), int(clicks or 0))
        orders: dict[tuple[str, str], tuple[int, Decimal]] = {}
        for (day, step, channel), (count, revenue) in credited.items():
            if day not in period:
                continue
            before = orders.get((step, channel), (0, ZERO))
            orders[(step, channel)] = (before[0] + count, before[1] + revenue)
        for key, (count, revenue) in orders.items():
            row = rows.get(key, StepFigures(FLOW, *key))
            rows[key] = StepFigures(
                row.flow, row.step, row.channel, row.sent, row.delivered, row.clicked, count, revenue
            )
        return tuple(rows[key] for key in sorted(rows, key=stage_channel_rank))


def _money(value: Any) -> Decimal:
    return ZERO if value is None else Decimal(str(value)).quantize(CENT)


def _rate(value: float | None) -> float | None:
    return None if value is None else round(value, RATE_PLACES)


def _amount(value: Decimal) -> str:
    return str(value.quantize(CENT))


def to_json(m: Measurement) -> dict[str, Any]:
    """Issue 12's report document: money as decimal strings in the shop's currency, rates in [0, 1]
    (the interval's ends, a difference of rates, in [−1, 1]) rounded to 4 places."""
    inc = m.incremental
    return {
        "shop": m.shop_domain,
        "from": m.period.first_day.isoformat(),
        "to": m.period.last_day.isoformat(),
        "currency": m.currency,
        "abandoned": m.current.abandoned,
        "reachable": m.current.reachable,
        "journeys": {"treated": m.current.treated, "control": m.current.control},
        "by_step": [
            {
                "flow": s.flow,
                "step": s.step,
                "channel": s.channel,
                "sent": s.sent,
                "delivered": s.delivered,
                "clicked": s.clicked,
                "recovered_orders": s.recovered_orders,
                "recovered_revenue": _amount(s.recovered_revenue),
            }
            for s in m.by_step
        ],
        "recovered": {"orders": m.current.recovered_orders, "revenue": _amount(m.current.recovered_revenue)},
        "recovery_rate": _rate(m.current.recovery_rate),
        "control_conversion_rate": _rate(m.control_conversion_rate),
        "incremental": {
            "orders": None if inc is None else round(inc.orders, 2),
            "revenue": None if inc is None else _amount(inc.revenue),
            "rate_low": None if inc is None else _rate(inc.rate_low),
            "rate_high": None if inc is None else _rate(inc.rate_high),
            "conclusive": False if inc is None else inc.conclusive,
        },
        "previous": {
            "abandoned": m.previous.abandoned,
            "recovered": {"orders": m.previous.recovered_orders, "revenue": _amount(m.previous.recovered_revenue)},
            "recovery_rate": _rate(m.previous.recovery_rate),
        },
        "daily": [
            {
                "date": d.day.isoformat(),
                "abandoned": d.abandoned,
                "recovered_orders": d.recovered_orders,
                "recovered_revenue": _amount(d.recovered_revenue),
            }
            for d in m.daily
        ],
        "referral": None
        if m.referral is None
        else {
            "invites_sent": m.referral.invites_sent,
            "codes_redeemed": m.referral.codes_redeemed,
            "referred_orders": m.referral.referred_orders,
            "referred_revenue": _amount(m.referral.referred_revenue),
            "rewards_issued": m.referral.rewards_issued,
        },
    }


def today_in(shop: Shop, now: datetime) -> date:
    """The shop's local date at `now`: the last day of a `--days` range."""
    return now.astimezone(UTC).astimezone(zone(shop.timezone)).date()
