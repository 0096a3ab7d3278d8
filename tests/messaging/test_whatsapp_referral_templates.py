"""WhatsApp for the Referral Generation Flow (issue 11): each referral step has its own template per
language, created and submitted through Twilio's Content API with the recovery ones and listed with
their approval state; a referral step on WhatsApp waits for nothing else: without its approved template
it is skipped with the reason, with it the send job sends the template (content sid and variables)
through the real Twilio SDK to the development Twilio, which checks every request against Twilio's
OpenAPI specs (the twilio_store fixture fails the test on any refused request)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from shop_app.messaging import whatsapp_templates
from shop_app.storage.database import transaction
from tests.jobs import test_twilio_channel
from tests.jobs.test_twilio_channel import approve_all_templates, templates
from tests.tokens import session_token

twilio_store = test_twilio_channel.twilio_store  # the demo shop with its Twilio account (a fixture)

PHONE = "+34600111222"
MADRID = ZoneInfo("Europe/Madrid")
#: Review and invite by WhatsApp only; no social mention.
WHATSAPP_STEPS = {
    "referral": {
        "review": {"channels": ["whatsapp"]},
        "social": {"enabled": False},
        "invite": {"channels": ["whatsapp"]},
    }
}


def start(store) -> None:
    """Ana (SMS marketing consent at her checkout, which WhatsApp rests on) pays #1001; it is fulfilled."""
    store.deliver("checkouts/create", store.checkout("c1", "2026-03-02T18:00:00+01:00", phone=PHONE))
    order = store.order("c1", "2026-03-02T19:00:00+01:00", id=9001, name="#1001", phone=PHONE)
    order["customer"] = {"id": 7001, "email": "ana@example.com", "first_name": "Ana"}
    store.deliver("orders/paid", order)
    store.deliver("orders/fulfilled", {"id": 9001, "updated_at": "2026-03-03T10:00:00Z"})


def referral_row(store, step: str) -> dict:
    return store.message(flow="referral", step=step, channel="whatsapp")


def template_sid(store, key: str, language: str = "en") -> str:
    [found] = [t for t in templates(store) if (t["key"], t["language"]) == (key, language)]
    return found["content_sid"]


def next_morning(now: datetime) -> datetime:
    """10:00 in Madrid, the day after `now`: inside the delivery window."""
    local = (now.astimezone(MADRID) + timedelta(days=1)).replace(hour=10, minute=0, second=0, microsecond=0)
    return local.astimezone(UTC)


def test_every_referral_step_has_a_template_per_language_listed_with_its_state(twilio_store) -> None:
    names = {(n.key, n.language): n.friendly_name for n in whatsapp_templates.needed()}
    for step in ("review", "social", "invite", "reward"):
        for language in ("en", "es"):
            assert names[(step, language)] == f"reclaim_referral_{step}_{language}"
    listed = {t["name"]: t["status"] for t in templates(twilio_store)}
    assert listed["reclaim_referral_invite_en"] == "not created" and listed["reclaim_whatsapp_en"] == "not created"


def test_the_channels_page_lists_the_referral_templates_with_their_approval(twilio_store, twilio_api) -> None:
    store = twilio_store
    approve_all_templates(store, twilio_api)
    settings = store.rt.settings
    token = session_token(store.domain, secret=settings.shopify_api_secret, api_key=settings.shopify_api_key)
    page = store.client.get(
        f"/settings/channels?shop={store.domain}&id_token={token}", headers={"Accept": "text/html"}
    ).get_data(as_text=True)
    for step in ("review", "social", "invite", "reward"):
        for language in ("en", "es"):
            row = re.search(rf'data-template="reclaim_referral_{step}_{language}">(.*?)</s-table-row>', page, re.S)
            assert row and ">approved</s-badge>" in row.group(1), (step, language)


def test_referral_steps_wait_for_their_approved_template_then_send_it(twilio_store, twilio_api) -> None:
    store = twilio_store
    store.set_settings(WHATSAPP_STEPS)
    start(store)
    store.tick("2026-03-06T10:01:00+00:00")  # the review, 3 days after the fulfilment (11:01 in Madrid)
    review = referral_row(store, "review")
    assert review["status"] == "skipped"
    assert review["reason"] == (
        "needs connection: WhatsApp template review (en) is not created; "
        "only templates WhatsApp approved may start a conversation"
    )
    assert twilio_api.messages == []  # never free-form text

    approve_all_templates(store, twilio_api)  # created, submitted and approved through the Content API
    store.tick("2026-03-10T10:01:00+00:00")  # the invite, 2 + 2 days after the review (social is off)
    invite = referral_row(store, "invite")
    assert invite["status"] == "sent", invite
    [sent] = twilio_api.messages
    assert sent.params["To"] == f"whatsapp:{PHONE}" and "Body" not in sent.params
    assert sent.params["ContentSid"] == template_sid(store, "invite")
    [code] = [d.input["code"] for d in store.admin_api.discounts(store.domain)]
    values = json.loads(sent.params["ContentVariables"])
    assert values == {
        "1": "Ana",
        "2": "Demo Shop",
        "3": f"https://{store.domain}/discount/{code}",  # the link to pass on, not our click counter
        "4": code,
        "5": "10% off their first order",
    }
    assert invite["body"].startswith(f"Hi Ana, Demo Shop here. Share your personal code {code} with your friends")

    # A friend's first order with Ana's code: her reward goes out by the invite's channel, as its template.
    friend = store.order(None, "2026-03-11T12:00:00+01:00", id=9501, name="#1501", email="bea@example.com")
    friend.update(customer={"id": 7501, "email": "bea@example.com"}, discount_codes=[{"code": code}])
    store.deliver("orders/paid", friend)
    store.tick(next_morning(datetime.now(UTC)))  # the reward is planned at the ingest's wall-clock time
    reward = referral_row(store, "reward")
    assert reward["status"] == "sent", reward
    sent = twilio_api.messages[-1]
    assert sent.params["ContentSid"] == template_sid(store, "reward")
    values = json.loads(sent.params["ContentVariables"])
    [reward_code] = [d.input["code"] for d in store.admin_api.discounts(store.domain) if d.input["code"] != code]
    assert (values["4"], values["5"]) == (reward_code, "10% off") and values["6"]
    assert set(values) == {"1", "2", "3", "4", "5", "6"}
    assert store.links(values["3"]) == [f"https://{store.domain}"]  # the shop, through our click counter
    assert f"with code {reward_code}, valid until {values['6']}." in reward["body"]


def test_a_template_whatsapp_has_not_approved_yet_skips_the_step_with_its_state(twilio_store, twilio_api) -> None:
    store = twilio_store
    store.set_settings(WHATSAPP_STEPS)
    start(store)
    approve_all_templates(store, twilio_api)
    twilio_api.set_approval(template_sid(store, "review"), "rejected", reason="INVALID_FORMAT")
    with_state = whatsapp_templates.refresh(store.rt.sessions, _transport(store), store.shop_id, datetime.now(UTC))
    assert {t["name"]: t["status"] for t in with_state}["reclaim_referral_review_en"] == "rejected"
    store.tick("2026-03-06T10:01:00+00:00")
    review = referral_row(store, "review")
    assert review["status"] == "skipped" and "WhatsApp template review (en) is rejected" in review["reason"]
    assert twilio_api.messages == []


def test_referral_variables_fill_only_what_each_body_uses() -> None:
    for step, used in {"review": 3, "social": 3, "invite": 5, "reward": 6}.items():
        for language in ("en", "es"):
            values = whatsapp_templates.referral_variables(
                step, language, first_name="", shop_name="Demo Shop", link="https://x.example", code="C-1",
                value="10% off", expiry=None,
            )  # fmt: skip
            assert sorted(values) == [str(n) for n in range(1, used + 1)], (step, language)
            assert all(v.strip() for v in values.values())  # WhatsApp refuses an empty value
            text = whatsapp_templates.render(step, language, values)
            assert "{{" not in text and ("STOP" in text or "BAJA" in text)


def _transport(store):
    with transaction(store.rt.sessions) as session:
        return store.rt.transports.twilio(session, store.shop_id)
