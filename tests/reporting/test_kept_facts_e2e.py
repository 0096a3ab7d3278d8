"""The facts the report reads from its indexes stay true as the shop's data changes (migration
0023): signed webhooks over the real routes, the real worker and simulated time, then the report.

- A journey's conversion (journeys.conversion_days, recovery/conversion.py) follows the orders:
  a same-person order in the window converts it, a full refund takes that out, a later order
  outside the window converts only once the merchant widens the window.
- A journey's messages and credits keep its abandonment time: when the checkout is updated after
  a message went out, the journey, its sent message and its credited order move to the new day
  together."""

from __future__ import annotations

import json

from click.testing import CliRunner

from shop_app.cli.commands import main
from tests.recovery.test_holdout_flow import ABANDONED, abandon, pick, put_settings
from tests.reporting.test_measurement_e2e import FIRST_SEND, MONEY
from tests.support import ShopifyStore


def report(store: ShopifyStore, day: str) -> dict:
    result = CliRunner().invoke(main, ["report", "--shop", store.domain, "--from", day, "--to", day, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def order_by(store: ShopifyStore, order_id: int, at: str, **person) -> None:
    """orders/paid for no checkout of ours, 84.90 EUR, by `person`."""
    store.deliver("orders/paid", store.order(None, at, id=order_id, name=f"#{order_id}", **person, **MONEY))


def refund_in_full(store: ShopifyStore, order_id: int) -> None:
    payload = {
        "id": order_id * 10, "order_id": order_id, "created_at": "2026-03-09T10:00:00Z",
        "transactions": [{"id": order_id * 100, "kind": "refund", "status": "success", "amount": "84.90",
                          "currency": "EUR"}],
    }  # fmt: skip
    store.deliver("refunds/create", payload)


def test_a_control_journeys_conversion_follows_orders_refunds_and_the_window(rt, client, store):
    put_settings(rt, store, client, {"holdout_percent": 50})
    control = abandon(store, pick(rt, control_at=50, control=True, prefix="k"), ABANDONED)
    store.tick(FIRST_SEND)  # its first email would have gone now: the anchor
    assert report(store, "2026-03-02")["journeys"] == {"treated": 0, "control": 1}
    assert report(store, "2026-03-02")["control_conversion_rate"] == 0.0

    order_by(store, 7101, "2026-03-05T12:00:00+01:00", email=control["email"])  # 2 d 17 h later, same email
    assert report(store, "2026-03-02")["control_conversion_rate"] == 1.0
    refund_in_full(store, 7101)
    assert report(store, "2026-03-02")["control_conversion_rate"] == 0.0

    order_by(store, 7102, "2026-03-09T12:00:00+01:00", email=control["email"])  # 6 d 17 h: outside 5 days
    assert report(store, "2026-03-02")["control_conversion_rate"] == 0.0
    put_settings(rt, store, client, {"attribution_days": 7})
    assert report(store, "2026-03-02")["control_conversion_rate"] == 1.0


def test_a_journey_moved_by_its_checkout_takes_its_messages_and_credits_along(rt, client, store):
    put_settings(rt, store, client, {"holdout_percent": 0})
    treated = abandon(store, pick(rt, control_at=50, control=False, prefix="m"), ABANDONED)
    store.tick(FIRST_SEND)
    assert store.message(checkout_token=treated["token"], step="first", channel="email")["status"] == "sent"
    # The same customer (by their Shopify id alone) orders elsewhere: credited to the email, while the
    # journey goes on (the payment rule asks for the checkout, its email or its phone).
    customer = {**treated["customer"], "email": "other@example.com", "phone": None}
    order_by(store, 7201, "2026-03-02T22:00:00+01:00", customer=customer, email="other@example.com")
    before = report(store, "2026-03-02")
    assert (before["abandoned"], before["recovered"]) == (1, {"orders": 1, "revenue": "84.90"})

    # The shopper comes back the next morning and edits the cart: the checkout is abandoned again.
    store.deliver("checkouts/update", {**treated, "updated_at": "2026-03-03T10:00:00+01:00"})
    left, moved = report(store, "2026-03-02"), report(store, "2026-03-03")
    assert (left["abandoned"], left["by_step"], left["recovered"]) == (0, [], {"orders": 0, "revenue": "0.00"})
    assert (moved["abandoned"], moved["recovered"], moved["recovery_rate"]) == (
        1, {"orders": 1, "revenue": "84.90"}, 1.0
    )  # fmt: skip
    first = [s for s in moved["by_step"] if (s["step"], s["channel"]) == ("first", "email")]
    assert [(s["sent"], s["recovered_orders"]) for s in first] == [(1, 1)]
