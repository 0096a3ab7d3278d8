"""The plan page links to Shopify's plan selection only where Shopify App Pricing applies (issue 14
review): not for a development store (free and unlimited) nor for a merchant's custom app."""

from __future__ import annotations

from shop_app.devtools.admin_billing import billing_of
from tests.billing.test_billing import BROWSER, SHOP_A, run_setup, sign_in  # noqa: F401 (fixture)


def page(client, sign_in) -> str:  # noqa: F811
    response = client.get(f"/settings/plan?shop={SHOP_A}&id_token={sign_in(SHOP_A)}", headers=BROWSER)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_the_choose_a_plan_button_only_where_shopify_app_pricing_applies(rt, client, store, admin_api, sign_in):  # noqa: F811
    billing = billing_of(admin_api)
    assert "Choose a plan in Shopify" in page(client, sign_in)  # never read: a public app's shop
    run_setup(rt)  # the development Admin API's store is a development store
    assert "Choose a plan in Shopify" not in page(client, sign_in)
    billing.set_development(SHOP_A, False)
    billing.set_app_category(SHOP_A, "CUSTOM")
    run_setup(rt)
    assert "Choose a plan in Shopify" not in page(client, sign_in)
    billing.set_app_category(SHOP_A, "PUBLIC")
    run_setup(rt)
    assert "data-plan-selection>Choose a plan in Shopify" in page(client, sign_in)
