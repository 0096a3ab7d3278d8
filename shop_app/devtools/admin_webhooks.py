"""The development Admin API's webhook subscriptions (`webhookSubscriptions`,
`webhookSubscriptionCreate`, `webhookSubscriptionUpdate`, `webhookSubscriptionDelete`), kept in
memory per server and shop.

admin_api.py routes the root fields here. Like Shopify: a subscription's URI must be HTTPS
(plain http only to localhost/127.0.0.1, for development), a topic and URI pair is unique per
app and shop (userError "Address for this topic has already been taken"), and the list holds only
the shop-scoped subscriptions made through the API. The requests themselves are recorded by the
server as any other (`server.graphql_requests("WebhookSubscriptionCreate")`).
"""

from __future__ import annotations

import base64
import threading
import weakref
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

#: API-created subscriptions: server → shop domain → subscriptions, in creation order.
_kept: weakref.WeakKeyDictionary[Any, dict[str, list[DevWebhookSubscription]]] = weakref.WeakKeyDictionary()
_lock = threading.Lock()
_ids = iter(range(7_000_001, 2**62))
_LOCAL_HOSTS = ("localhost", "127.0.0.1")


@dataclass(frozen=True)
class DevWebhookSubscription:
    id: str
    topic: str  # the WebhookSubscriptionTopic value, e.g. ORDERS_PAID
    uri: str
    format: str
    created_at: datetime


def subscriptions_of(server: Any, domain: str) -> list[DevWebhookSubscription]:
    """What the app subscribed the shop to so far (tests, the demo)."""
    with _lock:
        return list(_kept.get(server, {}).get(domain, []))


def forget(server: Any) -> None:
    """Part of the server's reset()."""
    with _lock:
        _kept.pop(server, None)


def subscriptions(server: Any, domain: str, first: int | None = None, after: str | None = None, **_: Any) -> dict:
    """QueryRoot.webhookSubscriptions (no filters modelled; a filter argument is ignored)."""
    if first is None:
        raise ValueError("connections need `first` (Shopify requires first or last)")
    nodes = [_node(s) for s in subscriptions_of(server, domain)]
    start = 0
    if after:
        ids = [node["id"] for node in nodes]
        position = base64.urlsafe_b64decode(after.encode()).decode().removeprefix("cursor:")
        if position not in ids:
            raise ValueError(f"unknown cursor {after!r}")
        start = ids.index(position) + 1
    page = nodes[start : start + first]
    end = base64.urlsafe_b64encode(f"cursor:{page[-1]['id']}".encode()).decode() if page else None
    return {
        "__typename": "WebhookSubscriptionConnection",
        "nodes": page,
        "pageInfo": {
            "__typename": "PageInfo",
            "hasNextPage": start + first < len(nodes),
            "hasPreviousPage": start > 0,
            "endCursor": end,
        },
    }


def create(server: Any, domain: str, topic: str, webhookSubscription: dict) -> dict:  # noqa: N803 (GraphQL's name)
    """Mutation.webhookSubscriptionCreate for an HTTPS (or local http) URI."""
    uri = str(webhookSubscription.get("uri") or webhookSubscription.get("callbackUrl") or "")
    problem = _uri_problem(uri)
    with _lock:
        kept = _kept.setdefault(server, {}).setdefault(domain, [])
        if problem is None and any(s.topic == topic and s.uri == uri for s in kept):
            problem = "Address for this topic has already been taken"
        if problem is not None:
            error = {"__typename": "UserError", "field": ["webhookSubscription", "uri"], "message": problem}
            return {
                "__typename": "WebhookSubscriptionCreatePayload",
                "webhookSubscription": None,
                "userErrors": [error],
            }
        made = DevWebhookSubscription(
            f"gid://shopify/WebhookSubscription/{next(_ids)}",
            topic,
            uri,
            str(webhookSubscription.get("format") or "JSON"),
            datetime.now(UTC),
        )
        kept.append(made)
    return {"__typename": "WebhookSubscriptionCreatePayload", "webhookSubscription": _node(made), "userErrors": []}


def update(server: Any, domain: str, id: str, webhookSubscription: dict) -> dict:  # noqa: A002, N803 (GraphQL's names)
    """Mutation.webhookSubscriptionUpdate: a new URI (the only input modelled) for the shop's subscription."""
    uri = str(webhookSubscription.get("uri") or webhookSubscription.get("callbackUrl") or "")
    with _lock:
        kept = _kept.setdefault(server, {}).setdefault(domain, [])
        found = next((n for n, s in enumerate(kept) if s.id == id), None)
        problem = _uri_problem(uri) if uri else None
        if found is None:
            problem = "Webhook subscription does not exist"
        elif (
            problem is None and uri and any(s.topic == kept[found].topic and s.uri == uri and s.id != id for s in kept)
        ):
            problem = "Address for this topic has already been taken"
        if problem is not None:
            error = {"__typename": "UserError", "field": ["webhookSubscription", "uri"], "message": problem}
            return {
                "__typename": "WebhookSubscriptionUpdatePayload",
                "webhookSubscription": None,
                "userErrors": [error],
            }
        assert found is not None
        old = kept[found]
        kept[found] = changed = DevWebhookSubscription(old.id, old.topic, uri or old.uri, old.format, old.created_at)
    return {"__typename": "WebhookSubscriptionUpdatePayload", "webhookSubscription": _node(changed), "userErrors": []}


def delete(server: Any, domain: str, id: str) -> dict:  # noqa: A002 (GraphQL's name)
    """Mutation.webhookSubscriptionDelete."""
    with _lock:
        kept = _kept.setdefault(server, {}).setdefault(domain, [])
        before = len(kept)
        kept[:] = [s for s in kept if s.id != id]
        gone = len(kept) < before
    errors = (
        [] if gone else [{"__typename": "UserError", "field": ["id"], "message": "Webhook subscription does not exist"}]
    )
    return {
        "__typename": "WebhookSubscriptionDeletePayload",
        "deletedWebhookSubscriptionId": id if gone else None,
        "userErrors": errors,
    }


def add(server: Any, domain: str, topic: str, uri: str) -> DevWebhookSubscription:
    """A subscription made earlier (tests: one at an old app URL)."""
    made = DevWebhookSubscription(
        f"gid://shopify/WebhookSubscription/{next(_ids)}", topic, uri, "JSON", datetime.now(UTC)
    )
    with _lock:
        _kept.setdefault(server, {}).setdefault(domain, []).append(made)
    return made


def _uri_problem(uri: str) -> str | None:
    parts = urlsplit(uri)
    if not uri or not parts.netloc:
        return "Address can't be blank" if not uri else "Address is invalid"
    if parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in _LOCAL_HOSTS):
        return None
    return f"Address protocol {parts.scheme}:// is not supported"


def _node(subscription: DevWebhookSubscription) -> dict:
    return {
        "__typename": "WebhookSubscription",
        "id": subscription.id,
        "topic": subscription.topic,
        "uri": subscription.uri,
        "format": subscription.format,
        "createdAt": subscription.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
