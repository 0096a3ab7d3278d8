"""The development sign-in and the CDN stand-ins: for the demo and tests, never in production."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from shop_app import create_app, runtime
from tests.support import ShopifyStore

DOMAIN = "demo-shop.myshopify.com"
BROWSER = {"Accept": "text/html"}


def test_sign_in_opens_the_admin_as_an_installed_shop(rt, client):
    ShopifyStore.install(rt, client, DOMAIN)
    response = client.get(f"/dev/sign-in?shop={DOMAIN}")
    assert response.status_code == 302
    target = urlsplit(response.headers["Location"])
    token = parse_qs(target.query)["id_token"][0]
    home = client.get(f"/?shop={DOMAIN}&id_token={token}", headers=BROWSER)
    assert home.status_code == 200 and "Demo Shop" in home.get_data(as_text=True)
    # The same token opens the JSON API, as App Bridge's fetch would send it.
    assert client.get("/api/settings", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_sign_in_refuses_a_shop_not_installed_here(rt, client):
    assert client.get("/dev/sign-in?shop=elsewhere.myshopify.com").status_code == 404
    assert client.get("/dev/sign-in?shop=not a shop").status_code == 400


def test_production_has_neither_sign_in_nor_stand_ins(rt):
    production = runtime.Runtime.build(
        rt.settings.with_overrides(
            dev_mode=False,
            redis_url=rt.settings.redis_url or "redis://127.0.0.1:1/0",
            shopify_app_url="https://reclaim.example.com",  # production wants https
        )
    )
    try:
        client = create_app(runtime=production).test_client()
        assert client.get(f"/dev/sign-in?shop={DOMAIN}").status_code == 404
        assert client.get("/dev/stand-ins/app-bridge.js").status_code == 404
    finally:
        production.close()
    runtime.install(rt)


def test_pages_fall_back_to_the_stand_ins_only_outside_production(rt, client):
    ShopifyStore.install(rt, client, DOMAIN)
    token = parse_qs(urlsplit(client.get(f"/dev/sign-in?shop={DOMAIN}").headers["Location"]).query)["id_token"][0]
    page = client.get(f"/?shop={DOMAIN}&id_token={token}", headers=BROWSER).get_data(as_text=True)
    assert page.index("https://cdn.shopify.com/shopifycloud/app-bridge.js") < page.index("/dev/stand-ins/app-bridge.js")
    assert page.index("https://cdn.shopify.com/shopifycloud/polaris-1.js") < page.index("/dev/stand-ins/polaris.js")
