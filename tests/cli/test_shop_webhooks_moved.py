"""`reclaim shop install` when the app's URL changed (issue 14 review, item 4): the shop's
subscriptions at an old SHOPIFY_APP_URL are moved to the current one (webhookSubscriptionUpdate)
and a second one of a topic deleted (webhookSubscriptionDelete), through the development Admin API
(every request validated against the 2026-07 schema)."""

from __future__ import annotations

from click.testing import CliRunner

from shop_app.adapters.shopify_webhook_subscriptions import callback_uri, topic_enum
from shop_app.cli.commands import main
from shop_app.devtools import admin_webhooks
from shop_app.shopify.custom_app import webhook_topics
from shop_app.shopify.shop_secrets import forget_cached

DOMAIN = "casa-lino.myshopify.com"
OLD_URL = "https://old-tunnel.example.com"


def test_subscriptions_at_an_old_app_url_are_moved_and_duplicates_deleted(rt, admin_api):
    forget_cached()
    admin_api.add_shop(DOMAIN, name="Casa Lino")
    token = admin_api.issue_token(DOMAIN)
    app_url = rt.settings.shopify_app_url
    topics = webhook_topics()
    moved, doubled = topics[0], topics[1]
    admin_webhooks.add(admin_api, DOMAIN, topic_enum(moved), callback_uri(OLD_URL, moved))
    admin_webhooks.add(admin_api, DOMAIN, topic_enum(doubled), callback_uri(app_url, doubled))
    admin_webhooks.add(admin_api, DOMAIN, topic_enum(doubled), callback_uri(OLD_URL, doubled))

    done = CliRunner().invoke(main, ["shop", "install", DOMAIN, "--token", token], catch_exceptions=False)
    assert done.exit_code == 0, done.output
    assert (
        f"webhooks: {len(topics) - 2} subscription(s) created, 1 already there, 1 moved from an old app URL, "
        "1 duplicate(s) deleted"
    ) in done.output
    subscriptions = admin_webhooks.subscriptions_of(admin_api, DOMAIN)
    assert sorted((s.topic, s.uri) for s in subscriptions) == sorted(
        (topic_enum(topic), callback_uri(app_url, topic)) for topic in topics
    )
    for name in ("WebhookSubscriptionUpdate", "WebhookSubscriptionDelete"):
        [request] = admin_api.graphql_requests(name)
        assert request.status == 200 and "errors" not in request.answer

    again = CliRunner().invoke(main, ["shop", "install", DOMAIN, "--token", token], catch_exceptions=False)
    assert f"0 subscription(s) created, {len(topics)} already there, 0 moved from an old app URL\n" in again.output
