"""The attribution rules (shop_app/domain/attribution.py), pure: which journey recovered an order,
which message gets the credit, and the revenue read from an order body."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from shop_app.domain.attribution import (
    BY_CHECKOUT,
    BY_PERSON,
    CANCELLED,
    FULLY_REFUNDED,
    Candidate,
    Clicked,
    Clicks,
    Credit,
    PaidOrder,
    Person,
    Revenue,
    Sent,
    clicks_before,
    credit,
    revenue,
    taken_out,
)

T0 = datetime(2026, 3, 2, 19, 0, tzinfo=UTC)
NOW = T0 + timedelta(days=30)
PAT = Person("9101", "pat@example.com", "+34600111222")
FIRST = Sent(11, "first", "email", T0)
SECOND = Sent(12, "whatsapp", "whatsapp", T0 + timedelta(hours=13))
PRIME = Sent(13, "prime", "sms", T0 + timedelta(hours=15))


def journey(journey_id: int, token: str, person: Person = PAT, *sent: Sent) -> Candidate:
    return Candidate(journey_id, token, person, sent)


def order(at: datetime, token: str | None = "other", person: Person = PAT) -> PaidOrder:
    return PaidOrder(token, person, at)


def test_the_same_checkout_credits_the_last_message_sent_before_the_order_whatever_the_window():
    a = journey(1, "a-1", Person(), FIRST, SECOND, PRIME)
    paid = order(T0 + timedelta(hours=14), "a-1", Person())  # after the WhatsApp, before Prime
    assert credit(paid, [a], 5, NOW) == Credit(1, SECOND, BY_CHECKOUT)
    assert credit(order(T0 + timedelta(days=40), "a-1", Person()), [a], 5, NOW + timedelta(days=40)) == Credit(
        1, PRIME, BY_CHECKOUT
    )


def test_nothing_sent_before_the_order_means_not_recovered_even_for_its_own_checkout():
    a = journey(1, "a-1", PAT, FIRST)
    assert credit(order(T0 - timedelta(minutes=30), "a-1"), [a], 5, NOW) is None
    assert credit(order(T0, "a-1"), [a], 5, NOW) == Credit(1, FIRST, BY_CHECKOUT)  # sent at the same instant
    assert credit(order(T0 + timedelta(days=1), "a-1"), [journey(1, "a-1")], 5, NOW) is None  # nothing sent
    # A send recorded after `now` cannot have happened yet.
    assert credit(order(T0 + timedelta(hours=1), "a-1"), [a], 5, T0 - timedelta(hours=1)) is None


def test_the_same_person_counts_within_the_window_after_a_send():
    a = journey(1, "a-1", PAT, FIRST, PRIME)
    inside = PRIME.sent_at + timedelta(days=5)
    assert credit(order(inside), [a], 5, NOW) == Credit(1, PRIME, BY_PERSON)
    assert credit(order(inside + timedelta(seconds=1)), [a], 5, NOW) is None
    assert credit(order(inside + timedelta(days=1)), [a], 6, NOW) == Credit(1, PRIME, BY_PERSON)


def test_any_one_key_names_the_same_person_and_an_unknown_one_matches_nothing():
    a = journey(1, "a-1", PAT, FIRST)
    at = T0 + timedelta(days=1)
    for who in (Person("9101"), Person(email="pat@example.com"), Person(phone="+34600111222")):
        assert credit(order(at, person=who), [a], 5, NOW) == Credit(1, FIRST, BY_PERSON)
    assert credit(order(at, person=Person("9999", "quinn@example.com", "+34600999999")), [a], 5, NOW) is None
    nobody = journey(2, "b-1", Person(None, "", None), FIRST)
    assert credit(order(at, person=Person(None, "", None)), [nobody], 5, NOW) is None


def test_the_checkout_match_wins_else_the_journey_messaged_last():
    a = journey(1, "a-1", PAT, FIRST)
    b = journey(2, "b-1", PAT, Sent(21, "first", "email", T0 + timedelta(days=1)))
    at = T0 + timedelta(days=2)
    assert credit(order(at, "a-1"), [a, b], 5, NOW) == Credit(1, FIRST, BY_CHECKOUT)
    assert credit(order(at, "c-9"), [a, b], 5, NOW) == Credit(2, b.sent[0], BY_PERSON)
    assert credit(order(at, "c-9"), [b, a], 5, NOW) == Credit(2, b.sent[0], BY_PERSON)
    # A journey whose messages all went out after the order does not compete.
    late = journey(3, "d-1", PAT, Sent(31, "first", "email", at + timedelta(minutes=1)))
    assert credit(order(at, "c-9"), [a, late], 5, NOW) == Credit(1, FIRST, BY_PERSON)
    # Sent at the same instant: the newer journey.
    twin = journey(4, "e-1", PAT, Sent(41, "first", "email", T0))
    assert credit(order(at, "c-9"), [twin, a], 5, NOW) == Credit(4, twin.sent[0], BY_PERSON)


def test_revenue_is_the_shop_money_with_the_presentment_money_kept():
    body = {
        "total_price": "84.90",
        "currency": "EUR",
        "presentment_currency": "USD",
        "total_price_set": {
            "shop_money": {"amount": "84.90", "currency_code": "EUR"},
            "presentment_money": {"amount": "92.30", "currency_code": "usd"},
        },
    }
    assert revenue(body) == Revenue(Decimal("84.90"), "EUR", Decimal("92.30"), "USD")


def test_revenue_falls_back_to_total_price_and_keeps_what_it_knows_of_the_presentment():
    assert revenue({"total_price": "10.5", "currency": "eur"}) == Revenue(
        Decimal("10.50"), "EUR", Decimal("10.50"), "EUR"
    )
    other = revenue({"total_price": "10.50", "currency": "EUR", "presentment_currency": "GBP"})
    assert other == Revenue(Decimal("10.50"), "EUR", None, "GBP")  # the buyer's amount was not given
    broken = {"total_price": "7.00", "currency": "EUR", "total_price_set": {"shop_money": {"amount": "NaN"}}}
    assert revenue(broken) == Revenue(Decimal("7.00"), "EUR", Decimal("7.00"), "EUR")
    assert revenue({}) == Revenue(Decimal("0.00"), "USD", Decimal("0.00"), "USD")
    # shop_money without its currency code is in the order's currency.
    assert revenue({"currency": "JPY", "total_price_set": {"shop_money": {"amount": 1200}}}).currency == "JPY"


def test_the_cart_token_pays_the_checkout_as_in_the_payment_rule():
    """orders.payment_for converts a journey whose checkout's token or cart token the order names;
    attribution's "same checkout" is the same two keys, an unknown one matching nothing."""
    a = Candidate(1, "a-1", Person(), (FIRST,), cart_token="cart-a-1")
    at = T0 + timedelta(days=40)  # far outside any window: only the checkout can qualify
    assert credit(PaidOrder(None, Person(), at, "cart-a-1"), [a], 5, NOW + timedelta(days=40)) == Credit(
        1, FIRST, BY_CHECKOUT
    )
    assert credit(PaidOrder("other", Person(), at, "cart-a-1"), [a], 5, NOW + timedelta(days=40)) == Credit(
        1, FIRST, BY_CHECKOUT
    )
    assert credit(PaidOrder(None, Person(), at, "cart-b-1"), [a], 5, NOW + timedelta(days=40)) is None
    unknown = Candidate(2, None, Person(), (FIRST,), cart_token="")
    assert credit(PaidOrder(None, Person(), at, ""), [unknown], 5, NOW + timedelta(days=40)) is None
    # The cart's journey wins over a journey of the same person messaged later.
    b = Candidate(3, "b-1", PAT, (Sent(31, "first", "email", at - timedelta(hours=1)),))
    assert credit(PaidOrder(None, PAT, at, "cart-a-1"), [b, a], 5, NOW + timedelta(days=40)) == Credit(
        1, FIRST, BY_CHECKOUT
    )


def test_a_cancelled_voided_or_fully_refunded_order_is_taken_out():
    total, none = Decimal("84.90"), Decimal("0")
    assert taken_out(False, "paid", total, none) is None
    assert taken_out(False, "partially_refunded", total, Decimal("84.89")) is None
    assert taken_out(True, "paid", total, none) == CANCELLED
    assert taken_out(False, "voided", total, none) == CANCELLED
    assert taken_out(False, "refunded", total, none) == FULLY_REFUNDED
    assert taken_out(False, "paid", total, total) == FULLY_REFUNDED  # the refunds we added reach the total
    assert taken_out(False, "paid", none, none) is None  # a free order is not refunded by nothing


def test_clicks_before_the_order_are_those_of_messages_first_clicked_by_then():
    at = T0 + timedelta(days=1)
    first = Clicked(11, 2, T0 + timedelta(hours=1), T0 + timedelta(hours=2))
    later = Clicked(12, 1, at + timedelta(seconds=1), at + timedelta(seconds=1))  # after the order: left out
    both = Clicked(13, 4, at, at + timedelta(days=1))  # first click at the order's instant: all its clicks
    assert clicks_before([first, later, both], at, 13) == Clicks(2, 6, True)
    assert clicks_before([first, later], at, 12) == Clicks(1, 2, False)
    assert clicks_before([], at, 11) == Clicks(0, 0, False)
    assert clicks_before([Clicked(11, 0, T0, T0)], at, None) == Clicks(1, 1, False)  # a row is one click at least
