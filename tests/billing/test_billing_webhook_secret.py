"""app_subscriptions/update verifies only with the app's secret (issue 14 review): a custom app's own
API secret, which `reclaim shop install --api-secret` stores, is the merchant's, so it must not let
the merchant sign a plan change; the shop's other webhooks still verify with it."""

from __future__ import annotations

import json
import uuid

from click.testing import CliRunner

from shop_app.cli.commands import main
from shop_app.shopify.shop_secrets import forget_cached
from shop_app.shopify.signatures import webhook_hmac

DOMAIN = "casa-lino.myshopify.com"
OWN = "shpss_secret_of_casa_lino_000"


def post(client, topic: str, payload: dict, secret: str) -> int:
    raw = json.dumps(payload).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": webhook_hmac(raw, secret),
        "X-Shopify-Shop-Domain": DOMAIN,
        "X-Shopify-Webhook-Id": str(uuid.uuid4()),
    }
    return client.post(f"/webhooks/{topic}", data=raw, headers=headers).status_code


def test_a_shops_own_secret_does_not_sign_a_plan_change(rt, admin_api, client):
    forget_cached()
    admin_api.add_shop(DOMAIN, name="Casa Lino")
    token = admin_api.issue_token(DOMAIN)
    done = CliRunner().invoke(main, ["shop", "install", DOMAIN, "--token", token, "--api-secret", OWN])
    assert done.exit_code == 0, done.output
    change = {
        "app_subscription": {
            "admin_graphql_api_id": "gid://shopify/AppSubscription/1",
            "name": "Scale",
            "plan_handle": "scale",
            "status": "ACTIVE",
            "updated_at": "2030-01-01T00:00:00+00:00",
        }
    }
    assert post(client, "app_subscriptions/update", change, OWN) == 401
    assert post(client, "app_subscriptions/update", change, rt.settings.shopify_api_secret) == 200
    assert post(client, "orders/paid", {"id": 1}, OWN) == 200
