"""Without Shopify's CDN (the offline demo) the admin falls back to the development stand-ins
served by the app itself, keeps working, and says that the Polaris look needs the CDN."""

from __future__ import annotations

import pytest

from tests.admin_ui.browser.conftest import BANNER, CDN, expect

pytestmark = pytest.mark.slow  # starts Chromium


def test_pages_work_and_say_so_when_the_cdn_is_unreachable(store, admin):
    tab = admin(store.domain, cdn=False)
    tab.open("/")
    page = tab.page
    expect(page.get_by_role("heading", name="Home", level=1)).to_be_visible()
    expect(page.get_by_role("note")).to_have_text(BANNER)
    assert page.evaluate("shopify.idToken()") == tab.token

    # Moving between pages (through the bounce page, itself without the CDN) works too.
    page.get_by_role("navigation", name="App").get_by_role("link", name="Home").click()
    expect(page.get_by_role("heading", name="Home", level=1)).to_be_visible()
    assert "id_token=" in page.url
    tab.screenshot("home-without-cdn")

    # The only console errors are the CDN scripts that could not load.
    unreachable = {error.rsplit(" (", 1)[1].rstrip(")") for error in tab.take_errors()}
    assert unreachable == set(CDN)
