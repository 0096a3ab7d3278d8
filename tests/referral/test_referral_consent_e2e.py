"""Consent and suppression in the referral flow (issue 11, point 3: "SMS/WhatsApp/push only with that
channel's consent"; product rule 4), through the real webhook routes, unsubscribe link, dispatcher and
send job: a shop that mails subscribers only skips the review of a buyer who did not subscribe; a
one-click unsubscribe from the review email skips the social mention and the invite; a push step
without a browser subscription and a WhatsApp step without phone marketing consent are skipped with
their reasons while the email of the same step goes out. Each skip has the reason a merchant reads."""

from __future__ import annotations

from urllib.parse import urlsplit

from tests.jobs import test_twilio_channel
from tests.jobs.test_twilio_channel import approve_all_templates
from tests.referral.e2e import ANA, ana_pays, steps

twilio_store = test_twilio_channel.twilio_store  # the demo shop with its Twilio account (a fixture)
ONE_CLICK = {"data": "List-Unsubscribe=One-Click", "content_type": "application/x-www-form-urlencoded"}


def test_a_shop_mailing_subscribers_only_skips_a_buyer_who_did_not_subscribe(store) -> None:
    store.set_settings({"consent": {"email": "subscribers_only"}})
    ana_pays(store, fulfilled="2026-03-03T10:00:00Z", buyer_accepts_marketing=False)
    store.tick("2026-03-06T10:01:00+00:00")
    review = steps(store)["review"]
    assert review["status"] == "skipped"
    assert review["reason"] == "no consent: not subscribed to email marketing (shop sends to subscribers only)"
    assert store.outbox() == []


def test_a_buyer_who_subscribed_with_her_order_is_mailed_by_a_subscribers_only_shop(store) -> None:
    store.set_settings({"consent": {"email": "subscribers_only"}})
    ana_pays(store, checkout=None, fulfilled="2026-03-03T10:00:00Z", buyer_accepts_marketing=True)
    store.tick("2026-03-06T10:01:00+00:00")
    assert steps(store)["review"]["status"] == "sent"


def test_a_buyer_who_ticked_the_box_before_paying_is_mailed_by_a_subscribers_only_shop(store) -> None:
    store.set_settings({"consent": {"email": "subscribers_only"}})
    ana_pays(store, fulfilled="2026-03-03T10:00:00Z", buyer_accepts_marketing=True)  # unticked at checkouts/create
    store.tick("2026-03-06T10:01:00+00:00")
    review = steps(store)["review"]
    assert review["status"] == "sent", review["reason"]


def test_an_unsubscribe_from_the_review_email_skips_the_social_mention_and_the_invite(store, client) -> None:
    ana_pays(store, fulfilled="2026-03-03T10:00:00Z")
    store.tick("2026-03-06T10:01:00+00:00")
    [review] = store.outbox()
    assert review["to"] == ANA and review["unsubscribe_url"]
    response = client.post(urlsplit(review["unsubscribe_url"]).path, **ONE_CLICK)  # as a mail client does
    assert response.status_code == 200
    store.tick("2026-03-08T10:01:00+00:00")
    store.tick("2026-03-10T10:01:00+00:00")
    rows = steps(store)
    assert rows["review"]["status"] == "sent"
    for step in ("social", "invite"):
        assert (rows[step]["status"], rows[step]["reason"]) == ("skipped", "suppressed: unsubscribed by one-click link")
    assert len(store.outbox()) == 1


def test_a_push_step_without_a_browser_subscription_is_skipped_while_its_email_goes(store) -> None:
    store.set_settings({"referral": {"review": {"channels": ["email", "push"]}}})
    ana_pays(store, fulfilled="2026-03-03T10:00:00Z")
    store.tick("2026-03-06T10:01:00+00:00")
    email = store.message(flow="referral", step="review", channel="email")
    push = store.message(flow="referral", step="review", channel="push")
    assert email["status"] == "sent"
    assert (push["status"], push["reason"]) == ("skipped", "no consent: no browser push subscription")


def test_a_whatsapp_step_without_phone_marketing_consent_is_skipped(twilio_store, twilio_api) -> None:
    store = twilio_store
    store.set_settings({"referral": {"review": {"channels": ["whatsapp", "email"]}}})
    approve_all_templates(store, twilio_api)
    checkout = store.checkout("c1", "2026-03-02T18:00:00+01:00", email=ANA, phone="+34600111222")
    checkout.update(buyer_accepts_sms_marketing=False, sms_marketing_phone=None)  # she did not tick the box
    store.deliver("checkouts/create", checkout)
    ana_pays(store, checkout=None, fulfilled="2026-03-03T10:00:00Z")
    store.tick("2026-03-06T10:01:00+00:00")
    whatsapp = store.message(flow="referral", step="review", channel="whatsapp")
    assert (whatsapp["status"], whatsapp["reason"]) == ("skipped", "no consent: no phone marketing consent")
    assert store.message(flow="referral", step="review", channel="email")["status"] == "sent"
    assert twilio_api.messages == []
