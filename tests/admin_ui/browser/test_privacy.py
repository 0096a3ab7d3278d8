"""/privacy in a browser: a customer's own opt-out is lifted from the keyboard after the
confirmation modal (and the lift is shown after a reload), a provider's suppression offers no
lift, a data-request export downloads, and one shop never sees or lifts another's suppressions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from shop_app.compliance.suppressions import suppress
from shop_app.shopify.shops import get_shop
from shop_app.storage.database import transaction
from shop_app.storage.tables import DataRequest, Suppression, SuppressionLift
from tests.admin_ui.browser.conftest import expect
from tests.admin_ui.conftest import SHOP_A, SHOP_B

pytestmark = pytest.mark.slow  # starts Chromium

STOPPED = "+34600111222"
BOUNCED = "bounced@example.com"


def add_suppression(rt, domain: str, channel: str, address: str, source: str) -> int:
    with transaction(rt.sessions) as session:
        owner = get_shop(session, domain).id
        assert suppress(session, rt.settings.secret_key, owner, channel, address, f"by {source}", source)
        return session.scalar(
            select(Suppression.id).where(Suppression.shop_id == owner, Suppression.address == address)
        )


def suppressed(rt, domain: str) -> list[str]:
    with transaction(rt.sessions) as session:
        owner = get_shop(session, domain).id
        return sorted(session.scalars(select(Suppression.address).where(Suppression.shop_id == owner)))


def add_export(rt, domain: str, email: str) -> int:
    with transaction(rt.sessions) as session:
        row = DataRequest(
            shop_id=get_shop(session, domain).id,
            shopify_request_id="req-1",
            customer_id="7001",
            email=email,
            phone=None,
            export={"customer": {"email": email}, "messages": []},
        )
        session.add(row)
        session.flush()
        return row.id


@pytest.fixture
def listed(rt, store):
    """Shop A's list: a STOP reply (liftable), a provider's bounce (not) and one data-request export."""
    add_suppression(rt, store.domain, "sms", STOPPED, "keyword")
    add_suppression(rt, store.domain, "email", BOUNCED, "provider")
    store.export_id = add_export(rt, store.domain, "anna@example.com")
    return store


def test_privacy_renders_its_lists_and_an_export_downloads_from_the_keyboard(listed, admin):
    tab = admin(listed.domain)
    tab.open("/privacy")
    page = tab.page
    rows = page.locator("#suppressions s-table-row")
    expect(rows.filter(has_text=STOPPED).get_by_role("button", name="Lift…")).to_be_visible()
    bounced = rows.filter(has_text=BOUNCED)
    expect(bounced.get_by_text("Cannot be lifted")).to_be_visible()  # a provider's: only the provider clears it
    expect(bounced.get_by_role("button")).to_have_count(0)
    assert tab.unlabelled_controls() == []
    tab.screenshot("privacy")

    tab.tab_to(page.get_by_role("button", name="Download JSON"))
    with page.expect_download() as download:
        page.keyboard.press("Enter")
    export = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
    assert download.value.suggested_filename == f"data-request-{listed.export_id}.json"
    assert (
        export["customer"] == {"email": "anna@example.com"} and export["data_request"]["shopify_request_id"] == "req-1"
    )
    assert tab.errors == []


def test_a_keyboard_user_lifts_an_opt_out_after_confirming(rt, listed, admin):
    tab = admin(listed.domain)
    tab.open("/privacy")
    page = tab.page
    tab.tab_to(page.locator("#suppressions").get_by_role("button", name="Lift…"))
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Lift this suppression?")
    expect(dialog).to_be_visible()
    expect(page.locator("[data-lift-address]")).to_have_text(STOPPED)
    tab.screenshot("privacy-lift")
    tab.tab_to(page.get_by_role("button", name="Lift suppression"))
    before = len(tab.toasts())
    page.keyboard.press("Enter")
    assert tab.wait_for_toast(before) == {"message": "Suppression lifted. No consent was given.", "isError": False}
    expect(dialog).to_be_hidden()
    expect(page.locator("#suppressions").get_by_text("Lifted (no consent given)")).to_be_visible()
    assert suppressed(rt, listed.domain) == [BOUNCED]
    with transaction(rt.sessions) as session:
        assert session.scalar(select(SuppressionLift.address)) == STOPPED

    page.reload()
    expect(page.locator("#lifts").get_by_text(STOPPED)).to_be_visible()


def test_one_shop_never_sees_or_lifts_another_shops_suppressions(rt, shops, admin, client, bearer):
    a_stop = add_suppression(rt, SHOP_A, "sms", STOPPED, "keyword")
    add_suppression(rt, SHOP_B, "sms", "+34600999888", "keyword")
    tab = admin(SHOP_B)
    tab.open("/privacy")
    page = tab.page
    expect(page.locator("#suppressions").get_by_text("+34600999888")).to_be_visible()
    assert STOPPED not in page.content()

    answer = client.post(f"/api/suppressions/{a_stop}/lift", json={"confirm": True}, headers=tab.auth)
    assert answer.status_code == 404
    assert suppressed(rt, SHOP_A) == [STOPPED]
