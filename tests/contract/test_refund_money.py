"""The refund fields domain/referral_payloads.refund_shop_money reads for a refund's shop money
are Shopify's MoneyBags (shop and presentment money) in the 2026-07 Admin schema (../shared): the
REST webhook body's snake_case names are the GraphQL objects' fields. Shopify's refunds/create
sample payload is not among ../shared's webhook samples, so the schema is the contract here."""

from __future__ import annotations

import pytest
from graphql import GraphQLNonNull, GraphQLObjectType

from shop_app.devtools.admin_schema import load_schema
from shop_app.domain import referral_payloads
from tests.conftest import admin_schema_path

pytestmark = pytest.mark.contract

#: Each refund part of the webhook body, as the GraphQL object its items are.
OBJECTS = {
    "refund_line_items": "RefundLineItem",
    "refund_shipping_lines": "RefundShippingLine",
    "order_adjustments": "OrderAdjustment",
}


def camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(word.title() for word in rest)


def test_every_amount_read_for_a_refunds_shop_money_is_a_money_bag():
    schema = load_schema(admin_schema_path())
    parts = referral_payloads._REFUND_PARTS
    assert {part for part, _ in parts} == set(OBJECTS)
    for part, fields in parts:
        kind = schema.get_type(OBJECTS[part])
        assert isinstance(kind, GraphQLObjectType), part
        for field in fields:
            found = kind.fields.get(camel(field))
            assert found is not None, f"{part}[].{field}: no {OBJECTS[part]}.{camel(field)}"
            assert isinstance(found.type, GraphQLNonNull) and str(found.type.of_type) == "MoneyBag", (part, field)
    bag = schema.get_type("MoneyBag")
    assert isinstance(bag, GraphQLObjectType) and {"shopMoney", "presentmentMoney"} <= set(bag.fields)
    # The duties' total the body gives beside its parts: each refunded duty's amount is a MoneyBag.
    duty = schema.get_type("RefundDuty")
    assert isinstance(duty, GraphQLObjectType) and str(duty.fields["amountSet"].type) == "MoneyBag!"
