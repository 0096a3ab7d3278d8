"""Phone numbers are read into E.164 with the shop's country as the default region (issue 9, item 7):
extensions dropped, trunk prefixes handled, invalid numbers refused with a reason that never
repeats the number."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, update

from shop_app.domain.models import Checkout, Order
from shop_app.recovery.contacts import accepted, accepted_order, phone_region
from shop_app.recovery.phones import NO_REGION, read_phone, region_code
from shop_app.storage.database import transaction
from shop_app.storage.tables import CheckoutRow, Consent, OrderRow, Profile, Shop
from tests.support import ShopifyStore

ABANDONED = "2026-03-02T19:00:00+01:00"
UPDATED = datetime(2026, 3, 2, 18, 0, tzinfo=UTC)


# --- the parser --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "region", "number"),
    [
        ("+49 30 1234567 ext. 8", None, "+49301234567"),  # the extension is dropped, not appended
        ("+49 30 1234567 ext. 8", "GB", "+49301234567"),  # "+" wins over the default region
        ("+44 (0)20 7946 0958", None, "+442079460958"),  # the written trunk zero goes
        ("+44 (0)20 7946 0958", "US", "+442079460958"),
        ("020 7946 0958", "GB", "+442079460958"),
        ("020 7946 0958", "gb", "+442079460958"),
        ("(415) 555-2671", "US", "+14155552671"),
        ("030 1234567", "DE", "+49301234567"),
        ("0049 30 1234567", "DE", "+49301234567"),  # the region's international prefix
        ("06 12 34 56 78", "FR", "+33612345678"),
        ("+39 06 1234 5678", None, "+390612345678"),  # Italy keeps its leading zero
        ("+34600111222", None, "+34600111222"),
        ("+34 600-111 222", "ES", "+34600111222"),
        ("tel:+1-415-555-2671", None, "+14155552671"),
    ],
)
def test_numbers_read_into_e164(text, region, number):
    assert read_phone(text, region) == (number, None)


@pytest.mark.parametrize(
    ("text", "region", "reason"),
    [
        ("030 1234567", None, NO_REGION),  # a national number needs a country
        ("(415) 555-2671", None, NO_REGION),
        ("030 1234567", "XX", NO_REGION),  # an unknown region is no region
        ("123", "US", "too short for its country"),
        ("555-2671", "US", "a local number without its area code"),
        ("+49 1", None, "too short"),
        ("+1 555", None, "too short for its country"),
        ("+49 30 123456789012345678", None, "too long"),
        ("+1 (555) 010-9999", None, "not a valid number for country code +1"),  # 555 is no area code
        ("+44 7700 900123", None, "not a valid number for country code +44"),  # Ofcom's drama range
        ("+999 1234567", None, "unknown country calling code"),
        ("call me maybe", "DE", "not a phone number"),
        ("+49 30 1234567" + " " * 60, None, "too long"),
    ],
)
def test_refused_numbers_say_why_without_the_number(text, region, reason):
    number, why = read_phone(text, region)
    assert (number, why) == (None, reason)
    digits = "".join(c for c in text if c.isdigit())
    assert len(digits) < 6 or digits not in "".join(c for c in why if c.isdigit())


def test_region_code_takes_the_first_known_region():
    assert region_code(None, "", "ZZ", "de", "FR") == "DE"
    assert region_code(None, 49, "Germany") is None


def test_the_buyers_country_comes_first_and_the_shops_is_the_default():
    payload = {"billing_address": {"country_code": "FR"}, "shipping_address": {"country_code": "ES"}}
    assert phone_region("DE", payload) == "FR"  # a French buyer in a German shop types a French number
    assert phone_region(None, payload) == "FR"
    assert phone_region("DE", {"billing_address": None, "shipping_address": {"country_code": "es"}}) == "ES"
    assert phone_region("DE", {"billing_address": "Berlin"}) == "DE"
    assert phone_region("DE", {"billing_address": {"country_code": "ZZ"}}) == "DE"
    assert phone_region(None, None) is None


# --- checkouts and orders ----------------------------------------------------------------------


def test_a_checkout_keeps_its_numbers_in_e164():
    checkout = Checkout("t1", UPDATED, phone="020 7946 0958 ext. 12", sms_phone="07700 900 461")
    kept = accepted(
        Checkout("t1", UPDATED, phone="020 7946 0958", sms_phone="07911 123456", accepts_sms_marketing=True), "GB"
    )
    assert (kept.phone, kept.sms_phone, kept.accepts_sms_marketing) == ("+442079460958", "+447911123456", True)
    assert accepted(checkout, "GB").phone == "+442079460958"


def test_a_consent_for_a_refused_number_is_not_moved_to_the_contact_phone(caplog):
    checkout = Checkout("t1", UPDATED, phone="+34600111222", sms_phone="0612", accepts_sms_marketing=True)
    with caplog.at_level(logging.INFO, logger="shop_app.recovery.phones"):
        kept = accepted(checkout, "ES")
    assert (kept.phone, kept.sms_phone, kept.accepts_sms_marketing) == ("+34600111222", None, False)
    assert kept.marketing_phone == "+34600111222"  # still a contact phone, without the SMS consent
    [record] = caplog.records
    assert record.getMessage() == "checkout sms_marketing_phone dropped: too short for its country"
    assert "0612" not in caplog.text


def test_without_a_region_only_international_numbers_are_kept():
    checkout = Checkout("t1", UPDATED, phone="600 111 222", sms_phone="+34 600 111 222", accepts_sms_marketing=True)
    kept = accepted(checkout)
    assert (kept.phone, kept.sms_phone, kept.accepts_sms_marketing) == (None, "+34600111222", True)


def test_an_order_keeps_its_phone_in_e164():
    order = Order("1", UPDATED, phone="(415) 555-2671")
    assert accepted_order(order, "US").phone == "+14155552671"
    assert accepted_order(order, None).phone is None
    assert accepted_order(Order("1", UPDATED), "US").phone is None


# --- through the webhooks ----------------------------------------------------------------------


def set_country(store, country: str | None) -> None:
    with transaction(store.rt.sessions) as session:
        session.execute(update(Shop).where(Shop.domain == store.domain).values(country_code=country))


def stored(store, column):
    with transaction(store.rt.sessions) as session:
        return session.scalars(select(column)).all()


def test_a_national_number_is_stored_and_consented_in_e164_in_the_shops_country(store):
    set_country(store, "ES")
    store.deliver(
        "checkouts/create",
        store.checkout("c1", ABANDONED, phone="600 111 222", sms_marketing_phone="611 000 001", customer=None),
    )
    assert stored(store, CheckoutRow.phone) == ["+34600111222"]
    assert stored(store, CheckoutRow.sms_phone) == ["+34611000001"]
    with transaction(store.rt.sessions) as session:
        assert session.scalars(select(Consent.address).where(Consent.channel == "sms")).all() == ["+34611000001"]
    assert stored(store, Profile.phone) == ["+34600111222"]


def test_without_the_shops_country_the_address_country_reads_the_number(store):
    payload = store.checkout("c1", ABANDONED, phone="07911 123456", customer=None)
    payload["billing_address"] = {"first_name": "Ana", "country_code": "GB"}
    store.deliver("checkouts/create", payload)
    assert stored(store, CheckoutRow.sms_phone) == ["+447911123456"]
    payload = store.checkout("c2", ABANDONED, phone="07911 123457", customer=None, billing_address=None)
    store.deliver("checkouts/create", payload)  # no country anywhere: the national number is refused
    with transaction(store.rt.sessions) as session:
        row = session.scalar(select(CheckoutRow).where(CheckoutRow.token == "c2"))
        assert (row.phone, row.sms_phone, row.accepts_sms_marketing) == (None, None, False)


def test_an_order_written_nationally_converts_the_journey_of_the_same_phone(store):
    set_country(store, "US")
    store.deliver("checkouts/create", store.checkout("c1", ABANDONED, phone="+1 415 555 2671", customer=None))
    order = store.order(None, "2026-03-02T19:30:00+01:00", phone="(415) 555-2671", email=None, customer=None)
    store.deliver("orders/create", order)
    assert stored(store, OrderRow.phone) == ["+14155552671"]
    assert {m["status"] for m in store.messages()} == {"cancelled"}


def test_the_setup_job_reads_the_shops_country(rt, client, admin_api):
    from shop_app.adapters.shopify_oauth import OfflineToken
    from shop_app.shopify.post_install import complete_install
    from shop_app.shopify.shops import get_shop

    domain = "new-shop.myshopify.com"
    admin_api.add_shop(domain, country_code="DE")
    admin_api.add_customer(domain, first_name="Old", phone="030 1234567", created_at=datetime(2025, 1, 1, tzinfo=UTC))
    token = OfflineToken(admin_api.issue_token(domain), "read_customers", None, None, None)
    complete_install(rt, domain, token, UPDATED)
    ShopifyStore(rt, client, domain).drain()
    with transaction(rt.sessions) as session:
        assert get_shop(session, domain).country_code == "DE"
        assert session.scalars(select(Profile.phone)).all() == ["+49301234567"]


def test_the_cli_takes_the_shops_country(rt, admin_api):
    from click.testing import CliRunner

    from shop_app.cli.commands import main

    run = CliRunner().invoke
    token = admin_api.issue_token("acme.myshopify.com")  # the install tries the token on the Admin API
    done = run(main, ["shop", "install", "acme.myshopify.com", "--token", token, "--country", "de"])
    assert done.exit_code == 0 and "installed acme.myshopify.com (Acme, UTC, USD, DE)" in done.output
    refused = run(main, ["shop", "install", "acme.myshopify.com", "--token", token, "--country", "Germany"])
    assert refused.exit_code == 2 and "two-letter ISO 3166 country code" in refused.output
