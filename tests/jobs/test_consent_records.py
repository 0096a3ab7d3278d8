"""Consent records: what the checkout's boxes say is kept per channel, newest statement wins."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from shop_app.compliance.consent_records import record_consent
from shop_app.storage.database import transaction
from shop_app.storage.tables import Consent

ABANDONED = "2026-03-02T19:00:00+01:00"


def consents(rt) -> dict[str, tuple[str, str]]:
    with transaction(rt.sessions) as session:
        return {c.channel: (c.state, c.source) for c in session.scalars(select(Consent))}


def test_checkout_boxes_become_consent_records(store, rt):
    store.deliver(
        "checkouts/create",
        store.checkout("c1", ABANDONED, buyer_accepts_marketing=True, buyer_accepts_sms_marketing=True),
    )
    assert consents(rt) == {"email": ("granted", "checkout"), "sms": ("granted", "checkout")}


def test_an_unticked_email_box_is_recorded_as_not_granted_and_unticked_sms_is_no_statement(store, rt):
    store.deliver(
        "checkouts/create",
        store.checkout("c1", ABANDONED, buyer_accepts_marketing=False, buyer_accepts_sms_marketing=False),
    )
    assert consents(rt) == {"email": ("revoked", "checkout")}


def test_an_older_statement_never_overwrites_a_newer_one(store, rt):
    store.deliver("checkouts/create", store.checkout("c1", ABANDONED, buyer_accepts_marketing=True))
    with transaction(rt.sessions) as session:
        shop_id = session.scalar(select(Consent.shop_id))
        later = datetime(2026, 3, 3, tzinfo=UTC)
        record_consent(session, shop_id, "email", "ana@example.com", granted=False, source="unsubscribe", at=later)
        earlier = datetime(2026, 3, 1, tzinfo=UTC)
        record_consent(session, shop_id, "email", "ana@example.com", granted=True, source="customer", at=earlier)
    assert consents(rt)["email"] == ("revoked", "unsubscribe")
