"""The Referral Generation flow's results (issue 11): what each figure counts, in which window, for which shop."""

from __future__ import annotations

import itertools
from decimal import Decimal

from shop_app.reporting.referral import ReferralFigures, referral_results
from shop_app.shopify.shops import install_shop
from shop_app.storage.database import transaction
from shop_app.storage.referral_tables import ReferralAdvocate, ReferralReward
from shop_app.storage.tables import Journey, Message, OrderRow, Profile, Shop
from tests.reporting.rows import at

DOMAIN = "referral-shop.myshopify.com"
OTHER = "other-referral-shop.myshopify.com"
NOW = at("2026-03-16T10:00:00+01:00")  # Madrid: the current 15 days are 2 … 16 March


def install(rt, domain: str = DOMAIN, timezone: str = "Europe/Madrid") -> int:
    with transaction(rt.sessions) as session:
        return install_shop(session, rt.box, domain, "shpat_x", timezone=timezone, currency="EUR").id


_numbers = itertools.count(1)


class Referrals:
    """An advocate's journey with its messages, and friends' orders with their reward decisions."""

    def __init__(self, session, shop: Shop):
        self.session, self.shop = session, shop

    def _add(self, row):
        self.session.add(row)
        self.session.flush()
        return row

    def order(self, placed_at: str, total: str) -> OrderRow:
        return self._add(OrderRow(shop_id=self.shop.id, shopify_id=str(7_000_000 + next(_numbers)),
                                  currency=self.shop.currency, total_price=Decimal(total),
                                  shopify_created_at=at(placed_at)))  # fmt: skip

    def advocate(self, started_at: str) -> ReferralAdvocate:
        n = next(_numbers)
        profile = self._add(Profile(shop_id=self.shop.id, email=f"advocate{n}@example.com", origin="captured"))
        journey = self._add(Journey(shop_id=self.shop.id, profile_id=profile.id, flow="referral",
                                    abandoned_at=at(started_at)))  # fmt: skip
        self.advocate_journey = journey
        return self._add(ReferralAdvocate(shop_id=self.shop.id, profile_id=profile.id, journey_id=journey.id,
                                          code=f"ADV{n}"))  # fmt: skip

    def message(self, advocate: ReferralAdvocate, step: str, channel: str, status: str, sent_at: str) -> None:
        self._add(Message(shop_id=self.shop.id, journey_id=advocate.journey_id, flow="referral", step=step,
                          channel=channel, status=status, due_at=at(sent_at),
                          sent_at=at(sent_at) if status == "sent" else None))  # fmt: skip

    def friend(self, advocate: ReferralAdvocate, placed_at: str, total: str, status: str) -> None:
        order = self.order(placed_at, total)
        self._add(ReferralReward(shop_id=self.shop.id, advocate_id=advocate.id, friend_order_id=order.id,
                                 status=status, reason="self-referral" if status == "refused" else None))  # fmt: skip


def build(rt, shop_id, story) -> None:
    with transaction(rt.sessions) as session:
        story(Referrals(session, session.get(Shop, shop_id)))


def results(rt, shop_id, days=15, now=NOW):
    with transaction(rt.sessions) as session:
        return referral_results(session, session.get(Shop, shop_id), days, now)


def story(r: Referrals) -> None:
    """Madrid: the current window is 2 … 16 March 2026, the previous one 15 February … 1 March."""
    a = r.advocate("2026-02-20T10:00:00+01:00")
    r.message(a, "review", "email", "sent", "2026-02-24T10:00:00+01:00")  # not an invite
    r.message(a, "invite", "email", "sent", "2026-03-02T00:05:00+01:00")  # current (just after midnight)
    r.message(a, "invite", "sms", "sent", "2026-03-01T23:55:00+01:00")  # previous (just before)
    r.message(a, "invite", "push", "failed", "2026-03-05T10:00:00+01:00")  # not sent
    r.message(a, "invite", "whatsapp", "scheduled", "2026-03-06T10:00:00+01:00")
    r.friend(a, "2026-03-03T12:00:00+01:00", "60.00", "issued")
    r.friend(a, "2026-03-04T12:00:00+01:00", "40.50", "pending")
    r.friend(a, "2026-03-05T12:00:00+01:00", "99.00", "refused")  # redeemed, does not count
    r.friend(a, "2026-03-06T12:00:00+01:00", "25.00", "cancelled")  # refunded before the reward
    r.friend(a, "2026-02-28T12:00:00+01:00", "30.00", "issued")  # previous window
    r.friend(a, "2026-02-10T12:00:00+01:00", "70.00", "issued")  # before both windows
    r.friend(a, "2026-03-16T23:30:00+01:00", "10.00", "issued")  # today, late: still the current window
    r.order("2026-03-07T12:00:00+01:00", "500.00")  # an order without a code


def test_an_empty_shop_has_zero_referral_figures(rt):
    shop = install(rt)
    result = results(rt, shop)
    assert result.current == ReferralFigures() and result.previous == ReferralFigures()
    assert (result.currency, result.days, result.shop_domain) == ("EUR", 15, DOMAIN)


def test_each_figure_counts_what_the_module_says_in_its_window(rt):
    shop = install(rt)
    build(rt, shop, story)
    result = results(rt, shop, now=at("2026-03-16T10:00:00+01:00"))
    assert result.current == ReferralFigures(
        invites_sent=1, codes_redeemed=5, referred_orders=3, referred_revenue=Decimal("110.50"), rewards_issued=2
    )
    assert result.previous == ReferralFigures(
        invites_sent=1, codes_redeemed=1, referred_orders=1, referred_revenue=Decimal("30.00"), rewards_issued=1
    )


def test_a_seven_day_window_and_another_shops_rows(rt):
    shop, other = install(rt), install(rt, OTHER)
    build(rt, other, story)
    assert results(rt, shop).current == ReferralFigures()
    week = results(rt, other, days=7)  # 10 … 16 March, and 3 … 9 March before it
    assert week.current == ReferralFigures(codes_redeemed=1, referred_orders=1, referred_revenue=Decimal("10.00"),
                                           rewards_issued=1)  # fmt: skip
    assert week.previous == ReferralFigures(codes_redeemed=4, referred_orders=2, referred_revenue=Decimal("100.50"),
                                            rewards_issued=1)  # fmt: skip


def test_days_are_the_shops_calendar_days(rt):
    """23:30 in Madrid on 1 March is 22:30 UTC on 1 March; 00:30 on 2 March is 23:30 UTC on 1 March."""
    shop = install(rt)

    def edges(r: Referrals) -> None:
        a = r.advocate("2026-02-20T10:00:00+01:00")
        r.friend(a, "2026-03-01T23:30:00+01:00", "1.00", "issued")
        r.friend(a, "2026-03-02T00:30:00+01:00", "2.00", "issued")

    build(rt, shop, edges)
    result = results(rt, shop)
    assert result.current.referred_revenue == Decimal("2.00") and result.previous.referred_revenue == Decimal("1.00")


def test_reclaim_report_prints_the_referral_figures(rt):
    from click.testing import CliRunner

    from shop_app.cli.commands import main
    from shop_app.reporting.present import referral_lines

    shop = install(rt)
    build(rt, shop, story)
    result = CliRunner().invoke(main, ["report", "--shop", DOMAIN, "--now", NOW.isoformat()], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    block = result.output.split("Referral Generation\n", 1)[1].splitlines()
    assert len(block) == 5
    printed = {line.label: (line.current, line.previous, line.change) for line in referral_lines(results(rt, shop))}
    assert printed["Referral invites sent"] == ("1", "1", "+0 %")
    assert printed["Referral codes redeemed"] == ("5", "1", "+400 %")
    assert printed["Referred revenue (EUR)"] == ("110.50", "30.00", "+268 %")
    assert printed["Advocate rewards issued"] == ("2", "1", "+100 %")
    for label, (current, previous, _) in printed.items():
        assert any(text.startswith(label) and text.split()[len(label.split()):][:2] == [current, previous]
                   for text in block), (label, block)  # fmt: skip
