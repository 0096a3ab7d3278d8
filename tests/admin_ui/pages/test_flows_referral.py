"""/flows' Referral Generation card (issue 11): on or off from the settings' `referral` section, each step's
channels and timing, and the last 15 days' results from the shared read model, for the signed-in shop only."""

from __future__ import annotations

from datetime import UTC, datetime

from admin_ui.pages import flows
from shop_app.shopify.shops import get_shop
from shop_app.storage.database import transaction
from tests.admin_ui.conftest import SHOP_A, SHOP_B
from tests.admin_ui.pages.test_flows import page, text_of
from tests.reporting.test_referral import Referrals

NOW = datetime(2026, 3, 16, 9, 0, tzinfo=UTC)


def test_the_referral_card_is_on_by_default_with_each_steps_channels_and_timing(client, store, sign_in):
    html = page(client, sign_in, "/flows")
    assert text_of(html, "flow-referral-status") == "On"
    assert text_of(html, "referral-step-review") == (
        "Thank-you and review request On Email 3 days after the order is fulfilled"
    )
    assert text_of(html, "referral-step-social") == "Social mention On Email 2 days after the review request"
    assert text_of(html, "referral-step-invite").startswith("Invite friends (personal code and link) On Email 2 days")
    assert text_of(html, "referral-step-reward").startswith("Advocate reward On The invite's channel")


def test_the_card_follows_the_referral_settings(client, store, sign_in):
    store.set_settings({"referral": {"review": {"channels": ["email", "sms"], "delay": {"value": 12, "unit": "hours"}},
                                     "social": {"enabled": False}}})  # fmt: skip
    html = page(client, sign_in, "/flows")
    assert text_of(html, "referral-step-review") == (
        "Thank-you and review request On Email, SMS 12 hours after the order is fulfilled"
    )
    assert text_of(html, "referral-step-social").startswith("Social mention Off")
    store.set_settings({"referral": {"enabled": False}})
    html = page(client, sign_in, "/flows")
    assert text_of(html, "flow-referral-status") == "Off"
    assert text_of(html, "referral-step-invite").startswith("Invite friends (personal code and link) Off")


def test_the_card_shows_this_shops_last_15_days(rt, client, store, sign_in, monkeypatch):
    monkeypatch.setattr(flows, "_now", lambda: NOW)
    with transaction(rt.sessions) as session:
        r = Referrals(session, get_shop(session, SHOP_A))
        advocate = r.advocate("2026-02-20T10:00:00+01:00")
        r.message(advocate, "invite", "email", "sent", "2026-03-10T10:00:00+01:00")
        r.friend(advocate, "2026-03-11T12:00:00+01:00", "60.00", "issued")
        r.friend(advocate, "2026-03-12T12:00:00+01:00", "99.00", "refused")
        r.friend(advocate, "2026-02-20T12:00:00+01:00", "30.00", "issued")  # the 15 days before
    html = page(client, sign_in, "/flows", SHOP_A)
    assert text_of(html, "flow-referral-results") == (
        "Result Last 15 days 15 days before Change "
        "Referral invites sent 1 0 new Referral codes redeemed 2 1 +100 % Referred orders 1 1 +0 % "
        "Referred revenue (EUR) 60.00 30.00 +100 % Advocate rewards issued 1 1 +0 %"
    )
    other = page(client, sign_in, "/flows", SHOP_B)
    assert text_of(other, "flow-referral-results").endswith("Advocate rewards issued 0 0")
