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


def test_the_sms_consent_is_recorded_for_the_number_it_was_given_for_and_the_sms_goes_there(store, rt):
    """buyer_accepts_sms_marketing belongs to sms_marketing_phone, not to the contact phone."""
    store.set_settings({"recovery": {"first": {"enabled": False}, "whatsapp": {"enabled": False}}})
    store.deliver(
        "checkouts/create",
        store.checkout(
            "c1",
            ABANDONED,
            phone="+34600111222",
            sms_marketing_phone="+34 600 333 444",
            buyer_accepts_sms_marketing=True,
        ),
    )
    with transaction(rt.sessions) as session:
        sms = [(c.address, c.state) for c in session.scalars(select(Consent).where(Consent.channel == "sms"))]
    assert sms == [("+34600333444", "granted")]
    store.tick("2026-03-03T10:00:00+00:00")  # Prime, 16 h after 18:00 UTC, inside the window
    # Prime's SMS, and its WhatsApp resting on the same phone marketing consent, go to that number.
    assert sorted((m["channel"], m["to"]) for m in store.outbox()) == [
        ("sms", "+34600333444"),
        ("whatsapp", "+34600333444"),
    ]


def test_without_the_consenting_number_the_contact_phone_is_the_consented_one(store, rt):
    store.deliver(
        "checkouts/create",
        store.checkout(
            "c1", ABANDONED, phone="+34600111222", sms_marketing_phone=None, buyer_accepts_sms_marketing=True
        ),
    )
    with transaction(rt.sessions) as session:
        assert session.scalars(select(Consent.address).where(Consent.channel == "sms")).all() == ["+34600111222"]
