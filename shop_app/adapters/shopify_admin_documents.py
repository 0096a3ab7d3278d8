"""Every GraphQL document Reclaim sends to the Admin API, and nothing else.

The registry maps each operation name to its document; the client sends documents
only by name, and tests/contract/test_graphql_documents.py validates all of them
(with the variables the client builds) against the pinned 2026-07 schema.
"""

from __future__ import annotations

# Shop.billingAddress is deprecated in 2026-07 for shopAddress (the same ShopAddress type).
SHOP_INFO = """
query ShopInfo {
  shop {
    name
    email
    ianaTimezone
    currencyCode
    myshopifyDomain
    primaryDomain { host }
    shopAddress { countryCodeV2 }
  }
}
"""

# Buyer restriction uses `context` (2025-10+); `customerSelection` is deprecated.
DISCOUNT_CODE_BASIC_CREATE = """
mutation DiscountCodeBasicCreate($input: DiscountCodeBasicInput!) {
  discountCodeBasicCreate(basicCodeDiscount: $input) {
    codeDiscountNode { id }
    userErrors { field code message extraInfo }
  }
}
"""

DISCOUNT_CODE_FREE_SHIPPING_CREATE = """
mutation DiscountCodeFreeShippingCreate($input: DiscountCodeFreeShippingInput!) {
  discountCodeFreeShippingCreate(freeShippingCodeDiscount: $input) {
    codeDiscountNode { id }
    userErrors { field code message extraInfo }
  }
}
"""

#: The single creates above as (mutation field, its argument, the argument's input type), by name.
DISCOUNT_CREATES = {
    "DiscountCodeBasicCreate": ("discountCodeBasicCreate", "basicCodeDiscount", "DiscountCodeBasicInput"),
    "DiscountCodeFreeShippingCreate": (
        "discountCodeFreeShippingCreate",
        "freeShippingCodeDiscount",
        "DiscountCodeFreeShippingInput",
    ),
}
#: The one document with a shape per call: DiscountCodesCreate, several single creates in one request
#: (issue 13), each under its own alias and variable (`c0`, `c1`, …), so each code stays its own
#: discount with its own usage limit and customer, and its userErrors come back under its alias.
DISCOUNT_CODES_CREATE = "DiscountCodesCreate"


def discount_codes_create(creates: tuple[str, ...]) -> str:
    """The DiscountCodesCreate document for these single creates (DISCOUNT_CREATES names), in order."""
    variables, fields = [], []
    for n, name in enumerate(creates):
        field, argument, input_type = DISCOUNT_CREATES[name]
        variables.append(f"$c{n}: {input_type}!")
        fields.append(
            f"  c{n}: {field}({argument}: $c{n}) {{\n"
            "    codeDiscountNode { id }\n    userErrors { field code message extraInfo }\n  }"
        )
    return f"mutation {DISCOUNT_CODES_CREATE}({', '.join(variables)}) {{\n" + "\n".join(fields) + "\n}\n"


# The lookup is case-insensitive on Shopify's side (schema description).
CODE_DISCOUNT_BY_CODE = """
query CodeDiscountByCode($code: String!) {
  codeDiscountNodeByCode(code: $code) { id }
}
"""

# The referral flow (issue 11) reads the title too: a readable referral code someone else already
# holds must not be taken for ours after a lost answer (domain/referral_codes.py).
CODE_DISCOUNT_TITLE_BY_CODE = """
query CodeDiscountTitleByCode($code: String!) {
  codeDiscountNodeByCode(code: $code) {
    id
    codeDiscount {
      ... on DiscountCodeBasic { title }
      ... on DiscountCodeFreeShipping { title }
    }
  }
}
"""

# customers/redact (found by a review): the codes the app made for an erased customer are deleted in
# Shopify, the advocate's own made from their first name. An unknown id answers a userError on `id`.
DISCOUNT_CODE_DELETE = """
mutation DiscountCodeDelete($id: ID!) {
  discountCodeDelete(id: $id) {
    deletedCodeDiscountId
    userErrors { field code message }
  }
}
"""

# Order.checkoutToken exists from 2026-07 on; the `checkout_token:` search filter earlier.
ORDERS_FOR_PAYMENT_CHECK = """
query OrdersForPaymentCheck($first: Int!, $query: String!) {
  orders(first: $first, query: $query, sortKey: CREATED_AT, reverse: true) {
    nodes {
      id
      name
      createdAt
      cancelledAt
      checkoutToken
      email
      displayFinancialStatus
      totalPriceSet { shopMoney { amount currencyCode } }
      customer { id }
    }
  }
}
"""

# `orders(query:)` has no phone filter in 2026-07; customers(query:) does. The batched payment
# check (issue 13) asks for several phones at once (`phone:a OR phone:b`) and reads each
# customer's number back to tell which phone it owns.
CUSTOMER_IDS_BY_PHONE = """
query CustomerIdsByPhone($first: Int!, $query: String!) {
  customers(first: $first, query: $query) {
    nodes { id defaultPhoneNumber { phoneNumber } }
  }
}
"""

# defaultPhoneNumber.marketingState and Customer.smsMarketingConsent are each marked
# deprecated in favour of the other in 2026-07; the field below is the one the
# contract (§4) names.
CUSTOMERS_PAGE = """
query CustomersPage($first: Int!, $after: String) {
  customers(first: $first, after: $after, sortKey: ID) {
    nodes {
      id
      firstName
      lastName
      createdAt
      defaultEmailAddress { emailAddress marketingState }
      defaultPhoneNumber { phoneNumber marketingState }
    }
    pageInfo { hasNextPage endCursor }
  }
}
"""

# The referral trigger (issue 11): the customer's lifetime orders at the store, this one included.
# numberOfOrders is an UnsignedInt64, sent as a string of digits.
CUSTOMER_ORDER_COUNT = """
query CustomerOrderCount($id: ID!) {
  customer(id: $id) { numberOfOrders }
}
"""

# A custom app's shop-scoped subscriptions (`reclaim shop install`, issue 14): listed, then only the
# missing topics created. App-specific ones (shopify.app.toml) are not listed here, and the
# compliance topics exist only there (WebhookSubscriptionTopic has none of them).
WEBHOOK_SUBSCRIPTIONS = """
query WebhookSubscriptions($first: Int!, $after: String) {
  webhookSubscriptions(first: $first, after: $after) {
    nodes { id topic uri }
    pageInfo { hasNextPage endCursor }
  }
}
"""

WEBHOOK_SUBSCRIPTION_CREATE = """
mutation WebhookSubscriptionCreate($topic: WebhookSubscriptionTopic!, $webhookSubscription: WebhookSubscriptionInput!) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: $webhookSubscription) {
    webhookSubscription { id topic uri }
    userErrors { field message }
  }
}
"""

# A subscription left at an old app URL is moved to the current one, or a second one of its topic
# deleted (issue 14 review).
WEBHOOK_SUBSCRIPTION_UPDATE = """
mutation WebhookSubscriptionUpdate($id: ID!, $webhookSubscription: WebhookSubscriptionInput!) {
  webhookSubscriptionUpdate(id: $id, webhookSubscription: $webhookSubscription) {
    webhookSubscription { id topic uri }
    userErrors { field message }
  }
}
"""

WEBHOOK_SUBSCRIPTION_DELETE = """
mutation WebhookSubscriptionDelete($id: ID!) {
  webhookSubscriptionDelete(id: $id) {
    deletedWebhookSubscriptionId
    userErrors { field message }
  }
}
"""

# Billing (issue 14): the shop's active app subscriptions (Shopify App Pricing: AppRecurringPricing
# carries the Partner Dashboard's planHandle) and whether it is a development store; read by
# shopify_admin_billing.py.
APP_BILLING_STATE = """
query AppBillingState {
  currentAppInstallation {
    app { publicCategory }
    activeSubscriptions {
      id
      name
      status
      test
      currentPeriodEnd
      lineItems {
        plan {
          pricingDetails {
            __typename
            ... on AppRecurringPricing { planHandle }
          }
        }
      }
    }
  }
  shop { plan { partnerDevelopment } }
}
"""

DOCUMENTS: dict[str, str] = {
    "ShopInfo": SHOP_INFO,
    "DiscountCodeBasicCreate": DISCOUNT_CODE_BASIC_CREATE,
    "DiscountCodeFreeShippingCreate": DISCOUNT_CODE_FREE_SHIPPING_CREATE,
    "CodeDiscountByCode": CODE_DISCOUNT_BY_CODE,
    "CodeDiscountTitleByCode": CODE_DISCOUNT_TITLE_BY_CODE,
    "DiscountCodeDelete": DISCOUNT_CODE_DELETE,
    "OrdersForPaymentCheck": ORDERS_FOR_PAYMENT_CHECK,
    "CustomerIdsByPhone": CUSTOMER_IDS_BY_PHONE,
    "CustomersPage": CUSTOMERS_PAGE,
    "CustomerOrderCount": CUSTOMER_ORDER_COUNT,
    "WebhookSubscriptions": WEBHOOK_SUBSCRIPTIONS,
    "WebhookSubscriptionCreate": WEBHOOK_SUBSCRIPTION_CREATE,
    "WebhookSubscriptionUpdate": WEBHOOK_SUBSCRIPTION_UPDATE,
    "WebhookSubscriptionDelete": WEBHOOK_SUBSCRIPTION_DELETE,
    "AppBillingState": APP_BILLING_STATE,
}
