"""A checkout's email is kept only when it is exactly one address (issue: one email reaching several people)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from shop_app.recovery.contacts import one_email
from shop_app.storage.database import transaction
from shop_app.storage.tables import WebhookDelivery

ABANDONED = "2026-03-02T19:00:00+01:00"


@pytest.mark.parametrize(
    ("value", "kept"),
    [
        ("Ana.Garcia@Example.COM", "ana.garcia@example.com"),
        ("ñandu@example.es", "ñandu@example.es"),
        ("a@example.com,b@example.org", None),
        ("a@example.com;b@example.org", None),
        ("a@example.com b@example.org", None),
        ("Ana <a@example.com>", None),
        ("a@localhost", None),
        ("", None),
        (None, None),
    ],
)
def test_exactly_one_address_or_none(value, kept):
    assert one_email(value) == kept


def test_a_checkout_listing_two_addresses_gets_no_email_and_emails_nobody(store):
    store.set_settings({"recovery": {"whatsapp": {"enabled": False}, "prime": {"enabled": False}}})
    store.deliver(
        "checkouts/create",
        store.checkout("c1", ABANDONED, email="a@example.com,b@example.org", customer=None, phone=None),
    )
    assert store.messages() == []
    with transaction(store.rt.sessions) as session:
        [reason] = session.scalars(select(WebhookDelivery.reason)).all()
    assert reason.startswith("not reachable")
    store.deliver("checkouts/create", store.checkout("c2", ABANDONED, email="a@example.com", customer=None, phone=None))
    store.tick("2026-03-02T20:00:00+00:00")
    assert [(m["channel"], m["to"]) for m in store.outbox()] == [("email", "a@example.com")]
