"""A customer Shopify created before the install is imported, whichever comes first (issue 11, point 1;
audit bug 5): her checkout or order carrying customer.created_at makes her imported, and the setup
job's import makes a profile captured only because a body without that date came first imported
after all, unless her referral journey has started. Through the real webhook routes, the worker and
the setup job against the development Admin API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from shop_app.shopify.post_install import enqueue_setup
from shop_app.storage.database import transaction
from shop_app.storage.tables import Profile, Shop
from tests.referral.e2e import ANA, PAID_AT, reason_of, referral_journeys

NOT_CAPTURED = "no referral flow: the customer was imported, not captured by the store"
BEA, CAI = "bea@example.com", "cai@example.com"
IN_2020 = datetime(2020, 1, 1, tzinfo=UTC)
CHECKOUT_AT = "2026-03-02T18:00:00+01:00"


def _origins(store) -> dict[str, tuple[str, str | None]]:
    with transaction(store.rt.sessions) as session:
        return {p.email: (p.origin, p.captured_by) for p in session.scalars(select(Profile))}


def _customer(customer_id: int, email: str, created_at: datetime | None = None) -> dict:
    customer: dict = {"id": customer_id, "email": email, "first_name": "Ana"}
    if created_at is not None:
        customer["created_at"] = created_at.isoformat()
    return customer


def _paid(store, order_id: int, email: str, customer: dict | None, webhook_id: str, token: str | None = None) -> None:
    order = store.order(token, PAID_AT, id=order_id, name=f"#{order_id}", email=email)
    order["customer"] = customer
    store.deliver("orders/paid", order, webhook_id=webhook_id)


def _setup_job_runs_now(store) -> None:
    """The setup job imports Shopify's customers now, after the checkouts and orders already
    ingested: on a big shop the import takes that long (the fixture's install had it done)."""
    with transaction(store.rt.sessions) as session:
        shop = session.scalars(select(Shop).where(Shop.domain == store.domain)).one()
        shop.setup_completed_at, shop_id = None, shop.id
    enqueue_setup(store.rt, shop_id)
    store.drain()
    with transaction(store.rt.sessions) as session:
        shop = session.get_one(Shop, shop_id)
        assert shop.setup_completed_at is not None and shop.setup_error is None, shop.setup_error


def test_a_checkout_of_a_customer_shopify_created_before_the_install_makes_her_imported(store) -> None:
    checkout = store.checkout("c1", CHECKOUT_AT, email=ANA, customer=_customer(7001, ANA, IN_2020))
    store.deliver("checkouts/create", checkout)
    assert _origins(store) == {ANA: ("imported", None)}
    _paid(store, 9001, ANA, _customer(7001, ANA), "paid", token="c1")  # her order does not say when
    assert NOT_CAPTURED in reason_of(store, "paid") and referral_journeys(store) == []


def test_her_order_saying_shopify_created_her_before_the_install_corrects_what_her_guest_checkout_captured(
    store,
) -> None:
    store.deliver("checkouts/create", store.checkout("c1", CHECKOUT_AT, email=ANA, customer=None))
    assert _origins(store) == {ANA: ("captured", "checkout")}
    _paid(store, 9001, ANA, _customer(7001, ANA, IN_2020), "paid", token="c1")
    assert _origins(store) == {ANA: ("imported", None)}
    assert NOT_CAPTURED in reason_of(store, "paid") and referral_journeys(store) == []


def test_a_customer_whose_journey_started_stays_captured_whatever_a_later_body_says(store) -> None:
    _paid(store, 9001, ANA, _customer(7001, ANA), "paid")
    [journey] = referral_journeys(store)
    store.deliver(
        "checkouts/create", store.checkout("c2", CHECKOUT_AT, email=ANA, customer=_customer(7001, ANA, IN_2020))
    )
    assert _origins(store) == {ANA: ("captured", "order")}
    assert [(j.id, j.status) for j in referral_journeys(store)] == [(journey.id, "active")]


def test_the_setup_jobs_import_makes_a_pre_install_customer_captured_before_it_imported(store) -> None:
    store.deliver("checkouts/create", store.checkout("c1", CHECKOUT_AT, email=ANA, customer=None))  # a guest
    _paid(store, 9002, BEA, _customer(7002, BEA), "bea")  # her first order starts her journey
    [bea_journey] = referral_journeys(store)
    assert _origins(store) == {ANA: ("captured", "checkout"), BEA: ("captured", "order")}
    assert store.admin_api is not None
    for number, email in ((7001, ANA), (7002, BEA), (7003, CAI)):
        store.admin_api.add_customer(store.domain, email=email, created_at=IN_2020, customer_id=str(number))

    _setup_job_runs_now(store)

    # Ana is imported after all; Bea's journey had started, so she stays captured; Cai is new.
    assert _origins(store) == {ANA: ("imported", None), BEA: ("captured", "order"), CAI: ("imported", None)}
    _paid(store, 9001, ANA, _customer(7001, ANA), "ana", token="c1")
    assert NOT_CAPTURED in reason_of(store, "ana")
    assert [j.id for j in referral_journeys(store)] == [bea_journey.id]


def test_the_import_leaves_captured_a_customer_shopify_created_after_the_install(store) -> None:
    store.deliver("checkouts/create", store.checkout("c1", CHECKOUT_AT, email=ANA, customer=None))
    assert store.admin_api is not None
    after_install = datetime.now(UTC) + timedelta(minutes=1)  # Shopify's createdAt is in whole seconds
    store.admin_api.add_customer(store.domain, email=ANA, created_at=after_install, customer_id="7001")
    _setup_job_runs_now(store)
    assert _origins(store) == {ANA: ("captured", "checkout")}
    _paid(store, 9001, ANA, _customer(7001, ANA), "ana", token="c1")
    assert "referral journey #" in reason_of(store, "ana") and len(referral_journeys(store)) == 1
