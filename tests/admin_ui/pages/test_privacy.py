"""/privacy, lifting a suppression and downloading a data-request export: the list shows each
suppression with its reason, source and date (an erased one as a hash), a page at a time; only a
customer's own opt-out (STOP, one-click unsubscribe) can be lifted, with a confirmation, by a staff
user who is recorded, and lifting grants no consent; exports download as JSON attachments; another
shop's rows are a 404 and never shown."""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from shop_app.compliance.privacy import address_hash
from shop_app.compliance.suppressions import consent_state, record_consent, suppress, suppression_reason
from shop_app.messaging.unsubscribe import UnsubscribeTarget, UnsubscribeTokens
from shop_app.shopify.shops import get_shop
from shop_app.storage.database import transaction
from shop_app.storage.keyset import encode
from shop_app.storage.tables import DataRequest, Suppression, SuppressionLift
from tests.admin_ui.conftest import SHOP_A, SHOP_B
from tests.admin_ui.markup_spec import load_spec, markup_problems
from tests.conftest import shared_path
from tests.support import ShopifyStore

BROWSER = {"Accept": "text/html"}
STOPPED = "+34600111222"


def shop_id(rt, domain: str = SHOP_A) -> int:
    with transaction(rt.sessions) as session:
        return get_shop(session, domain).id


def add_suppression(rt, domain: str, address: str, source: str, channel: str = "sms", reason: str = "") -> int:
    with transaction(rt.sessions) as session:
        owner = get_shop(session, domain).id
        assert suppress(session, rt.settings.secret_key, owner, channel, address, reason or f"by {source}", source)
        return session.scalar(
            select(Suppression.id).where(Suppression.shop_id == owner, Suppression.address == address)
        )


def add_export(rt, domain: str, email: str, export: dict) -> int:
    with transaction(rt.sessions) as session:
        row = DataRequest(shop_id=get_shop(session, domain).id, shopify_request_id=f"req-{email}", customer_id="7001",
                          email=email, phone=None, export=export)  # fmt: skip
        session.add(row)
        session.flush()
        return row.id


def suppressions(rt, domain: str = SHOP_A) -> list[tuple[str, str, str]]:
    with transaction(rt.sessions) as session:
        rows = session.scalars(select(Suppression).where(Suppression.shop_id == shop_id(rt, domain)))
        return sorted((r.channel, r.address, r.source) for r in rows)


def open_page(client, sign_in, query: str = "", shop: str = SHOP_A) -> str:
    response = client.get(f"/privacy?{query}&shop={shop}&id_token={sign_in(shop)}", headers=BROWSER)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def lift(client, bearer, suppression_id, body=None, shop: str = SHOP_A):
    body = {"confirm": True} if body is None else body
    return client.post(f"/api/suppressions/{suppression_id}/lift", json=body, headers=bearer(shop))


def rows_of(page: str, name: str) -> list[int]:
    return [int(i) for i in re.findall(rf'data-{name}-id="(\d+)"', page)]


def link(page: str, element_id: str) -> str | None:
    found = re.search(rf'<s-button href="/privacy\?([^"]+)"[^>]*id="{element_id}"', page)
    return html.unescape(found.group(1)) if found else None


# --- the list ----------------------------------------------------------------------------------------------


def test_the_list_shows_reason_source_and_date_and_an_erased_address_as_a_hash(rt, client, store, sign_in):
    ShopifyStore.install(rt, client, SHOP_B)
    add_suppression(rt, SHOP_A, STOPPED, "keyword", reason="replied 'STOP' by SMS on 2026-03-02")
    add_suppression(rt, SHOP_A, "bounce@example.com", "provider", channel="email", reason="bounced: mailbox unknown")
    add_suppression(rt, SHOP_A, address_hash(rt.settings.secret_key, "gone@example.com"), "unsubscribe", "email")
    add_suppression(rt, SHOP_B, "secret@other.example", "provider", channel="email")
    page = html.unescape(open_page(client, sign_in))
    assert STOPPED in page and "replied 'STOP' by SMS on 2026-03-02" in page and "STOP reply" in page
    assert "bounce@example.com" in page and "bounced: mailbox unknown" in page and "provider (bounce" in page
    assert "erased (hash)" in page and "hmac-sha256" not in page
    assert "secret@other.example" not in page
    assert len(rows_of(page, "suppression")) == 3
    with transaction(rt.sessions) as session:
        since = session.scalar(select(Suppression.created_at).where(Suppression.address == STOPPED))
    local = since.astimezone(ZoneInfo("Europe/Madrid"))  # the shop's time zone
    assert f"{local:%Y-%m-%d %H:%M} {local.tzname()}" in page
    lift_buttons = re.findall(r'data-lift="(\d+)"', page)
    assert len(lift_buttons) == 1  # only the STOP: the provider's and the erased one cannot be lifted
    assert page.count("Cannot be lifted") == 2


def test_the_list_pages_walk_every_suppression_once(rt, client, store, sign_in):
    ids = [add_suppression(rt, SHOP_A, f"+3460011{n:04d}", "keyword") for n in range(5)]
    seen, query = [], "limit=2"
    while query:
        page = open_page(client, sign_in, query)
        seen += rows_of(page, "suppression")
        query = link(page, "suppressions-older")
    assert seen == sorted(ids, reverse=True)
    page = open_page(client, sign_in, f"limit=2&after={encode(ids[1])}")
    assert rows_of(page, "suppression") == [ids[0]] and link(page, "suppressions-newer")


def test_a_bad_cursor_shows_the_first_page_with_a_notice(rt, client, store, sign_in):
    ids = [add_suppression(rt, SHOP_A, f"+3460022{n:04d}", "keyword") for n in range(2)]
    page = open_page(client, sign_in, "after=not-a-cursor")
    assert rows_of(page, "suppression") == sorted(ids, reverse=True) and "not valid any more" in page


def test_a_stop_and_a_one_click_unsubscribe_record_their_source(rt, client, store):
    owner = shop_id(rt)
    token = UnsubscribeTokens(rt.settings.secret_key).issue(UnsubscribeTarget(owner, "email", "ana@example.com"))
    assert client.post(f"/u/{token}").status_code == 200
    assert suppressions(rt) == [("email", "ana@example.com", "unsubscribe")]


# --- lifting -------------------------------------------------------------------------------------------------


def test_lifting_a_stop_removes_it_records_who_and_grants_no_consent(rt, client, store, bearer, sign_in):
    suppression = add_suppression(rt, SHOP_A, STOPPED, "keyword")
    with transaction(rt.sessions) as session:
        record_consent(session, shop_id(rt), "sms", STOPPED, granted=False, source="keyword", at=datetime.now(UTC))
    response = lift(client, bearer, suppression)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["lifted"]["lifted_by"] == "42" and body["lifted"]["source"] == "keyword"  # the token's `sub`
    assert "no consent was given" in body["consent"]
    with transaction(rt.sessions) as session:
        assert suppression_reason(session, rt.settings.secret_key, shop_id(rt), "sms", STOPPED) is None
        assert consent_state(session, shop_id(rt), "sms", STOPPED).state == "revoked"  # not re-granted
        [audit] = session.scalars(select(SuppressionLift)).all()
        assert (audit.address, audit.lifted_by, audit.shop_id) == (STOPPED, "42", shop_id(rt))
    page = open_page(client, sign_in)
    assert re.search(r'data-lift-id="\d+"', page) and "<s-table-cell>42</s-table-cell>" in page
    assert lift(client, bearer, suppression).status_code == 404  # already lifted


def test_erasing_the_customer_clears_the_address_from_the_lift_record(rt, client, store, bearer):
    store.deliver("checkouts/create", store.checkout("erase-1", "2026-03-02T19:00:00+01:00"))
    assert lift(client, bearer, add_suppression(rt, SHOP_A, STOPPED, "keyword")).status_code == 200
    customer = {"id": 7001, "email": "ana@example.com", "phone": STOPPED}
    store.deliver("customers/redact", {"shop_id": 1, "shop_domain": SHOP_A, "customer": customer})
    with transaction(rt.sessions) as session:
        [audit] = session.scalars(select(SuppressionLift)).all()
    assert audit.address is None and audit.lifted_by == "42"


def test_an_unsubscribe_can_be_lifted(rt, client, store, bearer):
    suppression = add_suppression(rt, SHOP_A, "ana@example.com", "unsubscribe", channel="email")
    assert lift(client, bearer, suppression).status_code == 200
    assert suppressions(rt) == []


@pytest.mark.parametrize("body", [{}, {"confirm": False}, {"confirm": "yes"}, {"confirm": 1}, [], "confirm"])
def test_lifting_needs_the_confirmation(rt, client, store, bearer, body):
    suppression = add_suppression(rt, SHOP_A, STOPPED, "keyword")
    response = lift(client, bearer, suppression, body)
    assert response.status_code == 422
    assert response.get_json()["errors"][0]["field"] == "confirm"
    assert suppressions(rt) == [("sms", STOPPED, "keyword")]


def test_a_providers_suppression_cannot_be_lifted(rt, client, store, bearer):
    suppression = add_suppression(rt, SHOP_A, "bounce@example.com", "provider", channel="email")
    response = lift(client, bearer, suppression)
    assert response.status_code == 409 and "only the provider can clear it" in response.get_json()["error"]
    assert suppressions(rt) == [("email", "bounce@example.com", "provider")]


def test_an_erased_customers_opt_out_cannot_be_lifted(rt, client, store, bearer):
    hashed = address_hash(rt.settings.secret_key, STOPPED)
    suppression = add_suppression(rt, SHOP_A, hashed, "keyword")
    response = lift(client, bearer, suppression)
    assert response.status_code == 409 and "erased" in response.get_json()["error"]
    assert suppressions(rt) == [("sms", hashed, "keyword")]


def test_another_shops_suppression_is_a_404_and_stays(rt, client, store, bearer):
    ShopifyStore.install(rt, client, SHOP_B)
    theirs = add_suppression(rt, SHOP_B, STOPPED, "keyword")
    response = lift(client, bearer, theirs)
    assert response.status_code == 404 and response.get_json() == {"error": f"no suppression {theirs}"}
    assert lift(client, bearer, theirs + 1000).get_json() == {"error": f"no suppression {theirs + 1000}"}
    assert suppressions(rt, SHOP_B) == [("sms", STOPPED, "keyword")]
    assert lift(client, bearer, theirs, shop=SHOP_B).status_code == 200  # B's own staff may


@pytest.mark.parametrize("path", ["0", "99999999999999999999", "-1", "abc"])
def test_an_impossible_suppression_id_is_a_404(client, store, bearer, path):
    assert client.post(f"/api/suppressions/{path}/lift", json={"confirm": True}, headers=bearer()).status_code == 404


def test_lifting_needs_a_session(rt, client, store):
    suppression = add_suppression(rt, SHOP_A, STOPPED, "keyword")
    assert client.post(f"/api/suppressions/{suppression}/lift", json={"confirm": True}).status_code == 401
    assert suppressions(rt) == [("sms", STOPPED, "keyword")]


# --- exports -----------------------------------------------------------------------------------------------------


def test_exports_are_listed_and_download_as_json_attachments(rt, client, store, bearer, sign_in):
    ShopifyStore.install(rt, client, SHOP_B)
    export = {"shop": SHOP_A, "customer": {"email": "ana@example.com"}, "checkouts": [{"token": "t-1"}]}
    mine = add_export(rt, SHOP_A, "ana@example.com", export)
    add_export(rt, SHOP_B, "secret@other.example", {"shop": SHOP_B})
    page = open_page(client, sign_in)
    assert rows_of(page, "export") == [mine] and "ana@example.com" in page and "secret@other.example" not in page
    assert f'data-export="{mine}"' in page

    response = client.get(f"/api/exports/{mine}", headers=bearer())
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert response.headers["Content-Disposition"] == f'attachment; filename="data-request-{mine}.json"'
    downloaded = json.loads(response.get_data(as_text=True))
    assert {k: v for k, v in downloaded.items() if k != "data_request"} == export
    assert downloaded["data_request"]["id"] == mine and downloaded["data_request"]["shopify_request_id"]


def test_another_shops_export_is_a_404(rt, client, store, bearer):
    ShopifyStore.install(rt, client, SHOP_B)
    theirs = add_export(rt, SHOP_B, "secret@other.example", {"shop": SHOP_B, "secret": "b-only"})
    for path in (str(theirs), str(theirs + 1000), "0", "99999999999999999999"):
        response = client.get(f"/api/exports/{path}", headers=bearer())
        assert response.status_code == 404 and "b-only" not in response.get_data(as_text=True)
    assert client.get(f"/api/exports/{theirs}", headers=bearer(SHOP_B)).status_code == 200


def test_the_export_list_api_pages_newest_first(rt, client, store, bearer):
    ids = [add_export(rt, SHOP_A, f"c{n}@example.com", {"n": n}) for n in range(5)]
    seen, cursor = [], None
    while True:
        body = client.get("/api/exports?limit=2" + (f"&after={cursor}" if cursor else ""), headers=bearer()).get_json()
        assert all("export" not in row for row in body["exports"])  # the list carries no contents
        seen += [row["id"] for row in body["exports"]]
        cursor = body["page"]["next"]
        if cursor is None:
            break
    assert seen == sorted(ids, reverse=True)
    assert client.get("/api/exports?after=junk", headers=bearer()).status_code == 400


def test_a_real_data_request_is_listed_and_downloads(rt, client, store, bearer):
    store.deliver("checkouts/create", store.checkout("export-1", "2026-03-02T19:00:00+01:00"))
    request = {"shop_domain": SHOP_A, "customer": {"id": 7001, "email": "ana@example.com"},
               "orders_requested": [], "data_request": {"id": 9999}}  # fmt: skip
    store.deliver("customers/data_request", request)
    [row] = client.get("/api/exports", headers=bearer()).get_json()["exports"]
    downloaded = client.get(f"/api/exports/{row['id']}", headers=bearer()).get_json()
    assert [c["token"] for c in downloaded["checkouts"]] == ["export-1"]


# --- markup ------------------------------------------------------------------------------------------------------


@pytest.mark.contract
def test_the_page_with_rows_uses_only_what_polaris_defines(rt, client, store, bearer, sign_in):
    spec = load_spec(
        shared_path("fixtures", "polaris", "custom-elements.json"), shared_path("fixtures", "app-bridge", "index.d.ts")
    )
    lifted = add_suppression(rt, SHOP_A, "+34600333444", "keyword")
    assert lift(client, bearer, lifted).status_code == 200
    add_suppression(rt, SHOP_A, STOPPED, "keyword")
    add_suppression(rt, SHOP_A, "b@example.com", "provider", "email")
    add_suppression(rt, SHOP_A, address_hash(rt.settings.secret_key, "x@example.com"), "unsubscribe", "email")
    add_export(rt, SHOP_A, "ana@example.com", {"shop": SHOP_A})
    for query in ("", "limit=1", "after=junk"):
        assert markup_problems(open_page(client, sign_in, query), spec) == [], query
