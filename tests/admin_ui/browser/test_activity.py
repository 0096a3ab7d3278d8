"""/activity and a journey's timeline in a browser: the list opens the timeline, the search and
the filters work from the keyboard (Enter in the search field, a status picked with the arrow
keys), a filter the page does not know is reported and ignored, a shop never sees another shop's
journeys, by list, by search or by id, and a referral journey is found by its flow and opened."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from shop_app.storage.database import transaction
from shop_app.storage.tables import Journey, Shop
from tests.admin_ui.browser.conftest import expect
from tests.admin_ui.conftest import SHOP_A, SHOP_B
from tests.admin_ui.pages.test_activity_referral import ana_becomes_an_advocate

pytestmark = pytest.mark.slow  # starts Chromium


def journey_ids(rt, domain: str) -> list[int]:
    with transaction(rt.sessions) as session:
        return list(
            session.scalars(select(Journey.id).join(Shop, Shop.id == Journey.shop_id).where(Shop.domain == domain))
        )


def test_the_list_and_a_timeline_render_with_labelled_filters(shops, admin):
    tab = admin(SHOP_A)
    tab.open("/activity")
    page = tab.page
    journeys = page.locator("#journeys")
    expect(journeys.get_by_role("link", name="a-checkout-1")).to_be_visible()
    assert tab.unlabelled_controls() == []
    tab.screenshot("activity")

    journeys.get_by_role("link", name="a-checkout-1").click()
    page.wait_for_url("**/activity/*")
    journey = page.url.split("?")[0].rsplit("/", 1)[1]
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Journey {journey}")
    expect(page.get_by_text("a-checkout-1").first).to_be_visible()
    assert tab.unlabelled_controls() == []
    tab.screenshot("activity-journey")
    assert tab.errors == []


def test_search_and_filters_from_the_keyboard(shops, admin):
    shops.a.deliver("checkouts/create", shops.a.checkout("a-checkout-2", "2026-03-02T20:00:00+01:00"))
    tab = admin(SHOP_A)
    tab.open("/activity")
    page = tab.page
    rows = page.locator("#journeys s-table-row")
    expect(rows).to_have_count(2)

    tab.tab_to(page.get_by_label("Email, phone or checkout token"))
    tab.type_over("a-checkout-2")
    page.keyboard.press("Enter")
    page.wait_for_url("**q=a-checkout-2**")
    expect(rows).to_have_count(1)
    expect(page.locator("#journeys").get_by_role("link", name="a-checkout-2")).to_be_visible()
    expect(page.get_by_label("Email, phone or checkout token")).to_have_value("a-checkout-2")

    # "Converted" (Every status, Active, Converted, Stopped: two down) finds none of them: both are active.
    tab.tab_to(page.get_by_label("Status"))
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    tab.tab_to(page.get_by_role("button", name="Search"))
    page.keyboard.press("Enter")
    page.wait_for_url("**status=converted**")
    expect(page.locator("[data-empty]")).to_have_text("No journey matches this search.")
    expect(page.get_by_label("Status")).to_have_value("converted")
    assert tab.errors == []


def test_a_filter_the_page_does_not_know_is_reported_and_ignored(shops, admin):
    tab = admin(SHOP_A)
    tab.open("/activity?status=lost&after=not-a-cursor")
    page = tab.page
    expect(page.get_by_text("There is no journey status 'lost'; showing every status.")).to_be_visible()
    expect(page.locator("[data-notice]")).to_have_count(2)  # the cursor too
    expect(page.locator("#journeys").get_by_role("link", name="a-checkout-1")).to_be_visible()


def test_a_shop_never_sees_another_shops_journeys(rt, shops, admin):
    [a_journey] = journey_ids(rt, SHOP_A)
    tab = admin(SHOP_B)
    tab.open("/activity")
    page = tab.page
    expect(page.locator("#journeys").get_by_role("link", name="b-private-checkout")).to_be_visible()
    assert "a-checkout-1" not in page.content()

    tab.open("/activity?q=a-checkout-1")
    expect(page.locator("[data-empty]")).to_have_text("No journey matches this search.")

    tab.open(f"/activity/{a_journey}")
    expect(page.get_by_role("heading", name="Journey not found", level=1)).to_be_visible()
    assert "a-checkout-1" not in page.content()
    assert tab.take_refusals() == [f"404 /activity/{a_journey}"]


def test_referral_journeys_are_found_by_flow_and_show_their_advocate(store, admin):
    """Issue 11: Ana's first order made her an advocate; the flow filter, picked with the keyboard,
    lists her referral journey by its order; its page shows the origin, the code and each step."""
    code = ana_becomes_an_advocate(store)
    tab = admin(SHOP_A)
    tab.open("/activity")
    page = tab.page
    journeys = page.locator("#journeys")
    expect(journeys.get_by_role("link", name="Order #1001")).to_be_visible()
    expect(journeys.get_by_role("link", name="c1")).to_be_visible()

    # "Referral Generation" (Every flow, Revenue Recovery, Referral Generation: two down).
    tab.tab_to(page.get_by_label("Flow"))
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    tab.tab_to(page.get_by_role("button", name="Search"))
    page.keyboard.press("Enter")
    page.wait_for_url("**flow=referral**")
    expect(page.locator("#journeys s-table-row")).to_have_count(1)
    expect(page.locator("[data-origin]")).to_have_text("captured (checkout)")
    tab.screenshot("activity-referral")

    journeys.get_by_role("link", name="Order #1001").click()
    page.wait_for_url("**/activity/*")
    expect(page.get_by_text(f"Personal referral code: {code}")).to_be_visible()
    expect(page.get_by_text("Profile: captured (checkout)")).to_be_visible()
    expect(page.locator("#journey-messages s-table-row")).to_have_count(4)  # review, social by email and push, invite
    assert tab.unlabelled_controls() == []
    tab.screenshot("activity-referral-journey")
    assert tab.errors == []
