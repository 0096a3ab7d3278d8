"""Home in a browser: the setup guide and the validation cycle render with the app's navigation
and no console error, the range links work from the page, and a shop sees only itself."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from admin_ui.layout import NAV
from tests.admin_ui.browser.conftest import BANNER, expect
from tests.admin_ui.conftest import SHOP_A, SHOP_B

pytestmark = pytest.mark.slow  # starts Chromium


def test_home_renders_with_the_navigation_and_no_console_error(store, admin):
    tab = admin(store.domain)
    tab.open("/")
    page = tab.page
    expect(page.get_by_role("heading", name="Home", level=1)).to_be_visible()
    expect(page.get_by_role("heading", name="Setup guide")).to_be_visible()
    expect(page.get_by_text(f"Demo Shop ({store.domain})")).to_be_visible()
    expect(page.get_by_role("heading", name="Validation cycle: the last 15 days")).to_be_visible()
    nav = page.get_by_role("navigation", name="App")
    assert [nav.get_by_role("link").nth(i).inner_text() for i in range(len(NAV))] == [label for _, label in NAV]
    expect(page.get_by_role("note")).to_have_text(BANNER)
    assert tab.unlabelled_controls() == []
    tab.screenshot("home")
    assert tab.errors == []


def test_a_range_link_opens_that_range_through_the_bounce(store, admin):
    tab = admin(store.domain)
    tab.open("/")
    page = tab.page
    page.get_by_role("link", name="7 days", exact=True).click()  # a plain link: no token in it
    expect(page.get_by_role("heading", name="Validation cycle: the last 7 days")).to_be_visible()
    assert "days=7" in page.url and "id_token=" in page.url  # the bounce page put the kept token back
    assert tab.errors == []


def test_shop_b_sees_only_itself_and_cannot_open_shop_a(shops, admin):
    tab = admin(SHOP_B)
    tab.open("/")
    page = tab.page
    expect(page.get_by_text(f"Demo Shop ({SHOP_B})")).to_be_visible()
    assert SHOP_A not in page.content()

    # B's token asking for A's admin (through the bounce page) is refused, and nothing of A's is shown.
    tab.follow(f"/?shop={SHOP_A}")
    expect(page.get_by_text("the shop parameter does not match the shop of the session token")).to_be_visible()
    assert "Setup guide" not in page.content()
    assert tab.take_refusals() == ["403 /"]


def test_every_page_of_the_navigation_opens_from_it(store, admin):
    """Links between pages carry no token: each goes through the bounce page and comes back signed in."""
    tab = admin(store.domain)
    tab.open("/")
    page = tab.page
    nav = page.get_by_role("navigation", name="App")
    for path, label in NAV:
        nav.get_by_role("link", name=label, exact=True).click()
        expect(nav.get_by_role("link", name=label, exact=True)).to_have_attribute("aria-current", "page")
        assert urlsplit(page.url).path == path and "id_token=" in page.url
        expect(page.get_by_role("heading", level=1)).to_be_visible()
    assert tab.errors == []
