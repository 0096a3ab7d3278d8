"""A review or social step's optional incentive (issue 11, point 3): `referral.<step>.incentive`, null by
default, {"percent": 1-50, "expiry_days": 1-365} when the merchant sets it. Through the real webhooks,
dispatcher, send job and the development Admin API (which validates every GraphQL document): the review
with a 15 % incentive makes one unique single-use code for Ana's customer, its email shows it, and a run
whose Admin API answers were all lost, the next run and the send job run again after the send make no
second code; the social step without an incentive makes none and says nothing of a code; a merchant's own
review template gets the code as `discount_code`; bad incentives answer 422 / exit 2 naming their fields."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from jobs.send import send_message
from shop_app.adapters.shopify_admin import RetryPolicy
from shop_app.storage.database import transaction
from shop_app.storage.tables import Discount, Message
from tests.referral.e2e import ANA, ana_pays, reclaim, settings_set_refuses
from tests.tokens import session_token

CREATE = "DiscountCodeBasicCreate"
TRIES = RetryPolicy().max_attempts  # the Admin API client's tries within one run
REVIEW_DUE = "2026-03-06T10:01:00+00:00"  # fulfilled 03-03 10:00 + 3 days, inside Madrid's window
SOCIAL_DUE = "2026-03-08T10:01:00+00:00"
THANKS = {"review": {"incentive": {"percent": 15, "expiry_days": 20}}}


@pytest.fixture
def shop(store):
    store.rt.admin_sleep = lambda seconds: None  # the Admin client's backoff between its own tries
    return store


@pytest.fixture
def bearer(rt, store) -> dict[str, str]:
    token = session_token(store.domain, api_key=rt.settings.shopify_api_key, secret=rt.settings.shopify_api_secret)
    return {"Authorization": f"Bearer {token}"}


def _mails(store, subject_part: str) -> list[dict]:
    return [m for m in store.outbox() if m["to"] == ANA and subject_part in (m.get("subject") or "")]


def _review_mail(store) -> dict:
    [mail] = _mails(store, "How did we do?")
    return mail


def _social_mail(store) -> dict:
    [mail] = _mails(store, "Show it off!")
    return mail


def test_a_review_with_an_incentive_carries_one_code_made_once_whatever_the_retries(shop, admin_api) -> None:
    shop.set_settings({"referral": THANKS})
    ana_pays(shop, fulfilled="2026-03-03T10:00:00Z")
    admin_api.inject_status(500, count=TRIES, after_processing=True, operation=CREATE)  # every answer of a run lost
    shop.tick(REVIEW_DUE)
    review = shop.message(flow="referral", step="review")
    assert review["status"] == "scheduled" and "waiting for the referral code" in review["reason"], review
    assert _mails(shop, "How did we do?") == []
    assert len(admin_api.discounts(shop.domain)) == 1  # Shopify made it; we never heard

    shop.tick("2026-03-06T10:31:00+00:00")  # the next run asks for the same code and finds it
    assert shop.message(flow="referral", step="review")["status"] == "sent"
    [discount] = admin_api.discounts(shop.domain)
    code, given = discount.code, discount.input
    assert code.startswith("THANKS-")
    assert given["customerGets"]["value"] == {"percentage": 0.15}
    assert given["usageLimit"] == 1 and given["context"] == {"customers": {"add": ["gid://shopify/Customer/7001"]}}
    ends = datetime.fromisoformat(given["endsAt"].replace("Z", "+00:00"))
    assert ends == datetime.fromisoformat(REVIEW_DUE) + timedelta(days=20)  # from the first reservation
    mail = _review_mail(shop)
    assert code in mail["body"] and "15% off" in mail["body"] and "A little thank-you" in mail["body"]
    assert code in mail["html"] and "valid until Mar 26" in mail["body"]

    with transaction(shop.rt.sessions) as session:  # the same send job run once more, after the send
        message_id, job_id = session.execute(
            select(Message.id, Message.job_id).where(Message.step == "review", Message.channel == "email")
        ).one()
        [(row_code, shopify_id)] = session.execute(select(Discount.code, Discount.shopify_id)).all()
    send_message(message_id, job_id, "2026-03-06T10:40:00+00:00")
    assert len(admin_api.discounts(shop.domain)) == 1 and (row_code, shopify_id) == (code, discount.id)
    assert len(_mails(shop, "How did we do?")) == 1

    shop.tick(SOCIAL_DUE)  # social has no incentive: no code, the usual text
    assert shop.message(flow="referral", step="social")["status"] == "sent"
    assert len(admin_api.discounts(shop.domain)) == 1
    social = _social_mail(shop)
    assert "THANKS-" not in social["body"] and "A little thank-you" not in social["body"]


def test_without_an_incentive_no_step_before_the_invite_makes_a_code_and_the_texts_say_none(shop, admin_api) -> None:
    ana_pays(shop, fulfilled="2026-03-03T10:00:00Z")
    shop.tick(REVIEW_DUE)
    shop.tick(SOCIAL_DUE)
    assert shop.message(flow="referral", step="review")["status"] == "sent"
    assert shop.message(flow="referral", step="social")["status"] == "sent"
    assert admin_api.discounts(shop.domain) == [] and admin_api.graphql_requests(CREATE, shop=shop.domain) == []
    for mail in (_review_mail(shop), _social_mail(shop)):
        assert "THANKS-" not in mail["body"] and "A little thank-you" not in mail["body"]


def test_social_with_an_incentive_in_spanish_formal(shop, admin_api) -> None:
    settings = {"tone": "formal", "referral": {"social": {"incentive": {"percent": 12.5}}}}
    shop.set_settings(settings)
    ana_pays(shop, fulfilled="2026-03-03T10:00:00Z", customer_locale="es-ES")
    shop.tick(REVIEW_DUE)
    assert admin_api.discounts(shop.domain) == []  # the review has none
    shop.tick(SOCIAL_DUE)
    [discount] = admin_api.discounts(shop.domain)
    assert discount.input["customerGets"]["value"] == {"percentage": 0.125}
    ends = datetime.fromisoformat(discount.input["endsAt"].replace("Z", "+00:00"))
    assert ends == datetime.fromisoformat(SOCIAL_DUE) + timedelta(days=30)  # expiry_days' default
    [mail] = _mails(shop, "comparta su experiencia")
    assert f"utilice el código {discount.code} para obtener 12.5 % de descuento, válido hasta el" in mail["body"]


def test_a_merchants_own_review_template_gets_the_code_as_discount_code(shop, admin_api, client, bearer) -> None:
    own = {
        "subject": "Thanks from {{ shop_name }}",
        "body": "Review us: {{ review_link }}{% if discount_code %} Your gift: {{ discount_code }} "
        "({{ discount_value }}){% endif %} Unsubscribe: {{ unsubscribe_link }}",
        "html": None,
    }
    saved = client.put("/api/templates/review/email/en", json=own, headers=bearer)
    assert saved.status_code == 200, saved.get_json()
    shop.set_settings({"referral": THANKS})
    ana_pays(shop, fulfilled="2026-03-03T10:00:00Z")
    shop.tick(REVIEW_DUE)
    [discount] = admin_api.discounts(shop.domain)
    [mail] = _mails(shop, "Thanks from Demo Shop")
    assert f"Your gift: {discount.code} (15% off)" in mail["body"]


# --- the settings ---------------------------------------------------------------------------------

BAD = {
    "review": {"incentive": {"percent": 60, "expiry_days": 0}},
    "social": {"incentive": {"expiry_days": 10, "colour": "red"}},
    "invite": {"incentive": {"percent": 10}},
}
BAD_FIELDS = {
    "referral.review.incentive.percent",
    "referral.review.incentive.expiry_days",
    "referral.social.incentive.percent",  # required
    "referral.social.incentive.colour",
    "referral.invite.incentive",  # the invite's code is its incentive
}


def test_put_api_settings_answers_422_naming_each_bad_incentive_field(store, client, bearer) -> None:
    before = client.get("/api/settings", headers=bearer).get_json()["settings"]
    assert before["referral"]["review"]["incentive"] is None and before["referral"]["social"]["incentive"] is None
    response = client.put("/api/settings", json={**before, "referral": BAD}, headers=bearer)
    assert response.status_code == 422, response.get_json()
    assert {e["field"] for e in response.get_json()["errors"]} == BAD_FIELDS
    for bad in ("a lot", 0, 50.001, True, {"x": 1}):
        refused = client.put("/api/settings", json={**before, "referral": {"review": {"incentive": {"percent": bad}}}},
                             headers=bearer)  # fmt: skip
        assert refused.status_code == 422, (bad, refused.get_json())
        assert [e["field"] for e in refused.get_json()["errors"]] == ["referral.review.incentive.percent"], bad
    assert client.get("/api/settings", headers=bearer).get_json()["settings"] == before

    good = {**before, "referral": {"social": {"incentive": {"percent": 50, "expiry_days": 365}}}}
    assert client.put("/api/settings", json=good, headers=bearer).status_code == 200
    shown = client.get("/api/settings", headers=bearer).get_json()["settings"]["referral"]
    assert shown["social"]["incentive"] == {"percent": 50, "expiry_days": 365} and shown["review"]["incentive"] is None


def test_reclaim_settings_set_exits_2_naming_each_bad_incentive_field_and_takes_a_good_one(store, tmp_path) -> None:
    document, path = settings_set_refuses(store, tmp_path, BAD, BAD_FIELDS)

    document["referral"] = {"review": {"incentive": {"percent": 15}}}
    path.write_text(json.dumps(document))
    taken = reclaim("settings", "set", store.domain, str(path))
    assert taken.exit_code == 0, taken.output
    shown = json.loads(reclaim("settings", "show", store.domain).output)["referral"]
    assert shown["review"]["incentive"] == {"percent": 15, "expiry_days": 30}


def test_the_incentive_ends_from_the_first_reservation_not_the_retry(shop, admin_api) -> None:
    """Shopify down for a whole run before anything was made: the retry an hour later still ends the
    code 20 days after the first reservation, as the message promises."""
    shop.set_settings({"referral": THANKS})
    ana_pays(shop, fulfilled="2026-03-03T10:00:00Z")
    admin_api.inject_status(503, count=TRIES, operation=CREATE)
    shop.tick(REVIEW_DUE)
    assert shop.message(flow="referral", step="review")["status"] == "scheduled"
    assert admin_api.discounts(shop.domain) == []
    shop.tick(datetime.fromisoformat(REVIEW_DUE).astimezone(UTC) + timedelta(minutes=31))
    [discount] = admin_api.discounts(shop.domain)
    ends = datetime.fromisoformat(discount.input["endsAt"].replace("Z", "+00:00"))
    assert ends == datetime.fromisoformat(REVIEW_DUE) + timedelta(days=20)
    assert discount.code in _review_mail(shop)["body"]
