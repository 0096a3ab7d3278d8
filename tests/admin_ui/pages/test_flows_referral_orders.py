"""/flows' referral card lists the latest paid orders with what the referral flow made of each
(issue 11 point 2: a test order, an imported customer's order and a repeat order start nothing "and
the reason is recorded where a merchant can read it"), through the real webhook routes, worker and
page with a session token: each order's reason (or its journey) shows for its own shop only, in no
words of the buyer's, and the markup stays what Polaris defines."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html.parser import HTMLParser

from sqlalchemy import select

from shop_app.shopify.shops import get_shop
from shop_app.storage.database import transaction
from shop_app.storage.tables import Journey
from tests.admin_ui.conftest import SHOP_A, SHOP_B
from tests.admin_ui.markup_spec import load_spec, markup_problems
from tests.admin_ui.pages.test_flows import page, text_of
from tests.conftest import shared_path
from tests.support import ShopifyStore

IMPORTED = "no referral flow: the customer was imported, not captured by the store"
TEST_ORDER = "no referral flow: a test order"
TURNED_OFF = "no referral flow: the flow is turned off in the settings"
REPEAT = "no referral flow: a repeat order (the customer had ordered before)"

#: Each buyer: (customer id, email, phone, first name). None of it may reach the card.
BUYERS = {
    "ines": (7101, "ines.imported@example.com", "+34600000101", "Inés"),
    "tomas": (7102, "tomas.tester@example.com", "+34600000102", "Tomás"),
    "rita": (7103, "rita.repeat@example.com", "+34600000103", "Rita"),
    "flor": (7104, "flor.first@example.com", "+34600000104", "Flor"),
}


def _order(store: ShopifyStore, buyer: str, order_id: int, name: str, at: str, **fields) -> dict:
    customer_id, email, phone, first_name = BUYERS[buyer]
    customer = {"id": customer_id, "email": email, "phone": phone, "first_name": first_name}
    return store.order(None, at, id=order_id, name=name, email=email, phone=phone, customer=customer, **fields)


def _pays(store: ShopifyStore, buyer: str, order_id: int, name: str, at: str, **fields) -> None:
    store.deliver("orders/paid", _order(store, buyer, order_id, name, at, **fields))


def _imported(store: ShopifyStore, buyer: str) -> None:
    """A customers/create of a customer Shopify made before the install: an imported profile."""
    customer_id, email, phone, first_name = BUYERS[buyer]
    before_install = datetime(2020, 1, 1, tzinfo=UTC).isoformat()
    customer = {
        "id": customer_id,
        "email": email,
        "phone": phone,
        "first_name": first_name,
        "created_at": before_install,
    }
    store.deliver("customers/create", customer)


def _story(store: ShopifyStore) -> None:
    """Rita's first order while the flow is off, then: Inés (imported) pays #2001, Tomás's test
    order #2002, Rita's second order #2003, Flor's first order #2004."""
    store.set_settings({"referral": {"enabled": False}})
    _pays(store, "rita", 8100, "#2000", "2026-03-01T10:00:00+00:00")
    store.set_settings({"referral": {"enabled": True}})
    _imported(store, "ines")
    _pays(store, "ines", 8101, "#2001", "2026-03-02T10:00:00+00:00")
    _pays(store, "tomas", 8102, "#2002", "2026-03-02T11:00:00+00:00", test=True)
    _pays(store, "rita", 8103, "#2003", "2026-03-02T12:00:00+00:00")
    _pays(store, "flor", 8104, "#2004", "2026-03-02T13:00:00+00:00")


class _Rows(HTMLParser):
    """The card's order rows: data-order → (cells' text, link of the first cell)."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, tuple[list[str], str | None]] = {}
        self._inside = False
        self._current: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "s-table" and found.get("id") == "flow-referral-orders":
            self._inside = True
        elif self._inside and tag == "s-table-row" and found.get("data-order"):
            self._current = found["data-order"]
            self.rows[self._current] = ([], None)
        elif self._current and tag == "s-table-cell":
            self.rows[self._current][0].append("")
        elif self._current and tag == "s-link":
            cells, _ = self.rows[self._current]
            self.rows[self._current] = (cells, found.get("href"))

    def handle_endtag(self, tag: str) -> None:
        if tag == "s-table":
            self._inside, self._current = False, None
        elif tag == "s-table-row":
            self._current = None

    def handle_data(self, data: str) -> None:
        if self._current and self.rows[self._current][0]:
            cells = self.rows[self._current][0]
            cells[-1] = " ".join(f"{cells[-1]} {data}".split())


def order_rows(html: str) -> dict[str, tuple[list[str], str | None]]:
    parser = _Rows()
    parser.feed(html)
    return parser.rows


def test_each_paid_orders_reason_shows_on_its_own_shops_flows_page(rt, client, store, sign_in):
    other = ShopifyStore.install(rt, client, SHOP_B, admin_api=store.admin_api)
    _pays(other, "flor", 9900, "#B-1", "2026-03-02T09:00:00+00:00")
    _story(store)
    with transaction(rt.sessions) as session:
        shop_a = get_shop(session, SHOP_A)
        assert shop_a is not None
        journey_id = session.scalars(
            select(Journey.id).where(Journey.flow == "referral", Journey.shop_id == shop_a.id)
        ).one()

    html = page(client, sign_in, "/flows", SHOP_A)
    rows = order_rows(html)
    assert list(rows) == ["#2004", "#2003", "#2002", "#2001", "#2000"]  # newest first
    notes = {name: cells[2] for name, (cells, _) in rows.items()}
    assert notes["#2001"] == IMPORTED
    assert notes["#2002"] == TEST_ORDER
    assert notes["#2003"] == REPEAT
    assert notes["#2000"] == TURNED_OFF
    assert notes["#2004"].startswith(f"referral journey #{journey_id} started")
    assert rows["#2004"][1] == f"/activity/{journey_id}" and rows["#2003"][1] is None  # the journey it started
    assert rows["#2001"][0][1] == "2026-03-02 11:00 CET"  # in the shop's time zone (Madrid)
    card = text_of(html, "flow-referral-orders")
    for customer_id, email, phone, first_name in BUYERS.values():
        for detail in (str(customer_id), email, email.split("@")[0], phone, first_name):
            assert detail not in card

    theirs = order_rows(page(client, sign_in, "/flows", SHOP_B))
    assert list(theirs) == ["#B-1"] and theirs["#B-1"][0][2].startswith("referral journey #")


def test_a_redelivered_first_order_still_says_it_started_its_journey(client, store, sign_in):
    _pays(store, "flor", 8104, "#2004", "2026-03-02T13:00:00+00:00")
    _pays(store, "flor", 8104, "#2004", "2026-03-02T13:00:00+00:00")  # Shopify delivers orders/paid again
    [(cells, link)] = order_rows(page(client, sign_in, "/flows")).values()
    assert re.fullmatch(r"referral journey #\d+ started: .+", cells[2]) and link
    _pays(store, "flor", 8105, "#2005", "2026-03-05T13:00:00+00:00")  # her second order: not a second journey
    rows = order_rows(page(client, sign_in, "/flows"))
    assert rows["#2005"][0][2] == "no referral flow: this customer already has a referral journey"
    assert rows["#2004"][0][2] == cells[2]


def test_the_card_lists_the_ten_newest_paid_orders(client, store, sign_in):
    store.set_settings({"referral": {"enabled": False}})
    for n in range(12):
        _pays(store, "rita", 8200 + n, f"#30{n:02d}", f"2026-03-{n + 1:02d}T10:00:00+00:00")
    store.deliver("orders/create", _order(store, "flor", 8300, "#3100", "2026-03-20T10:00:00+00:00",
                                          financial_status="pending"))  # fmt: skip
    rows = order_rows(page(client, sign_in, "/flows"))
    assert list(rows) == [f"#30{n:02d}" for n in range(11, 1, -1)]  # an unpaid order is not judged
    assert {cells[2] for cells, _ in rows.values()} == {TURNED_OFF}


def test_before_any_paid_order_the_card_says_so(client, store, sign_in):
    html = page(client, sign_in, "/flows")
    assert text_of(html, "flow-referral-orders-empty") == "The referral flow has judged no paid order yet."
    assert order_rows(html) == {}


def test_the_cards_orders_use_only_what_polaris_defines(client, store, sign_in):
    _story(store)
    spec = load_spec(
        shared_path("fixtures", "polaris", "custom-elements.json"), shared_path("fixtures", "app-bridge", "index.d.ts")
    )
    html = page(client, sign_in, "/flows")
    assert len(order_rows(html)) == 5
    assert markup_problems(html, spec) == []
