"""The referral settings and platform pieces as a merchant and Shopify meet them (issue 11, points 6
and 8): the `referral` section is on by default in `reclaim settings show` and GET /api/settings; an
invalid section exits 2 from `reclaim settings set` and answers 422 from PUT /api/settings, listing
every bad field and saving nothing; the sandbox (POST /api/templates/preview) renders a default text
for every referral step x editable channel x en/es x formal/informal, and the template list holds
them; shopify.app.toml subscribes to every topic the ingest handles, each with its route, and asks
for the scopes those topics and the Admin API documents need and no other."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest
from sqlalchemy import select

from jobs.ingest import HANDLERS
from shop_app.config import MAX_WEBHOOK_BYTES
from shop_app.messaging.referral_defaults import LANGUAGES, STEPS, TONES
from shop_app.shopify.topics import REFERRAL_TOPICS, TOPICS
from shop_app.storage.database import transaction
from shop_app.storage.tables import WebhookDelivery
from tests.conftest import admin_schema_path
from tests.referral.e2e import reclaim, settings_set_refuses
from tests.tokens import session_token

ROOT = Path(__file__).resolve().parents[2]
DEFAULTS = {
    "enabled": True,
    "review": {"enabled": True, "channels": ["email"], "delay": {"value": 3, "unit": "days"}, "incentive": None},
    "social": {"enabled": True, "channels": ["email"], "delay": {"value": 2, "unit": "days"}, "incentive": None},
    "invite": {"enabled": True, "channels": ["email"], "delay": {"value": 2, "unit": "days"}, "friend_percent": 10},
    "reward": {"enabled": True, "percent": 10, "expiry_days": 60, "max_per_30_days": 10},
}
BAD = {
    "enabled": "yes",
    "review": {"channels": ["fax"], "delay": {"value": 3, "unit": "weeks"}},
    "social": {"delay": {"value": 0, "unit": "hours"}},
    "invite": {"friend_percent": 150},
    "reward": {"expiry_days": 0, "max_per_30_days": -1, "colour": "red"},
}
BAD_FIELDS = {
    "referral.enabled",
    "referral.review.channels",
    "referral.review.delay.unit",
    "referral.social.delay.value",
    "referral.invite.friend_percent",
    "referral.reward.expiry_days",
    "referral.reward.max_per_30_days",
    "referral.reward.colour",
}


@pytest.fixture
def bearer(rt, store) -> dict[str, str]:
    token = session_token(store.domain, api_key=rt.settings.shopify_api_key, secret=rt.settings.shopify_api_secret)
    return {"Authorization": f"Bearer {token}"}


# --- the settings document ------------------------------------------------------------------------


def test_the_referral_section_is_on_by_default_in_the_cli_and_the_admin(store, client, bearer) -> None:
    shown = reclaim("settings", "show", store.domain)
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.output)["referral"] == DEFAULTS
    assert client.get("/api/settings", headers=bearer).get_json()["settings"]["referral"] == DEFAULTS


def test_reclaim_settings_set_refuses_a_bad_referral_section_with_exit_2_listing_its_fields(store, tmp_path) -> None:
    settings_set_refuses(store, tmp_path, BAD, BAD_FIELDS)


def test_put_api_settings_answers_422_listing_every_bad_referral_field(store, client, bearer) -> None:
    before = client.get("/api/settings", headers=bearer).get_json()["settings"]
    response = client.put("/api/settings", json={**before, "referral": BAD}, headers=bearer)
    assert response.status_code == 422, response.get_json()
    assert {e["field"] for e in response.get_json()["errors"]} == BAD_FIELDS
    assert client.get("/api/settings", headers=bearer).get_json()["settings"] == before


# --- default texts in the sandbox -----------------------------------------------------------------

EDITABLE_CHANNELS = ("email", "push", "sms")  # WhatsApp sends its approved templates: test_whatsapp_referral_templates


def test_the_sandbox_previews_a_default_for_every_step_channel_language_and_tone(store, client, bearer) -> None:
    bodies: dict[tuple[str, str, str, str], str] = {}
    for step in STEPS:
        for channel in EDITABLE_CHANNELS:
            for language in LANGUAGES:
                for tone in TONES:
                    asked = {"step": step, "channel": channel, "language": language, "tone": tone}
                    response = client.post("/api/templates/preview", json=asked, headers=bearer)
                    assert response.status_code == 200, (asked, response.get_json())
                    answer = response.get_json()
                    assert answer["problems"] == [], (asked, answer["problems"])
                    body, subject = answer["preview"]["body"], answer["preview"]["subject"] or ""
                    assert body and "Demo Shop" in subject + body and "{{" not in subject + body, (asked, answer)
                    bodies[(step, channel, language, tone)] = body
    assert len(bodies) == len(STEPS) * len(EDITABLE_CHANNELS) * 2 * 2 == 48
    for step in STEPS:
        for channel in EDITABLE_CHANNELS:  # the languages and the tones really differ
            assert len({bodies[(step, channel, lang, tone)] for lang in LANGUAGES for tone in TONES}) == 4, (
                step,
                channel,
            )


def test_the_template_list_holds_the_referral_defaults(store, client, bearer) -> None:
    listed = client.get("/api/templates", headers=bearer).get_json()["templates"]
    keys = {(t["step"], t["channel"], t["language"]) for t in listed if t["step"] in STEPS}
    assert keys == {(s, c, lang) for s in STEPS for c in EDITABLE_CHANNELS for lang in LANGUAGES}
    assert all(t["body"] and not t["custom"] for t in listed if t["step"] in STEPS)


# --- shopify.app.toml -----------------------------------------------------------------------------


def _toml() -> dict:
    return tomllib.loads((ROOT / "shopify.app.toml").read_text())


def _subscribed() -> set[str]:
    subscriptions = _toml()["webhooks"]["subscriptions"]
    return {t for s in subscriptions for t in s.get("topics", []) + s.get("compliance_topics", [])}


def test_every_topic_the_ingest_handles_is_subscribed_and_routed(client) -> None:
    assert set(HANDLERS) - _subscribed() == set()
    assert set(HANDLERS) - set(TOPICS) == set()


def test_the_referral_topics_are_subscribed_with_their_routes(client) -> None:
    referral = {"customers/create", "orders/fulfilled", "orders/cancelled", "refunds/create", "orders/paid"}
    assert referral <= _subscribed() and referral <= set(TOPICS)
    for topic in referral:  # an unsigned POST reaches the route (401), not a 404
        assert client.post(f"/webhooks/{topic}", data=b"{}").status_code == 401


REFERRAL_BODIES = {
    "customers/create": {"id": 7001, "email": "ana@example.com", "created_at": "2020-01-01T00:00:00Z"},
    "orders/fulfilled": {"id": 9001, "updated_at": "2026-03-03T10:00:00Z"},
    "orders/cancelled": {"id": 9001, "cancelled_at": "2026-03-04T10:00:00Z"},
    "refunds/create": {"id": 801, "order_id": 9001, "created_at": "2026-03-04T10:00:00Z", "transactions": []},
}


@pytest.mark.parametrize("topic", REFERRAL_TOPICS)
def test_a_referral_topic_is_signed_deduplicated_and_size_limited_like_the_others(store, topic) -> None:
    body = REFERRAL_BODIES[topic]
    assert store.post(topic, body, secret="not-the-app-secret").status_code == 401
    first = store.post(topic, body, webhook_id="w-1")
    assert (first.status_code, first.get_json()["status"]) == (200, "accepted")
    again = store.post(topic, body, webhook_id="w-1")  # Shopify's retry of the same delivery
    assert (again.status_code, again.get_json()["status"]) == (200, "duplicate")
    huge = json.dumps({**body, "note": "x" * (MAX_WEBHOOK_BYTES + 10)}).encode()
    assert store.post(topic, None, body=huge, webhook_id="w-2").status_code == 413
    store.drain()
    with transaction(store.rt.sessions) as session:
        recorded = session.execute(select(WebhookDelivery.webhook_id, WebhookDelivery.status)).all()
    # A cancellation or refund of an order we do not know yet waits for it (jobs/order_wait.py).
    waits = topic in ("orders/cancelled", "refunds/create")
    assert [tuple(r) for r in recorded] == [("w-1", "received" if waits else "processed")]


def _scopes_topics_need(schema: str) -> dict[str, set[str]]:
    """{topic: the scopes of which Shopify needs one}, read from WebhookSubscriptionTopic in the schema."""
    start = schema.index("enum WebhookSubscriptionTopic")
    enum = schema[start : schema.index("\n}", start)]
    needed = {}
    for topic in _subscribed():
        value = re.search(r"^\s*" + topic.upper().replace("/", "_") + r"\s*$", enum, re.M)
        if value is None:  # the compliance topics are no WebhookSubscriptionTopic and need no scope
            continue
        text = enum[enum.rindex('"""', 0, enum.rindex('"""', 0, value.start())) : value.start()]
        one = re.search(r"Requires the `(\w+)` scope", text)
        any_of = re.search(r"Requires at least one of the following scopes: ([\w, ]+)", text)
        needed[topic] = {one.group(1)} if one else {s.strip() for s in any_of.group(1).split(",")} if any_of else set()
    return needed


def test_the_scopes_are_those_the_topics_and_documents_need_and_no_more() -> None:
    schema = admin_schema_path().read_text()
    granted = set(_toml()["access_scopes"]["scopes"].split(","))
    needs = _scopes_topics_need(schema)
    assert {"orders/paid", "customers/create", "refunds/create", "orders/fulfilled"} <= set(needs)
    for topic, scopes in needs.items():
        assert not scopes or scopes & granted, (topic, scopes, granted)
    by_topics = {min(scopes & granted) for scopes in needs.values() if scopes}
    # Beyond the topics: discountCodeBasicCreate (the personal and reward codes) and the storefront proxy.
    assert granted == by_topics | {"write_discounts", "write_app_proxy"}, granted
    assert not any(s.startswith("write_") for s in granted - {"write_discounts", "write_app_proxy"})
