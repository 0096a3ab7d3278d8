"""Attribution end to end (issue 12): signed webhooks over the real routes, the real worker and
simulated time. Hand-computed: Pat abandons checkouts whose first email goes out one hour after
(the store's Madrid window allows it at once), orders arrive with their money in the shop's
currency (EUR) and the buyer's (USD), and each order is credited to the one journey the rules
name (shop_app/domain/attribution.py) or to none, and taken out when cancelled or fully refunded."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select

from shop_app.domain.attribution import Clicks
from shop_app.recovery.attribution import clicks_for_credited
from shop_app.storage.database import transaction
from shop_app.storage.measurement_tables import Attribution
from shop_app.storage.tables import CheckoutRow, Journey, OrderRow, Shop, WebhookDelivery
from tests.recovery.test_holdout_flow import put_settings
from tests.reporting.test_kept_facts_e2e import report
from tests.support import ShopifyStore

PAT = {"email": "pat@example.com", "phone": None, "customer": {"id": 9101, "email": "pat@example.com"}}
QUINN = {"email": "quinn@example.com", "phone": None, "customer": {"id": 9102, "email": "quinn@example.com"}}
#: Checkout a-1 is abandoned at 18:00 UTC on 2 March; its first email goes out at 19:00 UTC.
A_ABANDONED, A_SENT = "2026-03-02T19:00:00+01:00", "2026-03-02T19:00:00+00:00"
#: Checkout b-1, the same person's next day; its first email at 12:00 UTC on 3 March.
B_ABANDONED, B_SENT = "2026-03-03T12:00:00+01:00", "2026-03-03T12:00:00+00:00"
FIRST_EMAIL = ("first", "email")
SAME_CHECKOUT, SAME_PERSON = "same checkout", "same person within the attribution window"


def abandon(store: ShopifyStore, token: str, at: str, person: dict = PAT) -> None:
    store.deliver("checkouts/create", store.checkout(token, at, **person))


def pay(
    store: ShopifyStore,
    order_id: int,
    checkout: str | None,
    at: str,
    person: dict = PAT,
    fields: dict | None = None,
    **kwargs,
) -> str:
    """orders/paid for 84.90 EUR in the shop's money, 92.30 USD in the buyer's (with `fields` over the
    body); the delivery's reason."""
    money = {
        "total_price": "84.90",
        "currency": "EUR",
        "presentment_currency": "USD",
        "total_price_set": {
            "shop_money": {"amount": "84.90", "currency_code": "EUR"},
            "presentment_money": {"amount": "92.30", "currency_code": "USD"},
        },
    }
    payload = store.order(checkout, at, id=order_id, name=f"#{order_id}", **{**person, **money, **(fields or {})})
    store.deliver("orders/paid", payload, **kwargs)
    return last_reason(store)


def last_reason(store: ShopifyStore) -> str:
    with transaction(store.rt.sessions) as session:
        return session.scalars(select(WebhookDelivery.reason).order_by(WebhookDelivery.id.desc())).first() or ""


def credits(store: ShopifyStore) -> list[dict]:
    """Every attribution row, naming its order by Shopify id and its journey by checkout token."""
    with transaction(store.rt.sessions) as session:
        rows = session.execute(
            select(Attribution, OrderRow.shopify_id, CheckoutRow.token)
            .join(OrderRow, OrderRow.id == Attribution.order_id)
            .join(Journey, Journey.id == Attribution.journey_id)
            .join(CheckoutRow, CheckoutRow.id == Journey.checkout_id)
            .order_by(Attribution.id)
        ).all()
        return [
            {
                "order": order, "checkout": token, "message_id": a.message_id, "step": a.step,
                "channel": a.channel, "revenue": a.revenue, "currency": a.currency,
                "presentment": (a.presentment_amount, a.presentment_currency), "status": a.status,
                "reason": a.reason,
            }
            for a, order, token in rows
        ]  # fmt: skip


def first_email_id(store: ShopifyStore, token: str) -> int:
    message = store.message(checkout_token=token, step="first", channel="email")
    assert message["status"] == "sent"
    return message["id"]


def credited(store: ShopifyStore, order: str, checkout: str, reason: str) -> dict:
    return {
        "order": order, "checkout": checkout, "message_id": first_email_id(store, checkout), "step": "first",
        "channel": "email", "revenue": Decimal("84.90"), "currency": "EUR",
        "presentment": (Decimal("92.30"), "USD"), "status": "credited", "reason": reason,
    }  # fmt: skip


def test_an_order_for_the_same_checkout_is_credited_to_the_first_email_with_its_revenue(store):
    abandon(store, "a-1", A_ABANDONED)
    store.tick(A_SENT)
    reason = pay(store, 9001, "a-1", "2026-03-02T22:00:00+01:00")
    assert "attribution: 84.90 EUR credited to journey" in reason and "(first email)" in reason
    assert credits(store) == [credited(store, "9001", "a-1", SAME_CHECKOUT)]
    with transaction(store.rt.sessions) as session:  # today's conversion is unchanged beside it
        journey = session.scalars(select(Journey).where(Journey.flow == "recovery")).one()
        assert (journey.status, journey.recovered_revenue) == ("converted", Decimal("84.90"))


def test_the_same_person_ordering_days_later_is_credited_to_the_journey_messaged_last(store):
    abandon(store, "a-1", A_ABANDONED)
    abandon(store, "b-1", B_ABANDONED)
    store.tick(A_SENT)
    store.tick(B_SENT)
    # 3 days after a-1's email and 2 days 22 hours after b-1's: both in the 5-day window; b-1 was last.
    reason = pay(store, 9002, "c-9", "2026-03-06T10:00:00+00:00")
    assert "(first email)" in reason
    assert credits(store) == [credited(store, "9002", "b-1", SAME_PERSON)]


def test_the_customer_id_alone_names_the_same_person(store):
    abandon(store, "a-1", A_ABANDONED)
    store.tick(A_SENT)
    other_email = {"email": "pat.work@example.com", "customer": {"id": 9101, "email": "pat.work@example.com"}}
    pay(store, 9003, "c-9", "2026-03-05T19:00:00+00:00", person=other_email)
    assert credits(store) == [credited(store, "9003", "a-1", SAME_PERSON)]
    # Someone else (no key in common) ordering in the window is nobody's recovered order.
    pay(store, 9004, "c-8", "2026-03-05T19:00:00+00:00", person=QUINN)
    assert [c["order"] for c in credits(store)] == ["9003"]


def test_an_order_after_the_window_is_not_credited_and_the_setting_moves_the_window(rt, store, client):
    abandon(store, "a-1", A_ABANDONED)
    abandon(store, "q-1", A_ABANDONED, person=QUINN)
    store.tick(A_SENT)
    # 6 days after Pat's email, with the default 5: not recovered. Quinn's, exactly 5 days after: recovered.
    assert "attribution: no journey recovered it" in pay(store, 9005, "c-9", "2026-03-08T19:00:00+00:00")
    pay(store, 9006, "c-8", "2026-03-07T19:00:00+00:00", person=QUINN)
    assert credits(store) == [credited(store, "9006", "q-1", SAME_PERSON)]
    # With a 7-day window, Pat's next order 6 days after the email counts.
    put_settings(rt, store, client, {"attribution_days": 7})
    pay(store, 9007, "c-7", "2026-03-08T19:00:00+00:00")
    assert [c["order"] for c in credits(store)] == ["9006", "9007"]


def test_an_order_paid_before_any_message_was_sent_is_not_credited(store):
    abandon(store, "a-1", A_ABANDONED)
    abandon(store, "q-1", A_ABANDONED, person=QUINN)
    abandon(store, "b-1", B_ABANDONED)
    store.tick(A_SENT)  # a-1's and q-1's first emails
    store.tick(B_SENT)  # b-1's, at 12:00 UTC on 3 March
    # Quinn paid q-1 at 18:30 UTC, half an hour before its email; the delivery comes late: nobody's.
    assert "no journey recovered it" in pay(store, 9009, "q-1", "2026-03-02T18:30:00+00:00", person=QUINN)
    # Pat paid b-1 at 11:30 UTC, before b-1's email: not b-1's, though it is its checkout. a-1's
    # email had gone out 16.5 hours before, to the same person: a-1's journey is credited.
    pay(store, 9008, "b-1", "2026-03-03T11:30:00+00:00")
    assert credits(store) == [credited(store, "9008", "a-1", SAME_PERSON)]


def test_a_cancelled_order_is_taken_out_and_stays_out(store):
    abandon(store, "a-1", A_ABANDONED)
    store.tick(A_SENT)
    pay(store, 9001, "a-1", "2026-03-02T22:00:00+01:00")
    store.deliver("orders/cancelled", {"id": 9001, "cancelled_at": "2026-03-04T10:00:00Z"})
    assert "removed: order cancelled" in last_reason(store)
    removed = {**credited(store, "9001", "a-1", SAME_CHECKOUT), "status": "removed", "reason": "order cancelled"}
    assert credits(store) == [removed]
    # orders/paid delivered again (a new webhook id) does not credit it a second time.
    assert "attribution: already removed" in pay(store, 9001, "a-1", "2026-03-02T22:00:00+01:00")
    assert credits(store) == [removed]


def refund(store: ShopifyStore, refund_id: int, order_id: int, amount: str) -> str:
    payload = {
        "id": refund_id, "order_id": order_id, "created_at": "2026-03-05T10:00:00Z",
        "transactions": [{"id": refund_id * 10, "kind": "refund", "status": "success", "amount": amount,
                          "currency": "EUR"}],
    }  # fmt: skip
    store.deliver("refunds/create", payload)
    return last_reason(store)


def test_a_fully_refunded_order_is_taken_out_and_a_partial_refund_leaves_it(store):
    abandon(store, "a-1", A_ABANDONED)
    store.tick(A_SENT)
    pay(store, 9001, "a-1", "2026-03-02T22:00:00+01:00")
    assert "attribution" not in refund(store, 801, 9001, "40.00")
    assert [c["status"] for c in credits(store)] == ["credited"]
    assert "removed: order fully refunded" in refund(store, 802, 9001, "44.90")
    assert [(c["status"], c["reason"]) for c in credits(store)] == [("removed", "order fully refunded")]


def usd_refund(refund_id: int, order_id: int, paid: str, *parts: tuple[str, str]) -> dict:
    """refunds/create as Shopify sends it for an order paid in USD in a EUR shop: the transaction in
    the buyer's money, each refunded line item's subtotal in both (`parts`: (EUR, USD))."""
    items = [
        {"id": refund_id * 10 + n, "quantity": 1,
         "subtotal_set": {"shop_money": {"amount": shop, "currency_code": "EUR"},
                          "presentment_money": {"amount": presented, "currency_code": "USD"}}}
        for n, (shop, presented) in enumerate(parts)
    ]  # fmt: skip
    transaction = {"id": refund_id * 10, "kind": "refund", "status": "success", "amount": paid, "currency": "USD"}
    return {"id": refund_id, "order_id": order_id, "created_at": "2026-03-05T10:00:00Z",
            "refund_line_items": items, "transactions": [transaction]}  # fmt: skip


def refunded_total(store: ShopifyStore, order_id: str) -> Decimal:
    with transaction(store.rt.sessions) as session:
        return session.scalars(select(OrderRow.refunded_total).where(OrderRow.shopify_id == order_id)).one()


def test_a_full_refund_in_the_buyers_currency_takes_the_credit_and_the_revenue_out(store):
    """Found by a review: a refund paid back in USD, the buyer's currency, was not added to the
    order's total in EUR, so a fully refunded order stayed recovered revenue."""
    abandon(store, "a-1", A_ABANDONED)
    store.tick(A_SENT)
    pay(store, 9001, "a-1", "2026-03-02T22:00:00+01:00")  # 84.90 EUR shop money, 92.30 USD presentment
    with transaction(store.rt.sessions) as session:
        assert session.scalars(select(Journey.conversion_days).where(Journey.flow == "recovery")).one() == 0
    before = report(store, "2026-03-02")
    assert (before["recovered"], before["recovery_rate"]) == ({"orders": 1, "revenue": "84.90"}, 1.0)

    # Two items: 50.00 EUR (54.36 USD) and 34.90 EUR (37.94 USD), refunded in one go.
    store.deliver("refunds/create", usd_refund(801, 9001, "92.30", ("50.00", "54.36"), ("34.90", "37.94")))
    reason = last_reason(store)
    assert "84.90 of 84.90 EUR refunded (92.30 USD paid back)" in reason
    assert "removed: order fully refunded" in reason
    assert [(c["status"], c["reason"]) for c in credits(store)] == [("removed", "order fully refunded")]
    after = report(store, "2026-03-02")
    assert (after["recovered"], after["recovery_rate"]) == ({"orders": 0, "revenue": "0.00"}, 0.0)
    with transaction(store.rt.sessions) as session:  # the refunded order converts the journey no longer
        journey = session.scalars(select(Journey).where(Journey.flow == "recovery")).one()
        assert journey.conversion_days is None


def test_a_partial_refund_in_the_buyers_currency_adds_its_shop_money_and_leaves_the_credit(store):
    abandon(store, "a-1", A_ABANDONED)
    store.tick(A_SENT)
    pay(store, 9001, "a-1", "2026-03-02T22:00:00+01:00")
    store.deliver("refunds/create", usd_refund(801, 9001, "54.36", ("50.00", "54.36")))
    assert "50.00 of 84.90 EUR refunded (54.36 USD paid back), partly" in last_reason(store)
    assert refunded_total(store, "9001") == Decimal("50.00")
    assert [c["status"] for c in credits(store)] == ["credited"]
    assert report(store, "2026-03-02")["recovered"] == {"orders": 1, "revenue": "84.90"}
    # The rest, in EUR this time (the shop's currency: added as it is), reaches the total.
    assert "removed: order fully refunded" in refund(store, 802, 9001, "34.90")
    assert report(store, "2026-03-02")["recovered"] == {"orders": 0, "revenue": "0.00"}


def test_a_refund_in_the_buyers_currency_without_shop_money_is_not_added_and_says_why(store):
    """The review's body: a USD transaction and no *_set fields to tell its EUR."""
    abandon(store, "a-1", A_ABANDONED)
    store.tick(A_SENT)
    pay(store, 9001, "a-1", "2026-03-02T22:00:00+01:00")
    paid = {"id": 8010, "kind": "refund", "status": "success", "amount": "92.30", "currency": "USD"}
    store.deliver("refunds/create", {"id": 801, "order_id": 9001, "transactions": [paid]})
    assert last_reason(store) == (
        "order #9001: a refund of 92.30 USD is not added to the total in EUR: "
        "Shopify's refund gives no amount in the shop's currency (shop_money in its *_set fields)"
    )
    assert refunded_total(store, "9001") == 0
    assert [c["status"] for c in credits(store)] == ["credited"]


def test_another_shops_order_is_never_credited(rt, client, admin_api, store):
    abandon(store, "a-1", A_ABANDONED)
    store.tick(A_SENT)
    other = ShopifyStore.install(rt, client, "other-shop.myshopify.com", admin_api=admin_api)
    # The same checkout token and the same person, in another shop: neither the token nor Pat
    # connects it to this shop's journey.
    assert "no journey recovered it" in pay(other, 9001, "a-1", "2026-03-02T22:00:00+01:00")
    assert credits(store) == []
    with transaction(store.rt.sessions) as session:
        assert session.scalars(select(Journey.status).where(Journey.flow == "recovery")).one() == "active"
    pay(store, 9002, "a-1", "2026-03-02T22:00:00+01:00")
    assert [(c["order"], c["checkout"]) for c in credits(store)] == [("9002", "a-1")]


def test_one_order_is_credited_once_to_one_journey(store):
    abandon(store, "a-1", A_ABANDONED)
    abandon(store, "b-1", B_ABANDONED)
    store.tick(A_SENT)
    store.tick(B_SENT)
    # Paid with a-1's checkout after b-1's email: both journeys qualify, the checkout's wins.
    pay(store, 9001, "a-1", "2026-03-03T13:00:00+00:00")
    assert credits(store) == [credited(store, "9001", "a-1", SAME_CHECKOUT)]
    # Shopify delivers orders/paid again, and orders/create comes late: still one credit.
    assert "attribution: already credited (journey #" in pay(store, 9001, "a-1", "2026-03-03T13:00:00+00:00")
    store.deliver("orders/create", store.order("a-1", "2026-03-03T13:00:00+00:00", id=9001, **PAT))
    assert credits(store) == [credited(store, "9001", "a-1", SAME_CHECKOUT)]


def test_an_order_naming_only_the_checkouts_cart_token_is_credited_to_its_journey(store):
    """As orders.payment_for: the cart token pays the checkout too, so the journey it converts is
    the one credited, even for a buyer who gives other details, ten days later."""
    abandon(store, "a-1", A_ABANDONED)  # its cart token is cart-a-1
    store.tick(A_SENT)
    stranger = {"email": "someone@example.com", "customer": {"id": 9200, "email": "someone@example.com"}}
    reason = pay(store, 9011, None, "2026-03-12T19:00:00+00:00", person=stranger, fields={"cart_token": "cart-a-1"})
    assert "credited to journey" in reason
    assert credits(store) == [credited(store, "9011", "a-1", SAME_CHECKOUT)]
    with transaction(store.rt.sessions) as session:  # the payment rule converted the same journey
        assert session.scalars(select(Journey.status).where(Journey.flow == "recovery")).one() == "converted"
    # Another cart's token is nobody's.
    assert "no journey recovered it" in pay(
        store, 9012, None, "2026-03-12T19:00:00+00:00", person=stranger, fields={"cart_token": "cart-z-9"}
    )


def test_an_order_cancelled_before_its_orders_paid_arrives_is_never_credited(store):
    """Shopify does not promise the order of its webhooks: orders/create, then orders/cancelled,
    then a late orders/paid whose body (made when it was paid) says nothing of the cancellation."""
    abandon(store, "a-1", A_ABANDONED)
    store.tick(A_SENT)
    placed = "2026-03-02T22:00:00+01:00"
    store.deliver("orders/create", store.order("a-1", placed, id=9001, name="#9001", financial_status="pending", **PAT))
    store.deliver("orders/cancelled", {"id": 9001, "cancelled_at": "2026-03-03T10:00:00Z"})
    assert "removed before it was credited: order cancelled" in last_reason(store)
    # The row the credit would have been, taken out; the order row gives the shop's money only.
    removed = {
        **credited(store, "9001", "a-1", SAME_CHECKOUT), "presentment": (None, None), "status": "removed",
        "reason": "order cancelled",
    }  # fmt: skip
    assert credits(store) == [removed]
    assert "attribution: already removed" in pay(store, 9001, "a-1", placed)
    assert credits(store) == [removed]


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ({"cancelled_at": "2026-03-03T10:00:00+00:00"}, "cancelled"),
        ({"financial_status": "voided"}, "cancelled"),
        ({"financial_status": "refunded"}, "fully refunded"),
    ],
)
def test_an_orders_paid_body_saying_the_order_is_gone_is_not_credited(store, body, why):
    abandon(store, "a-1", A_ABANDONED)
    store.tick(A_SENT)
    reason = pay(store, 9001, "a-1", "2026-03-02T22:00:00+01:00", fields=body)
    assert f"attribution: not credited, order {why} before it was paid" in reason
    assert credits(store) == [
        {**credited(store, "9001", "a-1", SAME_CHECKOUT), "status": "removed", "reason": f"order {why}"}
    ]
    # Cancelled again (or redelivered): it stays out, once.
    store.deliver("orders/cancelled", {"id": 9001, "cancelled_at": "2026-03-04T10:00:00Z"})
    assert "attribution already removed" in last_reason(store)
    assert len(credits(store)) == 1


def test_an_order_fully_refunded_before_its_orders_paid_arrives_is_never_credited(store):
    abandon(store, "a-1", A_ABANDONED)
    abandon(store, "q-1", A_ABANDONED, person=QUINN)
    store.tick(A_SENT)
    placed = "2026-03-02T22:00:00+01:00"
    store.deliver("orders/create", store.order("a-1", placed, id=9001, name="#9001", **PAT))
    store.deliver("orders/create", store.order("q-1", placed, id=9002, name="#9002", **QUINN))
    assert "removed before it was credited: order fully refunded" in refund(store, 801, 9001, "84.90")
    assert "attribution" not in refund(store, 802, 9002, "10.00")  # partly: Quinn's order still counts
    assert "attribution: already removed" in pay(store, 9001, "a-1", placed)
    assert "credited to journey" in pay(store, 9002, "q-1", placed, person=QUINN)
    assert [(c["order"], c["checkout"], c["status"], c["reason"]) for c in credits(store)] == [
        ("9001", "a-1", "removed", "order fully refunded"),
        ("9002", "q-1", "credited", SAME_CHECKOUT),
    ]


def test_a_test_order_is_never_credited(store):
    abandon(store, "a-1", A_ABANDONED)
    store.tick(A_SENT)
    assert "attribution: a test order is never credited" in pay(
        store, 9001, "a-1", "2026-03-02T22:00:00+01:00", fields={"test": True}
    )
    assert credits(store) == []
    # The same person's real order later in the window is credited as usual.
    assert "credited to journey" in pay(store, 9002, "c-9", "2026-03-04T22:00:00+01:00")
    assert [c["order"] for c in credits(store)] == ["9002"]


RAE = {"email": "rae@example.com", "phone": None, "customer": {"id": 9103, "email": "rae@example.com"}}


def click_first_email(store: ShopifyStore, client, token: str) -> None:
    """Follow the first email's tracked cart link over GET /c/<token> (the click is counted at the
    real time: the route reads the clock)."""
    app = store.rt.settings.shopify_app_url
    body = store.message(checkout_token=token, step="first", channel="email")["body"]
    link = next(w.strip("()<>\"'") for w in body.split() if w.strip("()<>\"'").startswith(app + "/c/"))
    assert client.get(link.removeprefix(app)).status_code == 302


def clicks_by_order(store: ShopifyStore) -> dict[str, Clicks]:
    with transaction(store.rt.sessions) as session:
        shop_id = session.scalars(select(Shop.id).where(Shop.domain == store.domain)).one()
        found = clicks_for_credited(session, shop_id)
        names = dict(session.execute(select(OrderRow.id, OrderRow.shopify_id).where(OrderRow.id.in_(found))).all())
    return {names[order_id]: clicks for order_id, clicks in found.items()}


def test_the_clicks_on_the_credited_journey_before_the_order_are_recorded(store, client):
    for token, person in (("a-1", PAT), ("r-1", RAE), ("q-1", QUINN)):
        abandon(store, token, A_ABANDONED, person=person)
    store.tick(A_SENT)
    click_first_email(store, client, "a-1")
    click_first_email(store, client, "a-1")
    click_first_email(store, client, "r-1")
    after_the_clicks = datetime.now(UTC).isoformat()
    # Pat pays her checkout after clicking twice; the delivery's reason says so.
    assert "(first email), 2 click(s) on 1 message(s) before the order" in pay(store, 9001, "a-1", after_the_clicks)
    # Rae's order was placed on 3 March, before her click (its delivery comes now): no click before it.
    assert "0 click(s) on 0 message(s)" in pay(store, 9002, "r-1", "2026-03-03T10:00:00+00:00", person=RAE)
    pay(store, 9003, "q-1", after_the_clicks, person=QUINN)  # Quinn never clicked
    assert clicks_by_order(store) == {
        "9001": Clicks(messages=1, clicks=2, credited_message=True),
        "9002": Clicks(),
        "9003": Clicks(),
    }
    # A later click on Pat's email adds to its one click row (its count is not split by time); a
    # credit taken out leaves the read.
    click_first_email(store, client, "a-1")
    store.deliver("orders/cancelled", {"id": 9003, "cancelled_at": datetime.now(UTC).isoformat()})
    assert clicks_by_order(store) == {"9001": Clicks(1, 3, True), "9002": Clicks()}
