"""The plan's monthly recovery-journey limit (issue 14, item 1): which plan a shop is on, what it
allows this month, and the reason recorded on a journey it does not allow.

A month is the calendar month in UTC: the journeys counted are the recovery journeys the app
started in it (holdout journeys included: the app keeps and measures them; journeys refused
by the limit excluded: they got nothing). Over the limit, a new journey is still recorded and
its messages are skipped with a reason that starts with REASON (never a silent drop).

Which plan: a development store (Shopify's `shop.plan.partnerDevelopment`) is free and
unlimited, and so is a merchant's custom app (App Pricing is for public apps); an ACTIVE
subscription names the plan by its handle (or, failing that, its name); no active subscription
is the Free plan. A shop whose plan was never read (installed before
billing, or its setup not run yet) is not limited until it is read: the app never refuses a
merchant on a guess. A paid plan the app does not know (renamed in the Partner Dashboard
before a release) is not limited either, and the admin says so.

Pure: standard library only, `now` passed in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

#: Every reason a journey is refused by the plan starts with this (the activity page shows it).
REASON = "plan limit"
#: Shopify's AppSubscriptionStatus for a subscription billed to the shop (2026-07 schema).
ACTIVE = "ACTIVE"


@dataclass(frozen=True)
class PlanTerms:
    """One of the app's plans: its handle and name as the Partner Dashboard defines them, and the
    recovery journeys it includes a month (None: no limit)."""

    handle: str
    name: str
    monthly_journeys: int | None

    def __post_init__(self) -> None:
        if self.monthly_journeys is not None and self.monthly_journeys < 0:
            raise ValueError("a plan's monthly journeys cannot be negative")


@dataclass(frozen=True)
class Entitlement:
    """What a shop may start this month, and how the admin names it."""

    label: str
    monthly_journeys: int | None
    #: Why, when it is not simply the plan: "development store", "plan not read yet", …
    note: str | None = None

    @property
    def limited(self) -> bool:
        return self.monthly_journeys is not None


@dataclass(frozen=True)
class ShopPlanFacts:
    """What the app last read of the shop's plan (None everywhere: never read)."""

    checked: bool
    development: bool = False
    handle: str | None = None
    name: str | None = None
    status: str | None = None
    #: The installed app is a public (App Store) app: Shopify App Pricing applies to it only.
    public_app: bool = True


def find_plan(plans: Sequence[PlanTerms], handle: str | None, name: str | None) -> PlanTerms | None:
    """The app's plan with this handle, else with this name (case-insensitive), else None."""
    if handle:
        for plan in plans:
            if plan.handle == handle.strip().lower():
                return plan
    if name:
        for plan in plans:
            if plan.name.lower() == name.strip().lower():
                return plan
    return None


def entitlement(plans: Sequence[PlanTerms], free: PlanTerms, facts: ShopPlanFacts) -> Entitlement:
    """The shop's limit from what was read of its plan (see the module's text for the rules)."""
    if not facts.checked:
        return Entitlement("not read yet", None, "plan not read from Shopify yet: no limit applied")
    if facts.development:
        return Entitlement("Development store", None, "development stores are free and unlimited")
    if not facts.public_app:
        return Entitlement("Custom app", None, "a custom app has no Shopify App Pricing plan: no limit applied")
    if facts.status != ACTIVE or not (facts.handle or facts.name):
        return Entitlement(free.name, free.monthly_journeys)
    plan = find_plan(plans, facts.handle, facts.name)
    if plan is None:
        label = facts.name or facts.handle or "unknown"
        return Entitlement(label, None, "not one of the app's plans: no limit applied")
    return Entitlement(plan.name, plan.monthly_journeys)


def usage_month(now: datetime) -> tuple[datetime, datetime]:
    """[start, end) of the calendar month (UTC) that holds `now`."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    at = now.astimezone(UTC)
    start = datetime(at.year, at.month, 1, tzinfo=UTC)
    end = datetime(at.year + (at.month == 12), at.month % 12 + 1, 1, tzinfo=UTC)
    return start, end


def allows_new_journey(granted: Entitlement, used: int) -> bool:
    """Whether one more journey fits: `used` is this month's journeys started and not refused."""
    return granted.monthly_journeys is None or used < granted.monthly_journeys


def refusal_reason(granted: Entitlement, now: datetime) -> str:
    """The reason on a refused journey and its messages: no personal data, starts with REASON."""
    start, _ = usage_month(now)
    return (
        f"{REASON}: the {granted.label} plan includes {granted.monthly_journeys:,} recovery journeys a month, "
        f"all used in {start:%B %Y}; choose a larger plan in Shopify to recover more"
    )
