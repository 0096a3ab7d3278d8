"""/activity and /activity/<journey id>, and the paging of /api/messages: keyset pages walk every row
exactly once in both directions, searches are exact matches on an email, a phone number read in the
shop's country or a checkout token, and another shop's journeys are never listed or shown."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from shop_app.compliance.suppressions import suppress
from shop_app.recovery import outbox
from shop_app.shopify.shops import get_shop
from shop_app.storage.database import transaction
from shop_app.storage.keyset import encode
from shop_app.storage.tables import CheckoutRow, Journey
from tests.admin_ui.conftest import SHOP_A, SHOP_B
from tests.admin_ui.markup_spec import load_spec, markup_problems
from tests.conftest import shared_path
from tests.support import ShopifyStore

BROWSER = {"Accept": "text/html"}
AT = datetime(2026, 3, 2, 18, 0, tzinfo=UTC)


def add_journeys(rt, domain: str, prefix: str, count: int = 1, *, status="active", flow="recovery", email=None,
                 phone=None, sms_phone=None) -> list[int]:  # fmt: skip
    """Journeys written straight to the tables (each with its checkout); their ids, oldest first."""
    ids = []
    with transaction(rt.sessions) as session:
        shop = get_shop(session, domain)
        for n in range(count):
            checkout = CheckoutRow(shop_id=shop.id, token=f"{prefix}-{n}", email=email, phone=phone,
                                   sms_phone=sms_phone, currency="EUR", total_price=Decimal("12.50"),
                                   line_items=[], shopify_updated_at=AT)  # fmt: skip
            session.add(checkout)
            session.flush()
            journey = Journey(shop_id=shop.id, checkout_id=checkout.id, flow=flow, status=status, abandoned_at=AT)
            session.add(journey)
            session.flush()
            ids.append(journey.id)
    return ids


def set_country(rt, domain: str, country: str) -> None:
    with transaction(rt.sessions) as session:
        get_shop(session, domain).country_code = country


def open_page(client, sign_in, path: str, shop: str = SHOP_A):
    joiner = "&" if "?" in path else "?"
    return client.get(f"{path}{joiner}shop={shop}&id_token={sign_in(shop)}", headers=BROWSER)


def listed(page: str) -> list[int]:
    return [int(i) for i in re.findall(r'data-journey-id="(\d+)"', page)]


def button(page: str, element_id: str) -> str | None:
    found = re.search(rf'<s-button href="([^"]+)"[^>]*id="{element_id}"', page)
    return html.unescape(found.group(1)) if found else None


def search(client, sign_in, **query) -> tuple[list[int], str]:
    response = client.get("/activity", query_string={**query, "shop": SHOP_A, "id_token": sign_in()}, headers=BROWSER)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    return listed(page), page


# --- the list, a page at a time -------------------------------------------------------------------


def test_pages_walk_every_journey_once_newest_first_and_back(rt, client, store, sign_in):
    ShopifyStore.install(rt, client, SHOP_B)
    mine = add_journeys(rt, SHOP_A, "a", 7)
    add_journeys(rt, SHOP_B, "b", 3)
    seen, pages, path = [], [], "/activity?limit=3"
    while path:
        page = open_page(client, sign_in, path).get_data(as_text=True)
        pages.append(listed(page))
        seen += pages[-1]
        path = button(page, "journeys-older")
    assert seen == sorted(mine, reverse=True)  # every row once, in order, none of B's
    assert [len(p) for p in pages] == [3, 3, 1]
    # Back from the last page with the newer links: the same pages in reverse.
    back, path = [], button(open_page(client, sign_in, f"/activity?limit=3&after={encode(seen[5])}").get_data(
        as_text=True), "journeys-newer")  # fmt: skip
    while path:
        page = open_page(client, sign_in, path).get_data(as_text=True)
        back.append(listed(page))
        path = button(page, "journeys-newer")
    assert back == pages[-2::-1]


def test_a_page_shows_fifty_journeys_and_a_limit_is_capped_at_a_hundred(rt, client, store, sign_in):
    mine = add_journeys(rt, SHOP_A, "many", 102)
    first, page = search(client, sign_in)
    assert first == sorted(mine, reverse=True)[:50] and button(page, "journeys-older")
    assert len(search(client, sign_in, limit="1000")[0]) == 100


@pytest.mark.parametrize("cursor", ["garbage", encode(1) + "x", "azE6MA", "", "a" * 500, "k1:5"])
def test_a_bad_cursor_shows_the_first_page_with_a_notice(rt, client, store, sign_in, cursor):
    mine = add_journeys(rt, SHOP_A, "c", 2)
    ids, page = search(client, sign_in, after=cursor)
    assert ids == sorted(mine, reverse=True)
    assert "That page link is not valid any more" in page


def test_both_cursors_or_a_bad_limit_show_the_first_page(rt, client, store, sign_in):
    mine = add_journeys(rt, SHOP_A, "c", 2)
    for query in ({"after": encode(mine[1]), "before": encode(mine[0])}, {"limit": "0"}, {"limit": "-3"}):
        ids, page = search(client, sign_in, **query)
        assert ids == sorted(mine, reverse=True) and "not valid any more" in page, query


def test_an_empty_shop_says_so(client, store, sign_in):
    ids, page = search(client, sign_in)
    assert ids == [] and "No journeys yet" in page


# --- search and filters -------------------------------------------------------------------------------


def test_search_by_email_is_exact_and_case_blind(rt, client, store, sign_in):
    ShopifyStore.install(rt, client, SHOP_B)
    [ana] = add_journeys(rt, SHOP_A, "ana", email="ana@example.com")
    add_journeys(rt, SHOP_A, "anabel", email="anabel@example.com")
    add_journeys(rt, SHOP_B, "theirs", email="ana@example.com")
    ids, page = search(client, sign_in, q="  Ana@Example.COM ")
    assert ids == [ana]
    assert "Exact match on an email address" in page
    assert search(client, sign_in, q="ana@example")[0] == []


def test_search_by_phone_reads_the_number_in_the_shops_country(rt, client, store, sign_in):
    set_country(rt, SHOP_A, "ES")
    [contact] = add_journeys(rt, SHOP_A, "p", phone="+34600111222")
    [marketing] = add_journeys(rt, SHOP_A, "q", phone="+34911222333", sms_phone="+34600444555")
    add_journeys(rt, SHOP_A, "r", phone="+34600999888")
    assert search(client, sign_in, q="600 111 222")[0] == [contact]
    assert search(client, sign_in, q="+34 600-111-222")[0] == [contact]
    assert search(client, sign_in, q="0034600444555")[0] == [marketing]
    assert search(client, sign_in, q="600 111 223")[0] == []


def test_search_by_checkout_token(rt, client, store, sign_in):
    ShopifyStore.install(rt, client, SHOP_B)
    ids = add_journeys(rt, SHOP_A, "tok", 3)
    add_journeys(rt, SHOP_B, "b-only", 1)
    found, page = search(client, sign_in, q="tok-1")
    assert found == [ids[1]] and "Exact match on a checkout token" in page
    assert search(client, sign_in, q="tok")[0] == []
    assert search(client, sign_in, q="b-only-0")[0] == []  # another shop's token finds nothing


def test_filters_by_status_and_flow(rt, client, store, sign_in):
    active = add_journeys(rt, SHOP_A, "act", 2)
    converted = add_journeys(rt, SHOP_A, "conv", 2, status="converted")
    stopped = add_journeys(rt, SHOP_A, "stop", 1, status="stopped", email="x@example.com")
    assert search(client, sign_in, status="converted")[0] == sorted(converted, reverse=True)
    assert search(client, sign_in, status="stopped", q="x@example.com")[0] == stopped
    assert search(client, sign_in, status="active", flow="recovery")[0] == sorted(active, reverse=True)
    everything = sorted(active + converted + stopped, reverse=True)
    ids, page = search(client, sign_in, status="lost")
    assert ids == everything and "There is no journey status" in page
    ids, page = search(client, sign_in, flow="nonsense")
    assert ids == everything and "There is no flow" in page


def test_filters_and_search_survive_paging(rt, client, store, sign_in):
    converted = add_journeys(rt, SHOP_A, "conv", 5, status="converted")
    add_journeys(rt, SHOP_A, "act", 5)
    seen, path = [], "/activity?status=converted&limit=2"
    while path:
        page = open_page(client, sign_in, path).get_data(as_text=True)
        seen += listed(page)
        path = button(page, "journeys-older")
    assert seen == sorted(converted, reverse=True)


# --- one journey -------------------------------------------------------------------------------------------


def test_a_journeys_timeline_shows_each_message_with_its_reasons_delivery_and_clicks(rt, client, store, sign_in):
    now = datetime.now(UTC).replace(microsecond=0)
    abandoned = now - timedelta(hours=3)
    store.deliver("checkouts/create", store.checkout("timeline-1", abandoned.isoformat()))
    store.tick(abandoned + timedelta(hours=1))
    with transaction(rt.sessions) as session:  # the customer texted STOP before the WhatsApp step
        shop_id = get_shop(session, SHOP_A).id
        suppress(session, rt.settings.secret_key, shop_id, "whatsapp", "+34600111222", "replied 'STOP'", "keyword")
    store.tick(abandoned + timedelta(hours=2, minutes=1))
    email = store.message(step="first", channel="email")
    whatsapp = store.message(step="whatsapp", channel="whatsapp")
    prime = store.message(step="prime", channel="sms")
    assert email["status"] == "sent" and whatsapp["status"] == "skipped"
    assert prime["status"] == "scheduled"
    app = rt.settings.shopify_app_url
    [link] = [w.strip("()<>\"'") for w in email["body"].split() if w.strip("()<>\"'").startswith(app + "/c/")][:1]
    assert client.get(link.removeprefix(app)).status_code == 302
    assert client.get(link.removeprefix(app)).status_code == 302
    with transaction(rt.sessions) as session:
        journey_id = session.query(Journey.id).scalar()

    response = open_page(client, sign_in, f"/activity/{journey_id}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "timeline-1" in page and "ana@example.com" in page and "+34600111222" in page  # the merchant's own customer
    assert "Linen shirt" in page and "84.90 EUR" in page
    entries = re.findall(r'data-entry="([a-z]+)" data-message-id="(\d+)"', page)
    assert ("planned", str(email["id"])) in entries and ("sent", str(email["id"])) in entries
    assert ("clicked", str(email["id"])) in entries
    assert ("skipped", str(whatsapp["id"])) in entries and "suppressed: replied" in whatsapp["reason"]
    assert whatsapp["reason"] in html.unescape(page)
    assert ("planned", str(prime["id"])) in entries and ("sent", str(prime["id"])) not in entries
    assert "clicked 2 times" in page
    row = re.search(rf'data-message-id="{email["id"]}">(.*?)</s-table-row>', page, re.S).group(1)
    assert "sent" in row and "clicked" in row and "<s-table-cell>2</s-table-cell>" in row


def test_a_postponed_or_rescheduled_message_shows_why_and_when_it_is_now_due(rt, client, store, sign_in):
    store.deliver("checkouts/create", store.checkout("later-1", "2026-03-02T19:00:00+01:00"))
    first = store.message(step="first", channel="email")
    prime = store.message(step="prime", channel="sms")
    window = "outside delivery window; postponed to Tue 2026-03-03 09:00 Europe/Madrid"
    with transaction(rt.sessions) as session:
        assert outbox.reschedule(session, first["id"], datetime(2026, 3, 3, 8, 0, tzinfo=UTC), window)
        assert outbox.reschedule(session, prime["id"], AT + timedelta(days=2), "rescheduled: the checkout was updated")
        journey_id = session.query(Journey.id).scalar()
    page = html.unescape(open_page(client, sign_in, f"/activity/{journey_id}").get_data(as_text=True))
    entries = re.findall(r'data-entry="([a-z]+)" data-message-id="(\d+)"', page)
    assert ("postponed", str(first["id"])) in entries and ("rescheduled", str(prime["id"])) in entries
    assert f"{window}; now due 2026-03-03 09:00 CET" in page  # in the shop's time zone


def test_a_journey_of_another_shop_is_a_404_like_a_missing_one(rt, client, shops, sign_in):
    with transaction(rt.sessions) as session:
        theirs = session.query(Journey.id).filter(Journey.shop_id == get_shop(session, SHOP_B).id).scalar()
        mine = session.query(Journey.id).filter(Journey.shop_id == get_shop(session, SHOP_A).id).scalar()
    other = open_page(client, sign_in, f"/activity/{theirs}")
    absent = open_page(client, sign_in, f"/activity/{theirs + 1000}")
    assert other.status_code == absent.status_code == 404
    assert "b-private-checkout" not in other.get_data(as_text=True)
    assert open_page(client, sign_in, f"/activity/{theirs}", shop=SHOP_B).status_code == 200
    assert open_page(client, sign_in, f"/activity/{mine}").status_code == 200
    assert open_page(client, sign_in, "/activity/99999999999999999999").status_code == 404
    listing = open_page(client, sign_in, "/activity").get_data(as_text=True)
    assert listed(listing) == [mine] and "b-private-checkout" not in listing


# --- /api/messages, a page at a time -----------------------------------------------------------------------


def walk(client, headers, query: str, key: str = "next", param: str = "after") -> list[list[int]]:
    pages, cursor = [], None
    while True:
        url = f"/api/messages?{query}" + (f"&{param}={cursor}" if cursor else "")
        body = client.get(url, headers=headers).get_json()
        pages.append([m["id"] for m in body["messages"]])
        cursor = body["page"][key]
        if cursor is None:
            return pages


def test_api_messages_walk_every_row_once_in_both_directions(rt, client, shops, bearer):
    for n in range(3):
        shops.a.deliver("checkouts/create", shops.a.checkout(f"a-more-{n}", "2026-03-02T19:00:00+01:00"))
    everything = sorted((m["id"] for m in shops.a.messages()), reverse=True)
    assert len(everything) > 5
    pages = walk(client, bearer(), "limit=2")
    assert [i for p in pages for i in p] == everything and all(len(p) == 2 for p in pages[:-1])
    last = client.get(f"/api/messages?limit=2&after={encode(everything[-2])}", headers=bearer()).get_json()
    assert last["page"]["next"] is None and [m["id"] for m in last["messages"]] == everything[-1:]
    back, cursor = [], last["page"]["previous"]
    while cursor:
        body = client.get(f"/api/messages?limit=2&before={cursor}", headers=bearer()).get_json()
        back = [m["id"] for m in body["messages"]] + back
        cursor = body["page"]["previous"]
    assert back == everything[:-1]


def test_api_messages_pages_keep_the_status_filter(client, shops, bearer):
    statuses = {m["status"] for m in shops.a.messages()}
    some = sorted(statuses)[0]
    pages = walk(client, bearer(), f"status={some}&limit=1")
    expected = sorted((m["id"] for m in shops.a.messages(status=some)), reverse=True)
    assert [i for p in pages for i in p] == expected


def test_api_messages_default_and_capped_page_sizes(client, shops, bearer):
    assert client.get("/api/messages", headers=bearer()).get_json()["page"]["limit"] == 50
    assert client.get("/api/messages?limit=5000", headers=bearer()).get_json()["page"]["limit"] == 100


def test_a_cursor_for_the_biggest_id_is_an_empty_page_not_an_error(client, shops, bearer, sign_in):
    """The biggest id a cursor may name (2**63 - 1), as `before`: nothing is newer. SQLite's driver
    refused the `id + 1` the older rows' check used to bind, and each paged route answered 500."""
    biggest = encode(2**63 - 1)
    body = client.get(f"/api/messages?before={biggest}", headers=bearer()).get_json()
    assert body["messages"] == [] and body["page"]["previous"] is None
    ids, _ = search(client, sign_in, before=biggest)
    assert ids == []


BAD_QUERIES = ["after=nope", "before=%ff", f"after={encode(1)}&before={encode(2)}", "limit=0", "limit=x", "limit=-1"]


@pytest.mark.parametrize("query", BAD_QUERIES)
def test_api_messages_bad_cursor_or_limit_is_a_400(client, shops, bearer, query):
    response = client.get(f"/api/messages?{query}", headers=bearer())
    assert response.status_code == 400
    assert response.get_json()["error"]


# --- markup -------------------------------------------------------------------------------------------------


@pytest.mark.contract
def test_the_pages_with_rows_use_only_what_polaris_defines(rt, client, store, sign_in):
    spec = load_spec(
        shared_path("fixtures", "polaris", "custom-elements.json"), shared_path("fixtures", "app-bridge", "index.d.ts")
    )
    ids = add_journeys(rt, SHOP_A, "m", 3, email="m@example.com", phone="+34600111222")
    store.deliver("checkouts/create", store.checkout("markup-1", "2026-03-02T19:00:00+01:00"))
    with transaction(rt.sessions) as session:
        planned = session.query(Journey.id).filter(Journey.id.notin_(ids)).scalar()
    for path in ("/activity?limit=2", f"/activity?limit=2&after={encode(ids[-1])}", "/activity?q=nobody@example.com",
                 "/activity?after=bad", f"/activity/{planned}", f"/activity/{ids[0]}", "/activity/999999"):  # fmt: skip
        assert markup_problems(open_page(client, sign_in, path).get_data(as_text=True), spec) == [], path
