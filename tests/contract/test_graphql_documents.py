"""Every GraphQL document the app sends, and every variables payload the client builds,
validated against Shopify's 2026-07 Admin schema with graphql-core."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from graphql import (
    FieldNode,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLSchema,
    OperationDefinitionNode,
    get_operation_ast,
    parse,
    validate,
)
from graphql.execution.values import get_variable_values
from graphql.validation import NoDeprecatedCustomRule, specified_rules

from shop_app.adapters import shopify_admin as shopify
from shop_app.adapters import shopify_admin_operations as operations
from shop_app.adapters import shopify_webhook_subscriptions as webhook_subscriptions
from shop_app.adapters.shopify_admin_billing import billing_state_operation
from shop_app.adapters.shopify_admin_codes import CODES_PER_REQUEST
from shop_app.adapters.shopify_admin_documents import DISCOUNT_CODES_CREATE, DOCUMENTS
from shop_app.devtools.admin_schema import load_schema
from shop_app.domain.discounts import DiscountSpec
from shop_app.domain.referral_codes import ReferralCodeSpec, reward_spec
from shop_app.shopify.topics import COMPLIANCE_TOPICS, TOPICS
from tests.conftest import admin_schema_path

pytestmark = pytest.mark.contract

NOW = datetime(2026, 3, 2, 18, 0, tzinfo=UTC)
#: What `reclaim shop install` subscribes a custom app to: every topic but the compliance ones.
WEBHOOK_TOPICS = [topic for topic in TOPICS if topic not in COMPLIANCE_TOPICS]
CUSTOMER = "gid://shopify/Customer/6214912893"

#: Deprecated fields we still select, each with the reason.
DEPRECATED_ALLOWED = {
    # 2026-07 deprecates defaultPhoneNumber.marketingState in favour of Customer.smsMarketingConsent,
    # and Customer.smsMarketingConsent in favour of defaultPhoneNumber.marketingState: no way out yet.
    "CustomerPhoneNumber.marketingState",
}


@pytest.fixture(scope="module")
def schema() -> GraphQLSchema:
    return load_schema(admin_schema_path())


def operation_of(name: str, document: str | None = None) -> OperationDefinitionNode:
    operation = get_operation_ast(parse(document or DOCUMENTS[name]), name)
    assert operation is not None, f"{name}: no operation of that name"
    return operation


KINDS = [("percentage", Decimal("10")), ("fixed_amount", Decimal("5")), ("free_shipping", None)]


def spec(kind: str, value: Decimal | None, customer: str | None, shipping: bool = False) -> DiscountSpec:
    return DiscountSpec(
        kind=kind,
        value=value,
        code="BACK-7KQ2M9XWPR",
        title="Reclaim: come back",
        starts_at=NOW,
        ends_at=NOW + timedelta(hours=72),
        customer_gid=customer,
        combines_with_shipping=shipping,
    )


def built_operations() -> dict[str, shopify.Operation]:
    """What the client really sends, made by its own builder functions."""
    since = NOW - timedelta(hours=3)
    return {
        "percentage, anyone": operations.discount_create_operation(spec("percentage", Decimal("10"), None)),
        "percentage, one customer": operations.discount_create_operation(
            spec("percentage", Decimal("12.5"), CUSTOMER, True)
        ),
        "fixed amount, anyone": operations.discount_create_operation(spec("fixed_amount", Decimal("5"), None, True)),
        "fixed amount, one customer": operations.discount_create_operation(
            spec("fixed_amount", Decimal("7.50"), CUSTOMER)
        ),
        "free shipping, anyone": operations.discount_create_operation(spec("free_shipping", None, None)),
        "free shipping, one customer": operations.discount_create_operation(
            spec("free_shipping", None, CUSTOMER, True)
        ),
        "codes, one": operations.discount_codes_operation([spec("percentage", Decimal("10"), CUSTOMER)]),
        "codes, every kind": operations.discount_codes_operation(
            [
                spec("percentage", Decimal("10"), None),
                spec("free_shipping", None, CUSTOMER, True),
                spec("fixed_amount", Decimal("7.50"), CUSTOMER),
            ]
        ),
        "codes, a full request": operations.discount_codes_operation(
            ([spec(kind, value, CUSTOMER) for kind, value in KINDS] * CODES_PER_REQUEST)[:CODES_PER_REQUEST]
        ),
        "find code": shopify.find_code_operation("BACK-7KQ2M9XWPR"),
        "referral code": shopify.referral_code_operation(
            ReferralCodeSpec("ANA-7KQ2M9", "Reclaim referral code, advocate 1-2", Decimal("10"), NOW)
        ),
        "referral reward": operations.discount_create_operation(
            reward_spec("THANKS-7KQ2M9XWPRAB", "Reclaim referral reward 1-3", "6214912893", NOW)
        ),
        "find code with its title": shopify.find_code_title_operation("ANA-7KQ2M9"),
        "erased customer's code deleted": operations.discount_delete_operation("gid://shopify/DiscountCodeNode/1057"),
        "shop": shopify.shop_operation(),
        "customers, first page": shopify.customers_page_operation(),
        "customers, next page": shopify.customers_page_operation("eyJsYXN0X2lkIjo2MjE0fQ==", 50),
        "customers by phone": shopify.customer_ids_by_phone_operation("+34 600 111 222"),
        "customer's order count": shopify.customer_order_count_operation("6214912893"),
        "customer's order count by gid": shopify.customer_order_count_operation(CUSTOMER),
        "orders, every criterion": shopify.orders_operation(
            shopify.payment_check_query("c1a2b3", "ana@example.com", (CUSTOMER,), since)
        ),
        "orders, checkout only": shopify.orders_operation(shopify.payment_check_query("c1a2b3", None, (), since)),
        "billing state": billing_state_operation(),
        "webhook subscriptions": webhook_subscriptions.subscriptions_operation(),
        "webhook subscriptions, next page": webhook_subscriptions.subscriptions_operation("Y3Vyc29yOjE=", 10),
        **{
            f"webhook subscription {topic}": webhook_subscriptions.subscription_create_operation(
                topic, webhook_subscriptions.callback_uri("https://reclaim.example.com", topic)
            )
            for topic in WEBHOOK_TOPICS
        },
        "webhook subscription moved": webhook_subscriptions.subscription_update_operation(
            "gid://shopify/WebhookSubscription/7000001", "https://reclaim.example.com/webhooks/orders/paid"
        ),
        "webhook subscription deleted": webhook_subscriptions.subscription_delete_operation(
            "gid://shopify/WebhookSubscription/7000002"
        ),
    }


# --- documents ---------------------------------------------------------------------------------


def test_the_registry_is_named_by_operation() -> None:
    for name, document in DOCUMENTS.items():
        operations = [d for d in parse(document).definitions if isinstance(d, OperationDefinitionNode)]
        assert [op.name.value for op in operations] == [name]


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_document_validates_against_the_schema(schema, name: str) -> None:
    assert validate(schema, parse(DOCUMENTS[name])) == []


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_document_uses_no_deprecated_field_without_a_reason(schema, name: str) -> None:
    problems = validate(schema, parse(DOCUMENTS[name]), [*specified_rules, NoDeprecatedCustomRule])
    allowed = tuple(f"The field {field} is deprecated." for field in DEPRECATED_ALLOWED)
    unexpected = [p.message for p in problems if not p.message.startswith(allowed)]
    assert unexpected == []


def test_the_checks_can_fail(schema) -> None:
    assert validate(schema, parse("query { shop { nme } }")) != []
    legacy = "query { customers(first: 1) { nodes { email } } }"
    assert validate(schema, parse(legacy), [NoDeprecatedCustomRule]) != []


# --- variables ---------------------------------------------------------------------------------


def test_every_document_has_built_variables_checked() -> None:
    assert {op.name for op in built_operations().values()} == {*DOCUMENTS, DISCOUNT_CODES_CREATE}


@pytest.mark.parametrize("label", sorted(label for label, op in built_operations().items() if op.document))
def test_built_documents_validate_against_the_schema(schema, label: str) -> None:
    """DiscountCodesCreate, built per call: valid, without deprecated fields, one aliased create per code."""
    built = built_operations()[label]
    assert built.document is not None and built.name not in DOCUMENTS
    assert validate(schema, parse(built.document), [*specified_rules, NoDeprecatedCustomRule]) == []
    fields = operation_of(built.name, built.document).selection_set.selections
    assert [field.alias.value for field in fields] == [f"c{n}" for n in range(len(built.variables))]


def test_each_batched_code_keeps_its_own_limits() -> None:
    """Each code of a batch is the single create's input: single use, once per customer, its own buyer."""
    built = built_operations()["codes, every kind"]
    for n, (kind, value) in enumerate(
        [("percentage", Decimal("10")), ("free_shipping", None), ("fixed_amount", Decimal("7.50"))]
    ):
        customer = None if n == 0 else CUSTOMER
        single = operations.discount_create_operation(spec(kind, value, customer, n == 1))
        assert built.variables[f"c{n}"] == single.variables["input"]
        assert built.variables[f"c{n}"]["usageLimit"] == 1


@pytest.mark.parametrize("label", sorted(built_operations()))
def test_built_variables_coerce(schema, label: str) -> None:
    built = built_operations()[label]
    operation = operation_of(built.name, built.document)
    coerced = get_variable_values(schema, operation.variable_definitions or (), built.variables)
    assert not isinstance(coerced, list), [e.message for e in coerced]
    for definition in operation.variable_definitions or ():
        name = definition.variable.name.value
        if name in built.variables:
            variable_type = schema.get_type(_base_name(definition.type))
            assert deprecated_inputs(built.variables[name], variable_type) == []


def test_discount_inputs_use_context_and_fractions() -> None:
    built = built_operations()
    assert built["percentage, anyone"].variables["input"]["customerGets"]["value"] == {"percentage": 0.1}
    assert built["percentage, one customer"].variables["input"]["context"] == {"customers": {"add": [CUSTOMER]}}
    assert built["free shipping, anyone"].variables["input"]["context"] == {"all": "ALL"}


def test_referral_codes_are_shared_once_each_and_rewards_single_use_for_the_advocate() -> None:
    built = built_operations()
    shared = built["referral code"].variables["input"]
    assert shared["usageLimit"] is None and shared["endsAt"] is None and shared["appliesOncePerCustomer"] is True
    assert shared["context"] == {"all": "ALL"} and shared["customerGets"]["value"] == {"percentage": 0.1}
    reward = built["referral reward"].variables["input"]
    assert reward["usageLimit"] == 1 and reward["context"] == {"customers": {"add": [CUSTOMER]}}
    assert reward["endsAt"] == "2026-05-01T18:00:00Z"  # 60 days


def test_an_erased_customers_code_is_deleted_by_its_id(schema) -> None:
    """customers/redact (found by a review): discountCodeDelete(id:) by the gid, never by the code
    (an advocate's holds their first name); the answer says what was deleted, or why not."""
    built = built_operations()["erased customer's code deleted"]
    assert built.name == "DiscountCodeDelete" and built.variables == {"id": "gid://shopify/DiscountCodeNode/1057"}
    assert validate(schema, parse(DOCUMENTS[built.name]), [*specified_rules, NoDeprecatedCustomRule]) == []
    [field] = operation_of(built.name).selection_set.selections
    assert isinstance(field, FieldNode) and field.name.value == "discountCodeDelete"
    assert field.selection_set is not None
    assert [s.name.value for s in field.selection_set.selections if isinstance(s, FieldNode)] == [
        "deletedCodeDiscountId",
        "userErrors",
    ]


def test_the_variable_check_can_fail(schema) -> None:
    operation = operation_of("DiscountCodeBasicCreate")
    good = built_operations()["percentage, anyone"].variables
    wrong = {"input": {**good["input"], "customerGets": {"value": {"percentage": "10%"}}}}
    assert isinstance(get_variable_values(schema, operation.variable_definitions, wrong), list)
    naive = {"input": {**good["input"], "startsAt": "2026-03-02T18:00:00"}}
    assert isinstance(get_variable_values(schema, operation.variable_definitions, naive), list)
    legacy = {"input": {**good["input"], "customerSelection": {"all": True}}}
    legacy["input"].pop("context")
    assert deprecated_inputs(legacy["input"], schema.get_type("DiscountCodeBasicInput")) == [
        "DiscountCodeBasicInput.customerSelection"
    ]


def _base_name(type_node: Any) -> str:
    while not hasattr(type_node, "name"):
        type_node = type_node.type
    return type_node.name.value


def deprecated_inputs(value: Any, type_: GraphQLInputType | None) -> list[str]:
    """Deprecated input fields a payload sets (graphql-core checks these only in literals)."""
    while isinstance(type_, (GraphQLNonNull, GraphQLList)):
        if isinstance(type_, GraphQLList) and isinstance(value, list):
            return [found for item in value for found in deprecated_inputs(item, type_.of_type)]
        type_ = type_.of_type
    if not isinstance(type_, GraphQLInputObjectType) or not isinstance(value, dict):
        return []
    found = []
    for key, item in value.items():
        input_field = type_.fields[key]
        if input_field.deprecation_reason:
            found.append(f"{type_.name}.{key}")
        found += deprecated_inputs(item, input_field.type)
    return found


# --- one place -----------------------------------------------------------------------------------

PROJECT = Path(__file__).resolve().parents[2]
# `query Name(` or `query Name {` or `mutation {`: prose such as "the query HMAC (…)" is not GraphQL.
EMBEDDED = re.compile(r"""\b(query|mutation)\s+[A-Z]\w*(\(|\s*\{)|\b(query|mutation)\s*\{""")


def test_no_other_module_embeds_graphql() -> None:
    home = PROJECT / "shop_app" / "adapters" / "shopify_admin_documents.py"
    offenders = [
        str(path.relative_to(PROJECT))
        for package in ("shop_app", "jobs", "webhooks", "admin_ui")
        for path in sorted((PROJECT / package).rglob("*.py"))
        if path != home and EMBEDDED.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []
    assert EMBEDDED.search(DOCUMENTS["ShopInfo"]) and EMBEDDED.search("mutation { x }")
