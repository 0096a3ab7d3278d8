"""/activity with referral journeys (issues 10 and 11), through the real webhooks, worker and pages:
a referral journey has no checkout, so the list names its triggering order and its advocate's contact;
every row shows the profile's origin (captured by what, or imported); the flow filter, the searches
(by the advocate's profile or by the triggering order) and the keyset pages take referral journeys as
they take recovery ones; a referral journey's page shows its review, social, invite and reward
messages with their reasons, the advocate's personal code and each reward decision."""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import select

from shop_app.storage.database import transaction
from shop_app.storage.tables import CheckoutRow, Journey, OrderRow
from tests.admin_ui.conftest import SHOP_A, SHOP_B
from tests.admin_ui.markup_spec import load_spec, markup_problems
from tests.admin_ui.pages.test_activity import button, listed, open_page, search
from tests.conftest import shared_path
from tests.support import ShopifyStore

ANA = {"email": "ana@example.com", "phone": "+34600111222", "customer_id": 7001, "first_name": "Ana"}
BEA = {"email": "bea@example.com", "phone": "+34600333444", "customer_id": 7002, "first_name": "Bea"}
#: Dora's checkout left only a phone; the email she paid with is on her order alone.
DORA = {"email": "dora@example.com", "phone": "+34600555666", "customer_id": 7004, "first_name": "Dora"}


def checkout_of(store, token: str, person: dict, at: str = "2026-03-02T18:00:00+01:00", **fields) -> dict:
    customer = {"id": person["customer_id"], "email": person["email"], "phone": person["phone"],
                "first_name": person["first_name"]}  # fmt: skip
    billing = {"first_name": person["first_name"], "city": "Madrid", "country_code": "ES"}
    values = {"email": person["email"], "phone": person["phone"], "customer": customer, "billing_address": billing}
    return store.checkout(token, at, **{**values, **fields})


def order_of(store, token: str | None, order_id: int, name: str, person: dict, at: str, **fields) -> dict:
    customer = {"id": person["customer_id"], "email": person["email"], "first_name": person["first_name"]}
    payload = store.order(token, at, id=order_id, name=name, email=person["email"], phone=person["phone"],
                          customer=customer, buyer_accepts_marketing=True)  # fmt: skip
    payload.update(fields)
    return payload


def ana_becomes_an_advocate(store) -> str:
    """Ana abandons c1 (captured by that checkout), pays #1001, which is fulfilled; the review, the
    social mention (email, and push, which she never subscribed to) and the invite follow. Her code."""
    store.set_settings({"referral": {"social": {"channels": ["email", "push"]}}})
    store.deliver("checkouts/create", checkout_of(store, "c1", ANA))
    store.deliver("orders/paid", order_of(store, "c1", 9001, "#1001", ANA, "2026-03-02T19:00:00+01:00"))
    store.deliver("orders/fulfilled", {"id": 9001, "updated_at": "2026-03-03T10:00:00Z"})
    for day in ("2026-03-06", "2026-03-08", "2026-03-10"):
        store.tick(f"{day}T10:01:00+00:00")
    invite = store.message(flow="referral", step="invite")
    assert invite["status"] == "sent", invite
    [code] = [d.input["code"] for d in store.admin_api.discounts(store.domain)]
    return code


def friends_order_with(store, code: str) -> None:
    """Bea's first order uses Ana's code (a reward); Ana's own second order uses it too (refused)."""
    bea = order_of(store, None, 9501, "#1501", BEA, "2026-03-11T12:00:00+01:00", discount_codes=[{"code": code}])
    store.deliver("orders/paid", bea)
    ana = order_of(store, None, 9502, "#1502", ANA, "2026-03-12T12:00:00+01:00", discount_codes=[{"code": code}])
    store.deliver("orders/paid", ana)


def journeys_by(rt, flow: str) -> dict[str, int]:
    """The shop's journeys of one flow: {checkout token or order name: journey id}."""
    with transaction(rt.sessions) as session:
        rows = session.execute(
            select(Journey.id, CheckoutRow.token, OrderRow.name)
            .outerjoin(CheckoutRow, CheckoutRow.id == Journey.checkout_id)
            .outerjoin(OrderRow, OrderRow.id == Journey.trigger_order_id)
            .where(Journey.flow == flow)
        ).all()
    return {token or name: journey_id for journey_id, token, name in rows}


def row_of(page: str, journey_id: int) -> str:
    found = re.search(rf'data-journey-id="{journey_id}"[^>]*>(.*?)</s-table-row>', page, re.S)
    assert found, f"journey {journey_id} is not listed"
    return html.unescape(re.sub(r"<[^>]+>", " ", found.group(1)))


@pytest.fixture
def advocate(store):
    """Ana's referral journey with a reward and a refusal, and Bea's own referral journey."""
    code = ana_becomes_an_advocate(store)
    friends_order_with(store, code)
    return code


# --- the list -------------------------------------------------------------------------------------


def test_the_list_shows_referral_journeys_with_their_order_contact_and_origin(rt, client, store, sign_in, advocate):
    referral, recovery = journeys_by(rt, "referral"), journeys_by(rt, "recovery")
    assert set(referral) == {"#1001", "#1501"} and set(recovery) == {"c1"}  # Bea's first order started hers
    ids, page = search(client, sign_in)
    assert sorted(ids) == sorted([*referral.values(), *recovery.values()])
    ana = row_of(page, referral["#1001"])
    assert "Order #1001" in ana and "ana@example.com · +34600111222" in ana
    assert "captured (checkout)" in ana and "Referral Generation" in ana and "84.90 EUR" in ana
    assert "3 of 5" in ana  # review, social by email and invite sent; the push skipped, the reward planned
    bea = row_of(page, referral["#1501"])
    assert "Order #1501" in bea and "bea@example.com" in bea and "captured (order)" in bea
    recovered = row_of(page, recovery["c1"])
    assert "c1" in recovered and "Revenue Recovery" in recovered and "captured (checkout)" in recovered


def test_an_imported_customers_journey_shows_the_origin(rt, client, store, sign_in):
    carla = {"email": "carla@example.com", "phone": "+34600777888", "customer_id": 7003, "first_name": "Carla"}
    old = {"id": 7003, "email": carla["email"], "first_name": "Carla", "created_at": "2020-01-01T00:00:00Z"}
    store.deliver("customers/create", old)  # a customer from before the install
    store.deliver("checkouts/create", checkout_of(store, "c3", carla))
    [journey] = search(client, sign_in, q="carla@example.com")[0]
    assert "imported" in row_of(search(client, sign_in)[1], journey)


def test_the_flow_filter_lists_referral_or_recovery_journeys(rt, client, store, sign_in, advocate):
    referral, recovery = journeys_by(rt, "referral"), journeys_by(rt, "recovery")
    assert search(client, sign_in, flow="referral")[0] == sorted(referral.values(), reverse=True)
    assert search(client, sign_in, flow="recovery")[0] == list(recovery.values())
    ids, page = search(client, sign_in, flow="referral", status="active")
    assert ids == sorted(referral.values(), reverse=True) and "There is no flow" not in page
    assert '<s-option value="referral" selected>Referral Generation</s-option>' in page


def test_search_finds_referral_journeys_through_the_profile_or_the_order(rt, client, store, sign_in, advocate):
    referral, recovery = journeys_by(rt, "referral"), journeys_by(rt, "recovery")
    anas = sorted([referral["#1001"], recovery["c1"]], reverse=True)
    assert search(client, sign_in, q="ANA@example.com")[0] == anas  # her checkout, her profile
    assert search(client, sign_in, q="+34 600 111 222")[0] == anas
    assert search(client, sign_in, q="c1")[0] == anas  # the checkout, and the order paid from it
    assert search(client, sign_in, q="bea@example.com")[0] == [referral["#1501"]]
    assert search(client, sign_in, q="nobody@example.com")[0] == []
    # Dora's profile (captured by a checkout with her phone only) has no email: her order has.
    store.deliver("checkouts/create", checkout_of(store, "c4", DORA, email=None, customer=None))
    store.deliver("orders/paid", order_of(store, "c4", 9601, "#1601", DORA, "2026-03-12T19:00:00+01:00"))
    dora = journeys_by(rt, "referral")["#1601"]
    ids, page = search(client, sign_in, q="dora@example.com")
    assert ids == [dora] and "dora@example.com · +34600555666" in row_of(page, dora)


def test_referral_journeys_page_like_the_others(rt, client, store, sign_in, advocate):
    for n in range(3):  # more first-time buyers: referral journeys between recovery ones
        person = {"email": f"p{n}@example.com", "phone": f"+3460090000{n}", "customer_id": 7100 + n,
                  "first_name": f"P{n}"}  # fmt: skip
        store.deliver("checkouts/create", checkout_of(store, f"p{n}", person))
        store.deliver("orders/paid", order_of(store, None, 9700 + n, f"#17{n}", person, "2026-03-12T19:00:00+01:00"))
    everything = sorted([*journeys_by(rt, "referral").values(), *journeys_by(rt, "recovery").values()], reverse=True)
    seen, path = [], "/activity?limit=2"
    while path:
        page = open_page(client, sign_in, path).get_data(as_text=True)
        seen += listed(page)
        path = button(page, "journeys-older")
    assert seen == everything
    seen, path = [], "/activity?flow=referral&limit=2"
    while path:
        page = open_page(client, sign_in, path).get_data(as_text=True)
        seen += listed(page)
        path = button(page, "journeys-older")
    assert seen == sorted(journeys_by(rt, "referral").values(), reverse=True)


# --- one referral journey ----------------------------------------------------------------------------------


def test_a_referral_journeys_page_shows_its_steps_reasons_code_and_rewards(rt, client, store, sign_in, advocate):
    journey_id = journeys_by(rt, "referral")["#1001"]
    response = open_page(client, sign_in, f"/activity/{journey_id}")
    assert response.status_code == 200
    page = html.unescape(response.get_data(as_text=True))
    assert "Order #1001" in page and "Referral Generation" in page
    assert "Advocate: Ana · ana@example.com · +34600111222" in page
    assert "Profile: captured (checkout)" in page
    assert f"Personal referral code: {advocate}" in page
    messages = {m["step"] + "/" + m["channel"]: m for m in store.messages(flow="referral", checkout_token="c1")}
    entries = re.findall(r'data-entry="([a-z]+)" data-message-id="(\d+)"', page)
    for key in ("review/email", "social/email", "invite/email"):
        assert ("planned", str(messages[key]["id"])) in entries and ("sent", str(messages[key]["id"])) in entries
    push = messages["social/push"]
    assert push["status"] == "skipped" and ("skipped", str(push["id"])) in entries
    assert "no consent: no browser push subscription" in page
    for label in ("Review request · Email", "Social mention · Browser push", "Invite friends · Email",
                  "Advocate reward · Email"):  # fmt: skip
        assert label in page, label
    rewards = dict(re.findall(r'data-reward="([a-z]+)">\s*<s-table-cell>([^<]+)</s-table-cell>', page))
    assert rewards == {"pending": "#1501", "refused": "#1502"}
    assert "same customer" in page  # the refusal's reason


def test_a_referral_journey_of_another_shop_is_a_404(rt, client, store, sign_in, advocate):
    other = ShopifyStore.install(rt, client, SHOP_B)
    journey_id = journeys_by(rt, "referral")["#1001"]
    refused = open_page(client, sign_in, f"/activity/{journey_id}", shop=SHOP_B)
    assert refused.status_code == 404 and "ana@example.com" not in refused.get_data(as_text=True)
    other_list = open_page(client, sign_in, "/activity?flow=referral", shop=other.domain).get_data(as_text=True)
    assert listed(other_list) == [] and "#1001" not in other_list
    assert open_page(client, sign_in, f"/activity/{journey_id}", shop=SHOP_A).status_code == 200


@pytest.mark.contract
def test_the_referral_rows_and_page_use_only_what_polaris_defines(rt, client, store, sign_in, advocate):
    spec = load_spec(
        shared_path("fixtures", "polaris", "custom-elements.json"), shared_path("fixtures", "app-bridge", "index.d.ts")
    )
    referral = journeys_by(rt, "referral")
    for path in ("/activity", "/activity?flow=referral", "/activity?q=ana@example.com",
                 f"/activity/{referral['#1001']}", f"/activity/{referral['#1501']}"):  # fmt: skip
        response = open_page(client, sign_in, path)
        assert response.status_code == 200, path
        assert markup_problems(response.get_data(as_text=True), spec) == [], path
