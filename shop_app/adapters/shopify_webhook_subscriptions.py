"""A custom app's webhook subscriptions through the Admin API (`reclaim shop install`, issue 14).

A merchant's custom app has no shopify.app.toml of ours: its subscriptions are shop-scoped, made
with `webhookSubscriptionCreate`. Registering is idempotent: the app's existing subscriptions are
listed first and only the missing (topic, URI) pairs are created; one of our topics at another URL
(an earlier SHOPIFY_APP_URL) is moved to the current one (`webhookSubscriptionUpdate`) and a
second one of a topic deleted (`webhookSubscriptionDelete`). The compliance topics
(customers/data_request, customers/redact, shop/redact) are not in `WebhookSubscriptionTopic`:
only the app's configuration (shopify.app.toml, or the Partner/Dev Dashboard) sets them.

The documents live with every other one in shopify_admin_documents.py; this module builds their
variables and reads their answers.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from shop_app.adapters.shopify_admin import AdminClient
from shop_app.adapters.shopify_admin_operations import Operation
from shop_app.errors import AdminUserError

#: Subscriptions read per page, and the most pages read (an app has a few dozen at most).
PAGE_SIZE = 100
MAX_PAGES = 20


@dataclass(frozen=True)
class Registered:
    """What one registration did: the topics created, and those already subscribed."""

    created: tuple[str, ...]
    kept: tuple[str, ...]
    #: Topics whose subscription was at another URL (an old SHOPIFY_APP_URL) and now is at the current one.
    moved: tuple[str, ...] = ()
    #: Subscriptions deleted: a second one of a topic already at the current URL.
    removed: int = 0


@dataclass(frozen=True)
class Existing:
    id: str
    topic: str  # WebhookSubscriptionTopic
    uri: str


def topic_enum(topic: str) -> str:
    """`orders/paid` → `ORDERS_PAID` (WebhookSubscriptionTopic)."""
    return topic.replace("/", "_").upper()


def subscriptions_operation(after: str | None = None, first: int = PAGE_SIZE) -> Operation:
    return Operation("WebhookSubscriptions", {"first": first, "after": after})


def subscription_create_operation(topic: str, uri: str) -> Operation:
    return Operation(
        "WebhookSubscriptionCreate",
        {"topic": topic_enum(topic), "webhookSubscription": {"uri": uri, "format": "JSON"}},
    )


def subscription_update_operation(subscription_id: str, uri: str) -> Operation:
    return Operation("WebhookSubscriptionUpdate", {"id": subscription_id, "webhookSubscription": {"uri": uri}})


def subscription_delete_operation(subscription_id: str) -> Operation:
    return Operation("WebhookSubscriptionDelete", {"id": subscription_id})


def callback_uri(app_url: str, topic: str) -> str:
    """Where the app receives `topic`: webhooks/routes.py's route under the app's public URL."""
    return f"{app_url.rstrip('/')}/webhooks/{topic}"


def existing(client: AdminClient) -> list[Existing]:
    """The app's shop-scoped subscriptions on this shop (an app lists only its own)."""
    found: list[Existing] = []
    after = None
    for _ in range(MAX_PAGES):
        connection = client.run(subscriptions_operation(after))["webhookSubscriptions"]
        found += [Existing(node["id"], node["topic"], node["uri"]) for node in connection["nodes"]]
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
    return found


def register(client: AdminClient, app_url: str, topics: Iterable[str]) -> Registered:
    """Subscribe the shop to each topic at the app's URL: a topic already there is kept; one
    subscribed at another URL (the app moved: an old SHOPIFY_APP_URL) is moved with
    `webhookSubscriptionUpdate`, any further one of that topic deleted; a missing one is created.
    Raises AdminUserError when Shopify refuses one (what was done before it stays: a re-run goes on)."""
    have = existing(client)
    created, kept, moved, removed = [], [], [], 0
    for topic in topics:
        uri = callback_uri(app_url, topic)
        mine = [s for s in have if s.topic == topic_enum(topic)]
        current = [s for s in mine if s.uri == uri]
        others = [s for s in mine if s.uri != uri]
        if current:
            kept.append(topic)
        elif others:
            _mutate(client, subscription_update_operation(others.pop(0).id, uri), topic)
            moved.append(topic)
        else:
            _mutate(client, subscription_create_operation(topic, uri), topic)
            created.append(topic)
        for stale in others:  # Shopify would send this topic twice, once to a URL not ours any more
            _mutate(client, subscription_delete_operation(stale.id), topic)
            removed += 1
    return Registered(tuple(created), tuple(kept), tuple(moved), removed)


def _mutate(client: AdminClient, operation: Operation, topic: str) -> dict:
    field = operation.name[0].lower() + operation.name[1:]  # WebhookSubscriptionCreate → webhookSubscriptionCreate
    payload = client.run(operation)[field]
    errors = payload.get("userErrors") or []
    if errors:
        said = "; ".join(str(error.get("message")) for error in errors)
        raise AdminUserError(f"Shopify refused the {topic} subscription: {said}", errors)
    return payload
