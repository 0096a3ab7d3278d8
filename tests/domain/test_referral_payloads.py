"""refunds/create in the shop's money (domain/referral_payloads.py): Shopify pays a refund back in
the buyer's (presentment) currency, while the order's total, which the refunds are added to, is in
the shop's. Hand-computed from an order of 84.90 EUR shop money, 92.30 USD presentment: a shirt
(50.00 EUR / 54.36 USD), trousers (29.90 / 32.51), shipping 5.00 / 5.43; no tax."""

from __future__ import annotations

from decimal import Decimal

import pytest

from shop_app.domain.payloads import PayloadProblem
from shop_app.domain.referral_payloads import NO_SHOP_MONEY, parse_refund, refund_in


def bag(shop: str, presented: str, shop_in: str = "EUR", presented_in: str = "USD") -> dict:
    return {
        "shop_money": {"amount": shop, "currency_code": shop_in},
        "presentment_money": {"amount": presented, "currency_code": presented_in},
    }


def item(shop: str, presented: str) -> dict:
    return {"quantity": 1, "subtotal_set": bag(shop, presented), "total_tax_set": bag("0.00", "0.00")}


SHIRT, TROUSERS = item("50.00", "54.36"), item("29.90", "32.51")
SHIPPING = {"subtotal_amount_set": bag("5.00", "5.43"), "tax_amount_set": bag("0.00", "0.00")}


def refund(paid: str, currency: str = "USD", **parts) -> dict:
    """A refunds/create body paying back `paid` in `currency`, with `parts` (refund_line_items, ...)."""
    transaction = {"id": 8010, "kind": "refund", "status": "success", "amount": paid, "currency": currency}
    return {"id": 801, "order_id": 9001, "created_at": "2026-03-05T10:00:00Z", "transactions": [transaction], **parts}


def test_a_full_refund_in_the_buyers_currency_is_the_shop_money_of_its_parts():
    event = parse_refund(refund("92.30", refund_line_items=[SHIRT, TROUSERS], refund_shipping_lines=[SHIPPING]))
    assert (event.refunded, event.currency) == (Decimal("92.30"), "USD")
    assert event.shop_money == (Decimal("84.90"), "EUR")
    assert refund_in(event, "EUR") == Decimal("84.90")  # the order's total: fully refunded


def test_a_partial_refund_in_the_buyers_currency_is_its_items_shop_money():
    event = parse_refund(refund("54.36", refund_line_items=[SHIRT]))
    assert refund_in(event, "EUR") == Decimal("50.00")


def test_a_refund_of_less_than_its_parts_is_converted_at_their_rate():
    # The trousers refunded for 20.00 USD of their 32.51, the 12.51 USD left (11.51 EUR) an order
    # adjustment: 20.00 × (29.90 + 11.51) / (32.51 + 12.51) = 18.396... → 18.40 EUR.
    adjustment = {"kind": "refund_discrepancy", "amount_set": bag("11.51", "12.51"), "tax_amount_set": None}
    event = parse_refund(refund("20.00", refund_line_items=[TROUSERS], order_adjustments=[adjustment]))
    assert refund_in(event, "EUR") == Decimal("18.40")


def test_a_negative_order_adjustment_counts_by_its_size():
    # Shipping refunded the old way: an order adjustment of -5.00 EUR / -5.43 USD.
    adjustment = {"kind": "shipping_refund", "amount_set": bag("-5.00", "-5.43"), "tax_amount_set": bag("0", "0")}
    event = parse_refund(refund("59.79", refund_line_items=[SHIRT], order_adjustments=[adjustment]))
    assert refund_in(event, "EUR") == Decimal("55.00")


def test_a_refund_without_set_fields_is_not_counted_and_says_why():
    """The reviewer's body: a transaction in USD and nothing in the shop's money."""
    event = parse_refund(refund("92.30"))
    assert event.shop_money == NO_SHOP_MONEY
    assert refund_in(event, "EUR") == NO_SHOP_MONEY
    legacy = {"quantity": 1, "subtotal": 50.0, "total_tax": 0.0}  # the deprecated plain amounts only
    assert refund_in(parse_refund(refund("54.36", refund_line_items=[legacy])), "EUR") == NO_SHOP_MONEY


def test_parts_in_another_presentment_currency_or_unreadable_say_why():
    in_gbp = {"subtotal_set": bag("50.00", "43.10", presented_in="GBP")}
    assert "in another currency than USD or in two shop currencies" in str(
        refund_in(parse_refund(refund("54.36", refund_line_items=[in_gbp])), "EUR")
    )
    broken = {"subtotal_set": bag("fifty", "54.36")}
    reason = refund_in(parse_refund(refund("54.36", refund_line_items=[broken])), "EUR")
    assert reason == "refund_line_items[].subtotal_set.shop_money.amount is not a decimal amount"
    other_shop = parse_refund(refund("54.36", refund_line_items=[SHIRT]))  # shop money in EUR
    assert "in the shop's money in EUR" in str(refund_in(other_shop, "CHF"))


def test_a_refund_in_the_shops_currency_counts_its_transactions_as_before():
    # The same money as the transactions say, whatever the parts (even unreadable ones) say.
    broken = {"subtotal_set": bag("fifty", "fifty", presented_in="EUR")}
    event = parse_refund(refund("40.00", "EUR", refund_line_items=[broken]))
    assert refund_in(event, "EUR") == Decimal("40.00")
    no_currency = {"id": 801, "order_id": 9001, "transactions": [{"kind": "refund", "amount": "40.00"}]}
    assert refund_in(parse_refund(no_currency), "EUR") == Decimal("40.00")
    failed = refund("40.00", "USD")
    failed["transactions"][0]["status"] = "failure"
    assert refund_in(parse_refund(failed), "EUR") == Decimal("0")  # nothing paid back, in no currency


def test_transactions_in_two_currencies_are_still_a_payload_problem():
    body = refund("10.00")
    body["transactions"].append({"kind": "refund", "status": "success", "amount": "10.00", "currency": "EUR"})
    with pytest.raises(PayloadProblem, match="more than one currency"):
        parse_refund(body)
