"""Redact in the referral flow behaves as for recovery (issue 11, point 5), through the real webhook
routes, worker and simulated time: customers/redact for an advocate whose invite is still pending
leaves nothing to send her and no row naming her; shop/redact erases every referral record of the
shop (journeys, messages, advocates, rewards) and no other shop's. The advocate-and-friend chain is
tests/compliance/test_redact_advocate.py."""

from __future__ import annotations

from sqlalchemy import func, select

from shop_app.storage.database import transaction
from shop_app.storage.referral_tables import ReferralAdvocate, ReferralReward
from shop_app.storage.tables import Journey, Message, OrderRow, Profile
from tests.referral.e2e import ANA, PHONE, ana_advocates, ana_pays, friend_order, steps
from tests.support import ShopifyStore

TABLES = (Journey, Message, ReferralAdvocate, ReferralReward, Profile, OrderRow)


def _counts(store: ShopifyStore) -> dict[str, int]:
    with transaction(store.rt.sessions) as session:
        return {t.__tablename__: session.scalar(select(func.count()).select_from(t)) or 0 for t in TABLES}


def test_customers_redact_of_a_buyer_mid_flow_leaves_nothing_to_send_and_nothing_naming_her(store) -> None:
    ana_pays(store, fulfilled="2026-03-03T10:00:00Z")
    store.tick("2026-03-06T10:01:00+00:00")
    assert steps(store)["review"]["status"] == "sent"
    store.deliver(
        "customers/redact",
        {"shop_domain": store.domain, "customer": {"id": 7001, "email": ANA, "phone": PHONE},
         "orders_to_redact": [9001]},
    )  # fmt: skip
    for day in ("2026-03-08", "2026-03-10", "2026-04-02"):
        store.tick(f"{day}T10:01:00+00:00")
    assert len(store.outbox()) == 1  # the review, before the request; nothing after it
    pending = [m for m in store.messages(flow="referral") if m["status"] in ("scheduled", "queued", "sending")]
    assert pending == []
    with transaction(store.rt.sessions) as session:
        assert session.scalars(select(Profile).where(Profile.email == ANA)).all() == []
        assert session.scalars(select(OrderRow).where(OrderRow.email == ANA)).all() == []
        bodies = session.scalars(select(Message.body).where(Message.body.is_not(None))).all()
        assert not [b for b in bodies if ANA in b or "Ana" in b]


def test_shop_redact_erases_the_shops_referral_records_and_no_other_shops(store, rt, client, admin_api) -> None:
    other = ShopifyStore.install(rt, client, "other-shop.myshopify.com", timezone="Europe/Madrid", admin_api=admin_api)
    ana_pays(other)  # a referral journey in the other shop
    code = ana_advocates(store)
    store.deliver("orders/paid", friend_order(store, 9501, "bea@example.com", 7501, code))
    assert _counts(store)["referral_advocates"] == 1 and _counts(store)["referral_rewards"] == 1
    before_other = _counts(other)  # every table holds both shops' rows here

    store.deliver("app/uninstalled", {"id": 1, "myshopify_domain": store.domain})
    store.deliver("shop/redact", {"shop_id": 1, "shop_domain": store.domain})
    after = _counts(store)
    assert after["referral_advocates"] == after["referral_rewards"] == 0
    with transaction(rt.sessions) as session:
        left = session.scalars(select(Journey.flow).where(Journey.flow == "referral")).all()
    assert len(left) == 1  # the other shop's journey
    assert after["journeys"] < before_other["journeys"] and after["messages"] == len(other.messages())
    assert [m["step"] for m in other.messages(flow="referral")] == ["review"]
