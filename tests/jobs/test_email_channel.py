"""The first reminder as a real email: the send job, through SMTP_URL, to an aiosmtpd server;
then the customer's one-click unsubscribe stops the next email."""

from __future__ import annotations

import re

import pytest

from shop_app import create_app, runtime
from tests.smtp_server import smtp_server
from tests.support import ShopifyStore

ABANDONED = "2026-03-02T19:00:00+01:00"


@pytest.fixture
def smtp_store(rt, admin_api):
    """The demo shop, with email going to a real local SMTP server instead of the outbox file."""
    with smtp_server() as (controller, handler):
        settings = rt.settings.with_overrides(
            outbox_file=None, smtp_url=f"smtp://127.0.0.1:{controller.port}", email_from="recovery@casa-lino.test"
        )
        smtp_rt = runtime.install(runtime.Runtime.build(settings))
        try:
            store = ShopifyStore.install(
                smtp_rt,
                create_app(runtime=smtp_rt).test_client(),
                "demo-shop.myshopify.com",
                timezone="Europe/Madrid",
                admin_api=admin_api,
            )
            yield store, handler
        finally:
            smtp_rt.close()
            runtime.install(rt)


def test_the_first_reminder_is_a_real_email_and_one_click_unsubscribe_stops_the_next(smtp_store):
    store, smtp = smtp_store
    store.deliver("checkouts/create", store.checkout("c1", ABANDONED))
    store.tick("2026-03-02T19:00:00+00:00")
    assert store.message(step="first")["status"] == "sent"

    [mail] = smtp.messages()
    assert mail["To"] == "ana@example.com"
    assert mail["From"] == "Demo Shop <recovery@casa-lino.test>"
    assert mail["Subject"] == "Demo Shop: you left something in your cart"
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe = re.fullmatch(r"<(http://localhost:8080/u/[\w\-=]+)>", mail["List-Unsubscribe"]).group(1)
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    for part in (text, html):
        assert unsubscribe in part
        [cart] = {link for link in store.links(part)}
        assert cart == "https://demo-shop.myshopify.com/71234/checkouts/ac/c1/recover?key=k1"
        assert "Linen shirt" in part and "84.90 EUR" in part
    assert f'<a href="{unsubscribe}">' in html
    assert mail["Message-ID"].startswith(f"<reclaim.{store.message(step='first')['id']}.")

    # The customer clicks "unsubscribe" in their mail client (RFC 8058 one-click POST).
    response = store.client.post(
        unsubscribe.removeprefix("http://localhost:8080"),
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200 and "Location" not in response.headers

    store.deliver("checkouts/create", store.checkout("c2", "2026-03-03T10:00:00+01:00"))
    store.tick("2026-03-03T10:00:00+00:00")
    second = store.message(checkout_token="c2", step="first")
    assert (second["status"], second["reason"]) == ("skipped", "suppressed: unsubscribed by one-click link")
    assert len(smtp.messages()) == 1


def test_without_an_email_provider_the_email_step_needs_a_connection(rt, admin_api):
    settings = rt.settings.with_overrides(outbox_file=None)
    bare = runtime.install(runtime.Runtime.build(settings))
    try:
        store = ShopifyStore.install(
            bare, create_app(runtime=bare).test_client(), "demo-shop.myshopify.com", admin_api=admin_api
        )
        store.deliver("checkouts/create", store.checkout("c1", ABANDONED))
        store.tick("2026-03-02T19:00:00+00:00")
        first = store.message(step="first")
        assert (first["status"], first["reason"]) == (
            "skipped",
            "needs connection: the channel is not connected for this shop",
        )
    finally:
        bare.close()
        runtime.install(rt)
