"""customers/data_request for a referral advocate (issues 11 and 10): the export recorded for the merchant
holds the profile's origin (captured, and by what) and the messages of the referral journey, which has
no checkout and is reached through the profile, beside those of the recovery journey."""

from __future__ import annotations

from sqlalchemy import select

from shop_app.storage.database import transaction
from shop_app.storage.tables import DataRequest

ANA = {"id": 7001, "email": "ana@example.com"}


def test_the_export_holds_the_origin_and_the_referral_journeys_messages(store) -> None:
    store.deliver("checkouts/create", store.checkout("c1", "2026-03-02T18:00:00+01:00"))
    store.tick("2026-03-02T18:01:00+00:00")  # the recovery journey's first email
    store.deliver("orders/paid", store.order("c1", "2026-03-02T20:30:00+01:00", id=9001, name="#1001"))
    store.deliver("orders/fulfilled", {"id": 9001, "updated_at": "2026-03-03T10:00:00Z"})
    store.tick("2026-03-06T10:01:00+00:00")  # the referral journey's review
    assert store.message(flow="referral", step="review")["status"] == "sent"
    request = {"shop_id": 1, "shop_domain": store.domain, "customer": ANA, "data_request": {"id": 9999}}
    store.deliver("customers/data_request", request)

    with transaction(store.rt.sessions) as session:
        [export] = session.scalars(select(DataRequest.export)).all()
    [profile] = export["profiles"]
    assert (profile["origin"], profile["captured_by"]) == ("captured", "checkout")
    sent = {m["step"]: m for m in export["messages"] if m["status"] == "sent"}
    assert set(sent) == {"first", "review"}, export["messages"]
    assert sent["review"]["to"] == "ana@example.com" and "Ana" in sent["review"]["body"]
    assert {m["step"] for m in export["messages"]} >= {"first", "review", "social", "invite"}
