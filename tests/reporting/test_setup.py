"""The setup guide: each item is read from the shop's real state, and turns done when that state changes."""

from __future__ import annotations

import copy

from shop_app.adapters.twilio_messaging import TwilioAccount
from shop_app.channels.accounts import save_twilio
from shop_app.domain.settings import ShopSettings
from shop_app.messaging import whatsapp_templates
from shop_app.reporting import setup
from shop_app.shopify.shops import install_shop, save_settings
from shop_app.storage.channel_tables import ContentTemplate
from shop_app.storage.database import transaction
from shop_app.storage.tables import PushSubscription, Shop

DOMAIN = "setup-shop.myshopify.com"
OTHER = "other-setup-shop.myshopify.com"
ACCOUNT = TwilioAccount(account_sid="AC" + "1" * 32, auth_token="t" * 32, from_number="+14155550100")
PRIME_OFFER = {"recovery": {"prime": {"incentive": {"type": "percentage", "value": 15, "code_mode": "unique"}}}}


def install(rt, domain: str = DOMAIN) -> int:
    with transaction(rt.sessions) as session:
        shop = install_shop(session, rt.box, domain, "shpat_x", name="Casa Lino", timezone="Europe/Madrid")
        shop.email = "owner@casa-lino.example"
        return shop.id


def guide(rt, shop_id: int, settings=None) -> dict[str, setup.SetupItem]:
    with transaction(rt.sessions) as session:
        items = setup.setup_guide(session, session.get(Shop, shop_id), settings or rt.settings)
    return {item.key: item for item in items}


def done(items: dict[str, setup.SetupItem]) -> dict[str, bool]:
    return {key: item.done for key, item in items.items()}


def in_session(rt, shop_id: int, change) -> None:
    with transaction(rt.sessions) as session:
        change(session, session.get(Shop, shop_id))


def test_a_new_shop_has_everything_to_do_and_says_why(rt):
    items = guide(rt, install(rt))
    assert list(items) == [
        setup.EMAIL,
        setup.TWILIO,
        setup.WHATSAPP_TEMPLATES,
        setup.PUSH_EMBED,
        setup.WINDOWS,
        setup.PRIME_INCENTIVE,
    ]
    assert not any(done(items).values())
    assert "development outbox" in items[setup.EMAIL].status  # the tests send email to a file
    assert "Connect Twilio first" in items[setup.WHATSAPP_TEMPLATES].status
    assert "cannot read the theme" in items[setup.PUSH_EMBED].status
    assert "default hours" in items[setup.WINDOWS].status


def test_each_item_turns_done_from_the_state_that_proves_it(rt):
    shop_id, other_id = install(rt), install(rt, OTHER)
    in_session(rt, shop_id, lambda s, shop: save_twilio(s, rt.box, shop.id, ACCOUNT))
    in_session(rt, shop_id, lambda s, shop: save_settings(s, shop, copy.deepcopy(PRIME_OFFER)))
    in_session(rt, shop_id, lambda s, shop: s.add(subscription(shop.id)))
    smtp = rt.settings.with_overrides(smtp_url="smtp://mail.example:587")
    items = guide(rt, shop_id, smtp)
    assert done(items) == {
        setup.EMAIL: True,
        setup.TWILIO: True,
        setup.WHATSAPP_TEMPLATES: False,  # connected, none submitted yet
        setup.PUSH_EMBED: True,
        setup.WINDOWS: True,
        setup.PRIME_INCENTIVE: True,
    }
    assert items[setup.EMAIL].status == (
        "Emails go out through SMTP as “Casa Lino”; replies go to owner@casa-lino.example."
    )
    assert items[setup.TWILIO].status == "Connected: SMS from +14155550100, no WhatsApp sender."
    assert items[setup.PUSH_EMBED].status == "1 shopper has subscribed to reminders from the storefront."
    assert items[setup.PRIME_INCENTIVE].status == "15% off, 16 h after abandonment, by SMS and WhatsApp."
    # Only the email provider is the app's; nothing of this shop's state counts for the other shop.
    assert done(guide(rt, other_id, smtp)) == {key: key == setup.EMAIL for key in items}


def test_whatsapp_templates_are_done_when_every_one_the_steps_use_is_approved(rt):
    shop_id = install(rt)
    in_session(rt, shop_id, lambda s, shop: save_twilio(s, rt.box, shop.id, ACCOUNT))
    needed = whatsapp_templates.needed()
    # By default the recovery flow's WhatsApp and Prime steps send WhatsApp; the referral steps email.
    recovery = [item for item in needed if item.key.split("+")[0] in ("whatsapp", "prime")]
    assert 0 < len(recovery) < len(needed)

    def add_templates(session, shop, status_of) -> None:
        for n, item in enumerate(needed):
            session.add(
                ContentTemplate(
                    shop_id=shop.id,
                    step=item.key,
                    language=item.language,
                    content_sid=f"HX{n:032d}",
                    approval_status=status_of(item),
                )
            )

    first = recovery[0]
    in_session(rt, shop_id, lambda s, shop: add_templates(s, shop, lambda i: "rejected" if i == first else "approved"))
    item = guide(rt, shop_id)[setup.WHATSAPP_TEMPLATES]
    assert (item.done, item.status) == (False, f"{len(recovery) - 1} of {len(recovery)} approved, 1 rejected.")

    def set_status(status: str, key: str | None = None, language: str | None = None):
        def change(session, shop) -> None:
            for row in session.query(ContentTemplate).filter_by(shop_id=shop.id):
                if key is None or (row.step, row.language) == (key, language):
                    row.approval_status = status

        return change

    in_session(rt, shop_id, set_status("approved"))
    in_session(rt, shop_id, set_status("rejected", "review", "en"))
    item = guide(rt, shop_id)[setup.WHATSAPP_TEMPLATES]
    assert (item.done, item.status) == (True, f"{len(recovery)} of {len(recovery)} approved.")  # review emails

    document = {"referral": {"review": {"channels": ["email", "whatsapp"]}}}
    in_session(rt, shop_id, lambda s, shop: save_settings(s, shop, document))
    item = guide(rt, shop_id)[setup.WHATSAPP_TEMPLATES]
    with_review = len(recovery) + 2  # the review's English and Spanish templates
    assert (item.done, item.status) == (False, f"{with_review - 1} of {with_review} approved, 1 rejected.")


def test_the_reward_needs_its_template_when_the_invite_sends_whatsapp():
    def steps(referral: dict) -> frozenset[str]:
        recovery = {"whatsapp": {"enabled": False}, "prime": {"enabled": False}}
        document = {"recovery": recovery, "referral": referral}
        return setup.whatsapp_steps(ShopSettings.from_document(document, shop_timezone="UTC"))

    assert steps({}) == frozenset()
    assert steps({"invite": {"channels": ["whatsapp"]}}) == {"invite", "reward"}
    assert steps({"invite": {"channels": ["whatsapp"]}, "reward": {"enabled": False}}) == {"invite"}
    assert steps({"enabled": False, "invite": {"channels": ["whatsapp"]}}) == frozenset()


def test_templates_are_not_needed_when_no_step_sends_whatsapp(rt):
    shop_id = install(rt)
    document = {"recovery": {"whatsapp": {"enabled": False}, "prime": {"channels": ["sms"]}}}
    in_session(rt, shop_id, lambda s, shop: save_settings(s, shop, document))
    item = guide(rt, shop_id)[setup.WHATSAPP_TEMPLATES]
    assert (item.done, item.status) == (True, "Not needed: no flow step sends WhatsApp.")


def test_saved_settings_without_a_prime_offer_leave_the_incentive_to_do(rt):
    shop_id = install(rt)
    in_session(rt, shop_id, lambda s, shop: save_settings(s, shop, {}))
    items = guide(rt, shop_id)
    assert (items[setup.WINDOWS].done, items[setup.PRIME_INCENTIVE].done) == (True, False)
    in_session(rt, shop_id, lambda s, shop: save_settings(s, shop, {"recovery": {"prime": {"enabled": False}}}))
    assert guide(rt, shop_id)[setup.PRIME_INCENTIVE].status == "Prime (the second stimulus) is switched off."


def subscription(shop_id: int) -> PushSubscription:
    return PushSubscription(
        shop_id=shop_id,
        cart_token="cart-1",
        endpoint="https://fcm.googleapis.com/fcm/send/abc",
        endpoint_hash="h" * 64,
        p256dh="k" * 87,
        auth="a" * 22,
    )
